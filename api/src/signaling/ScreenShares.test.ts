import { TypedEmitter, type ScreenShare, type ShareEndReason, type Stage, type StageEvents, type StageRegistry } from '@tribune/ingest';
import { describe, expect, it } from 'vitest';
import type { Role, SpaceId } from '../spaces/Space.js';
import type { EventData } from './protocol.js';
import { mayReplaceShare, ScreenShares } from './ScreenShares.js';

/** Just what ScreenShares uses of a stage: its events, its share, its peers' grants. */
class FakeStage extends TypedEmitter<StageEvents> {
	readonly spaceId = 'space';
	share: ScreenShare | undefined;
	readonly grants = new Map<string, unknown>();
	emit<K extends keyof StageEvents & string>(event: K, ...args: StageEvents[K]): void {
		this.safeEmit(event, ...args);
	}
	stopShare(reason: ShareEndReason): ScreenShare | undefined {
		const share = this.share;
		this.share = undefined;
		if (share) this.emit('shareended', share, reason);
		return share;
	}
	get peers() {
		return [...this.grants.keys()].map((id) => ({ id, setGrants: (g: unknown) => this.grants.set(id, g) }));
	}
}

const space = 'space' as SpaceId;

function setUp(roles: Record<string, Role> = {}) {
	const stage = new FakeStage();
	for (const id of Object.keys(roles)) stage.grants.set(id, undefined);
	const sent: EventData['screenShare'][] = [];
	const relayed: EventData['screenShare'][] = [];
	const shares = new ScreenShares({
		broadcast: (_spaceId, data) => sent.push(data),
		relay: (_spaceId, data) => relayed.push(data),
		stageRoles: () => new Map(Object.entries(roles)),
		video: async () => true,
	});
	const stages = { get: () => stage as unknown as Stage } as unknown as StageRegistry;
	shares.watch(stage as unknown as Stage);
	return { stage, sent, relayed, shares, stages };
}

const share = (peerId: string, videoProducerId = `${peerId}-screen`): ScreenShare => ({ peerId, videoProducerId, startedAt: 1 });

describe('mayReplaceShare()', () => {
	it('lets a host or co-host take the screen from anyone, a speaker only from a speaker', () => {
		expect(mayReplaceShare('cohost', 'host')).toBe(true);
		expect(mayReplaceShare('host', 'speaker')).toBe(true);
		expect(mayReplaceShare('speaker', 'speaker')).toBe(true);
		expect(mayReplaceShare('speaker', 'cohost')).toBe(false);
		expect(mayReplaceShare('speaker', 'host')).toBe(false);
	});
});

describe('ScreenShares', () => {
	it('tells the space and the other nodes when a share starts and ends, and keeps it for getState', () => {
		const { stage, sent, relayed, shares } = setUp();
		stage.share = share('a');
		stage.emit('sharechanged', stage.share);
		expect(shares.state(space).share).toMatchObject({ participantId: 'a', producerId: 'a-screen', audio: false });
		stage.stopShare('stopped_by_moderator');
		expect(shares.state(space).share).toBeNull();
		expect(sent.at(-1)).toEqual({ share: null, speakersMayShare: true, ended: { participantId: 'a', reason: 'stopped_by_moderator' } });
		expect(relayed).toEqual(sent);
	});

	it('keeps a replacement that started before the replaced share said it ended', () => {
		const { stage, shares } = setUp();
		stage.emit('sharechanged', share('b'));
		stage.emit('shareended', share('a'), 'replaced');
		expect(shares.state(space).share?.participantId).toBe('b');
	});

	it('turning "speakers may share" off ends a speaker\'s share, not a co-host\'s, and narrows the grants', async () => {
		const { stage, sent, shares, stages } = setUp({ s: 'speaker', c: 'cohost' });
		stage.share = share('s');
		await shares.setPolicy(space, stages, false);
		expect(stage.share).toBeUndefined();
		expect(sent.find((e) => e.ended)?.ended).toEqual({ participantId: 's', reason: 'not_allowed' });
		expect(stage.grants.get('s')).toMatchObject({ screen: false });
		expect(stage.grants.get('c')).toMatchObject({ screen: true });
		expect(shares.policy(space)).toEqual({ speakersMayShare: false });
	});

	it('a demotion to the audience ends the sharer\'s share as a demotion', () => {
		const { stage, sent, shares } = setUp();
		stage.share = share('s');
		shares.roleChanged(space, stage as unknown as Stage, 's', 'listener', true);
		expect(sent.at(-1)?.ended).toEqual({ participantId: 's', reason: 'demoted' });
		stage.share = share('c');
		shares.roleChanged(space, stage as unknown as Stage, 'c', 'speaker', true);
		expect(stage.share?.peerId).toBe('c');
	});

	it('a node without the stage takes the share and the switch from the relay', async () => {
		const { sent, shares } = setUp();
		const noStage = { get: () => undefined } as unknown as StageRegistry;
		await shares.fromRelay(space, { share: { participantId: 'x', producerId: 'p', audio: true, startedAt: 2 }, speakersMayShare: false }, noStage);
		expect(shares.state(space)).toEqual({ share: { participantId: 'x', producerId: 'p', audio: true, startedAt: 2 }, speakersMayShare: false });
		expect(sent.at(-1)?.share?.participantId).toBe('x');
	});
});
