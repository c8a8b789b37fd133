import { describe, expect, it } from 'vitest';
import { IdentityCredentials } from '../auth/IdentityCredentials.js';
import { TokenIssuer } from '../auth/TokenIssuer.js';
import { Admission, NodeFullError } from '../signaling/Admission.js';
import { MemorySpaceStore } from './MemorySpaceStore.js';
import { asSpaceId, displayNameKey, participantIdFor, type ParticipantId, type SpaceId } from './Space.js';
import type { SpaceLimits } from './SpaceLimits.js';
import { RetryLaterError, TribuneError } from '../errors.js';
import { SpaceService, type Actor, type SpaceServiceEvents } from './SpaceService.js';

const key = new TextEncoder().encode('t'.repeat(32));
const tokens = new TokenIssuer(key, { ttlS: 3600, maxSessionS: 86_400 });
const identities = new IdentityCredentials(key);

/** A live space with a host, and helpers to add people in each role. */
async function liveSpace(settings: { maxSpeakers?: number } = {}) {
	const store = new MemorySpaceStore();
	const service = new SpaceService({ store, tokens, identities, maxSpeakersLimit: 50, idKey: key });
	const events: { name: keyof SpaceServiceEvents; data: unknown }[] = [];
	for (const name of ['spaceState', 'roleChanged', 'handQueueChanged', 'muteChanged', 'pinnedChanged', 'participantRemoved', 'reaction', 'tokensRevoked'] as const) {
		service.on(name, (data: unknown) => events.push({ name, data }));
	}
	const created = await service.createSpace({ title: 'T', description: '', hostName: 'Hana', settings, owner: 'op:hana' });
	const spaceId = created.space.id;
	const host: Actor = { spaceId, participantId: created.host.id };
	await service.start(host);
	// Distinct names: nobody may join under the name of someone on stage.
	let people = 0;
	const listener = async (name = `L${++people}`): Promise<Actor> => ({ spaceId, participantId: (await service.join(spaceId, { displayName: name })).participant.id });
	const speaker = async (name = `S${++people}`): Promise<Actor> => {
		const a = await listener(name);
		await service.raiseHand(a);
		await service.approveHand(host, a.participantId);
		return a;
	};
	const cohost = async (name = `C${++people}`): Promise<Actor> => {
		const a = await speaker(name);
		await service.setCoHost(host, a.participantId, true);
		return a;
	};
	const role = async (a: Actor) => (await store.getParticipant(spaceId, a.participantId))?.role;
	return { store, service, spaceId, host, listener, speaker, cohost, role, events, hostToken: created.token };
}

describe('SpaceService: lifecycle', () => {
	it('creates a scheduled space whose host token verifies as the host', async () => {
		const store = new MemorySpaceStore();
		const service = new SpaceService({ store, tokens, identities, maxSpeakersLimit: 50, idKey: key });
		const { space, host, token } = await service.createSpace({ title: 'Hi', description: 'd', hostName: 'H', settings: { video: true }, owner: 'op:h' });
		expect(space).toMatchObject({ state: 'created', hostId: host.id, settings: { maxSpeakers: 13, video: true, captionMode: 'off', recording: false } });
		expect(await tokens.verify(token)).toMatchObject({ spaceId: space.id, participantId: host.id, role: 'host' });
	});

	it('refuses a stage larger than the configured limit', async () => {
		const service = new SpaceService({ store: new MemorySpaceStore(), tokens, identities, maxSpeakersLimit: 20, idKey: key });
		await expect(service.createSpace({ title: 'x', description: '', hostName: 'H', settings: { maxSpeakers: 21 }, owner: 'op:h' })).rejects.toMatchObject({ code: 'bad_request' });
	});

	it('goes created → live → ended, and not back', async () => {
		const s = await liveSpace();
		expect((await s.service.getSpace(s.spaceId)).state).toBe('live');
		await expect(s.service.start(s.host)).rejects.toMatchObject({ code: 'conflict' });
		expect((await s.service.end(s.host)).state).toBe('ended');
		await expect(s.service.end(s.host)).rejects.toMatchObject({ code: 'space_ended' });
		await expect(s.service.start(s.host)).rejects.toMatchObject({ code: 'conflict' });
		expect(s.events.filter((e) => e.name === 'spaceState')).toHaveLength(2);
	});

	it('end() by a co-host, a speaker or a listener is rejected', async () => {
		const s = await liveSpace();
		for (const a of [await s.cohost(), await s.speaker(), await s.listener()]) {
			await expect(s.service.end(a)).rejects.toMatchObject({ code: 'forbidden' });
		}
		expect((await s.service.getSpace(s.spaceId)).state).toBe('live');
	});

	it('join() of an ended space is rejected', async () => {
		const s = await liveSpace();
		await s.service.end(s.host);
		await expect(s.service.join(s.spaceId, { displayName: 'late' })).rejects.toMatchObject({ code: 'space_ended' });
	});

	it('join() with a previous token finds the same participant with their current role', async () => {
		const s = await liveSpace();
		const first = await s.service.join(s.spaceId, { displayName: 'L' });
		await s.service.raiseHand({ spaceId: s.spaceId, participantId: first.participant.id });
		await s.service.approveHand(s.host, first.participant.id);
		const again = await s.service.join(s.spaceId, { displayName: 'L', token: first.token });
		expect(again.participant).toMatchObject({ id: first.participant.id, role: 'speaker' });
		expect((await tokens.verify(again.token)).role).toBe('speaker');
	});

	it('join() with a stale speaker token of someone now in the audience is held to the audience cap', async () => {
		const store = new MemorySpaceStore();
		let full = false;
		const admission = new Admission({ maxAudience: 1 }, () => (full ? 1 : 0));
		const service = new SpaceService({ store, tokens, identities, maxSpeakersLimit: 50, idKey: key, admitJoin: (role) => admission.admitJoin(role) });
		const created = await service.createSpace({ title: 'T', description: '', hostName: 'H', settings: {}, owner: 'op:h' });
		const host: Actor = { spaceId: created.space.id, participantId: created.host.id };
		await service.start(host);
		const first = await service.join(host.spaceId, { displayName: 'L' });
		const me: Actor = { spaceId: host.spaceId, participantId: first.participant.id };
		await service.raiseHand(me);
		await service.approveHand(host, me.participantId);
		const { token: speakerToken } = await service.renewToken(me, await tokens.verify(first.token));
		expect((await tokens.verify(speakerToken)).role).toBe('speaker');
		full = true;
		// On stage now: let in although the node is full.
		expect((await service.join(host.spaceId, { displayName: 'L', token: speakerToken })).participant.role).toBe('speaker');
		await service.demote(host, me.participantId);
		await expect(service.join(host.spaceId, { displayName: 'L', token: speakerToken })).rejects.toBeInstanceOf(NodeFullError);
		// The host's own token still gets in.
		expect((await service.join(host.spaceId, { displayName: 'H', token: created.token })).participant.role).toBe('host');
	});
});

describe('SpaceService: request to speak', () => {
	it('approves raised hands into speakers, first raised first in the queue, with a new token', async () => {
		const s = await liveSpace();
		const [a, b] = [await s.listener('A'), await s.listener('B')];
		await s.service.raiseHand(b);
		await s.service.raiseHand(a);
		await s.service.raiseHand(b);
		expect((await s.service.view(s.host)).handQueue.map((p) => p.id)).toEqual([b.participantId, a.participantId]);
		await s.service.approveHand(s.host, a.participantId);
		expect(await s.role(a)).toBe('speaker');
		expect((await s.service.view(s.host)).handQueue.map((p) => p.id)).toEqual([b.participantId]);
		const changed = s.events.find((e) => e.name === 'roleChanged')?.data as SpaceServiceEvents['roleChanged'][0];
		expect(changed.participant.id).toBe(a.participantId);
		expect(changed).not.toHaveProperty('token');
	});

	it('approveHand() without a raised hand is rejected', async () => {
		const s = await liveSpace();
		const l = await s.listener();
		await expect(s.service.approveHand(s.host, l.participantId)).rejects.toMatchObject({ code: 'conflict' });
		expect(await s.role(l)).toBe('listener');
	});

	it('approveHand() after the listener lowered the hand is rejected', async () => {
		const s = await liveSpace();
		const l = await s.listener();
		await s.service.raiseHand(l);
		await s.service.lowerHand(l);
		await expect(s.service.approveHand(s.host, l.participantId)).rejects.toMatchObject({ code: 'conflict' });
	});

	it('approveHand() by a speaker or a listener is rejected', async () => {
		const s = await liveSpace();
		const l = await s.listener();
		await s.service.raiseHand(l);
		for (const a of [await s.speaker(), await s.listener('other')]) {
			await expect(s.service.approveHand(a, l.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		}
		expect(await s.role(l)).toBe('listener');
	});

	it('a co-host may approve and deny hands; a denied hand leaves the queue', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		const [a, b] = [await s.listener('A'), await s.listener('B')];
		await s.service.raiseHand(a);
		await s.service.raiseHand(b);
		await s.service.approveHand(c, a.participantId);
		await s.service.denyHand(c, b.participantId);
		expect(await s.role(a)).toBe('speaker');
		expect(await s.role(b)).toBe('listener');
		expect((await s.service.view(s.host)).handQueue).toEqual([]);
		await expect(s.service.denyHand(c, b.participantId)).rejects.toMatchObject({ code: 'conflict' });
	});

	it('approveHand() when the stage is full is rejected and the hand stays raised', async () => {
		const s = await liveSpace({ maxSpeakers: 2 });
		await s.speaker();
		const l = await s.listener();
		await s.service.raiseHand(l);
		await expect(s.service.approveHand(s.host, l.participantId)).rejects.toMatchObject({ code: 'stage_full' });
		expect((await s.service.view(s.host)).handQueue.map((p) => p.id)).toEqual([l.participantId]);
	});

	it('raiseHand() by a speaker is rejected; a listener sees no queue', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await expect(s.service.raiseHand(sp)).rejects.toMatchObject({ code: 'forbidden' });
		const l = await s.listener();
		await s.service.raiseHand(l);
		const view = await s.service.view(l);
		expect(view.handQueue).toEqual([]);
		expect(view.handRaised).toBe(true);
	});

	it('a speaker may leave the stage; leaving unpins and unmutes them', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await s.service.pin(s.host, sp.participantId);
		await s.service.mute(s.host, sp.participantId);
		await s.service.leaveStage(sp);
		expect(await s.store.getParticipant(s.spaceId, sp.participantId)).toMatchObject({ role: 'listener', mute: 'none' });
		expect(await s.store.pinned(s.spaceId)).toEqual([]);
		expect(s.events.at(-1)).toEqual({ name: 'pinnedChanged', data: { spaceId: s.spaceId, pinned: [] } });
	});

	it('leaveStage() by the host or a listener is rejected', async () => {
		const s = await liveSpace();
		await expect(s.service.leaveStage(s.host)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.leaveStage(await s.listener())).rejects.toMatchObject({ code: 'forbidden' });
	});
});

describe('SpaceService: moderation by rank', () => {
	it('a co-host demotes a speaker but not another co-host or the host', async () => {
		const s = await liveSpace();
		const [c1, c2, sp] = [await s.cohost('C1'), await s.cohost('C2'), await s.speaker()];
		await s.service.demote(c1, sp.participantId);
		expect(await s.role(sp)).toBe('listener');
		await expect(s.service.demote(c1, c2.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.demote(c1, s.host.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		expect(await s.role(c2)).toBe('cohost');
	});

	it('the host demotes a co-host to the audience', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		await s.service.demote(s.host, c.participantId);
		expect(await s.role(c)).toBe('listener');
	});

	it('demote() of a listener is rejected', async () => {
		const s = await liveSpace();
		await expect(s.service.demote(s.host, (await s.listener()).participantId)).rejects.toMatchObject({ code: 'conflict' });
	});

	it('a third co-host is rejected', async () => {
		const s = await liveSpace();
		await s.cohost('C1');
		await s.cohost('C2');
		const sp = await s.speaker();
		await expect(s.service.setCoHost(s.host, sp.participantId, true)).rejects.toMatchObject({ code: 'stage_full' });
		expect(await s.role(sp)).toBe('speaker');
	});

	it('setCoHost() by a co-host, or of a listener, is rejected', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		const sp = await s.speaker();
		await expect(s.service.setCoHost(c, sp.participantId, true)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.setCoHost(s.host, (await s.listener()).participantId, true)).rejects.toMatchObject({ code: 'conflict' });
		await s.service.setCoHost(s.host, c.participantId, false);
		expect(await s.role(c)).toBe('speaker');
	});

	it('remove() of the host by a co-host is rejected', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		await expect(s.service.remove(c, s.host.participantId, true)).rejects.toMatchObject({ code: 'forbidden' });
		expect(await s.role(s.host)).toBe('host');
	});

	it('remove() by a speaker is rejected', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		const l = await s.listener();
		await expect(s.service.remove(sp, l.participantId, false)).rejects.toMatchObject({ code: 'forbidden' });
		expect(await s.role(l)).toBe('listener');
	});

	it('a removed and banned listener cannot rejoin with their token, act, or authenticate', async () => {
		const s = await liveSpace();
		const joined = await s.service.join(s.spaceId, { displayName: 'troll' });
		const troll: Actor = { spaceId: s.spaceId, participantId: joined.participant.id };
		await s.service.raiseHand(troll);
		await s.service.remove(s.host, troll.participantId, true);
		await expect(s.service.join(s.spaceId, { displayName: 'troll again', token: joined.token })).rejects.toMatchObject({ code: 'banned' });
		await expect(s.service.authenticate(joined.token)).rejects.toMatchObject({ code: 'banned' });
		await expect(s.service.raiseHand(troll)).rejects.toMatchObject({ code: 'unauthorized' });
		expect((await s.service.view(s.host)).handQueue).toEqual([]);
		expect(s.events.some((e) => e.name === 'participantRemoved')).toBe(true);
	});

	it('a removed but not banned listener may rejoin as a new listener', async () => {
		const s = await liveSpace();
		const joined = await s.service.join(s.spaceId, { displayName: 'L' });
		await s.service.remove(s.host, joined.participant.id, false);
		await expect(s.service.authenticate(joined.token)).rejects.toMatchObject({ code: 'unauthorized' });
		expect((await s.service.join(s.spaceId, { displayName: 'L', token: joined.token })).participant).toMatchObject({ id: joined.participant.id, role: 'listener' });
	});
});

describe('SpaceService: more transitions', () => {
	it('a co-host may leave the stage and becomes a listener', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		await s.service.leaveStage(c);
		expect(await s.role(c)).toBe('listener');
	});

	it('demote(), mute() and remove() of yourself are rejected', async () => {
		const s = await liveSpace();
		await expect(s.service.demote(s.host, s.host.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.remove(s.host, s.host.participantId, true)).rejects.toMatchObject({ code: 'forbidden' });
		const c = await s.cohost();
		await expect(s.service.demote(c, c.participantId)).rejects.toMatchObject({ code: 'forbidden' });
	});

	it('raiseHand() and approveHand() after the space ended are rejected', async () => {
		const s = await liveSpace();
		const l = await s.listener();
		await s.service.raiseHand(l);
		await s.service.end(s.host);
		await expect(s.service.approveHand(s.host, l.participantId)).rejects.toMatchObject({ code: 'space_ended' });
		await expect(s.service.raiseHand(l)).rejects.toMatchObject({ code: 'space_ended' });
	});

	it('a demoted speaker may raise a hand again and be approved again', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await s.service.demote(s.host, sp.participantId);
		await s.service.raiseHand(sp);
		await s.service.approveHand(s.host, sp.participantId);
		expect(await s.role(sp)).toBe('speaker');
	});

	it('addSyntheticSpeaker() by a speaker is rejected; on a full stage it leaves no trace', async () => {
		const s = await liveSpace({ maxSpeakers: 2 });
		const sp = await s.speaker();
		await expect(s.service.addSyntheticSpeaker(sp, 'Robot')).rejects.toMatchObject({ code: 'forbidden' });
		const before = await s.store.countParticipants(s.spaceId);
		await expect(s.service.addSyntheticSpeaker(s.host, 'Robot')).rejects.toMatchObject({ code: 'stage_full' });
		expect(await s.store.countParticipants(s.spaceId)).toBe(before);
	});

	it('addSyntheticSpeaker() by a co-host puts a named speaker on stage', async () => {
		const s = await liveSpace();
		const c = await s.cohost();
		const robot = await s.service.addSyntheticSpeaker(c, 'Robot');
		expect(robot).toMatchObject({ displayName: 'Robot', role: 'speaker' });
		expect((await s.store.listStage(s.spaceId)).map((p) => p.displayName)).toContain('Robot');
	});
});

describe('SpaceService: mute', () => {
	it('a speaker muted by a host cannot unmute themselves; a co-host can', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		const c = await s.cohost();
		expect((await s.service.mute(s.host, sp.participantId)).mute).toBe('moderator');
		await expect(s.service.unmute(sp, sp.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		expect((await s.service.unmute(c, sp.participantId)).mute).toBe('none');
	});

	it('a speaker who muted themselves unmutes themselves, and a host cannot unmute them', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await s.service.mute(sp, sp.participantId);
		await expect(s.service.unmute(s.host, sp.participantId)).rejects.toMatchObject({ code: 'conflict' });
		expect((await s.service.unmute(sp, sp.participantId)).mute).toBe('none');
	});

	it('a host mute overrides a self mute, so the speaker can no longer lift it', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await s.service.mute(sp, sp.participantId);
		await s.service.mute(s.host, sp.participantId);
		await expect(s.service.unmute(sp, sp.participantId)).rejects.toMatchObject({ code: 'forbidden' });
	});

	it('mute() of another speaker by a speaker, or of the host by a co-host, is rejected', async () => {
		const s = await liveSpace();
		const [a, b, c] = [await s.speaker('A'), await s.speaker('B'), await s.cohost()];
		await expect(s.service.mute(a, b.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.mute(c, s.host.participantId)).rejects.toMatchObject({ code: 'forbidden' });
	});

	it('mute() by a listener, even of themselves, is rejected', async () => {
		const s = await liveSpace();
		const l = await s.listener();
		await expect(s.service.mute(l, l.participantId)).rejects.toMatchObject({ code: 'forbidden' });
	});
});

describe('SpaceService: pins and reactions', () => {
	it('pins, reorders and unpins speakers in the order a host sets', async () => {
		const s = await liveSpace();
		const [a, b] = [await s.speaker('A'), await s.speaker('B')];
		await s.service.pin(s.host, a.participantId);
		expect(await s.service.pin(s.host, b.participantId)).toEqual([a.participantId, b.participantId]);
		expect(await s.service.reorderPins(s.host, [b.participantId, a.participantId])).toEqual([b.participantId, a.participantId]);
		expect(await s.service.unpin(s.host, b.participantId)).toEqual([a.participantId]);
	});

	it('pin() by a speaker is rejected', async () => {
		const s = await liveSpace();
		const sp = await s.speaker();
		await expect(s.service.pin(sp, sp.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		expect(await s.store.pinned(s.spaceId)).toEqual([]);
	});

	it('pin() of a listener is rejected', async () => {
		const s = await liveSpace();
		await expect(s.service.pin(s.host, (await s.listener()).participantId)).rejects.toMatchObject({ code: 'conflict' });
	});

	it('reorderPins() with a missing, extra or repeated id is rejected', async () => {
		const s = await liveSpace();
		const [a, b] = [await s.speaker('A'), await s.speaker('B')];
		await s.service.pin(s.host, a.participantId);
		await s.service.pin(s.host, b.participantId);
		for (const order of [[a.participantId], [a.participantId, b.participantId, s.host.participantId], [a.participantId, a.participantId]]) {
			await expect(s.service.reorderPins(s.host, order)).rejects.toMatchObject({ code: 'conflict' });
		}
		expect(await s.store.pinned(s.spaceId)).toEqual([a.participantId, b.participantId]);
	});

	it('a listener may react; someone not in the space may not', async () => {
		const s = await liveSpace();
		await s.service.react(await s.listener(), 'clap');
		expect(s.events.at(-1)?.name).toBe('reaction');
		await expect(s.service.react({ spaceId: s.spaceId, participantId: 'nobody' as ParticipantId }, 'clap')).rejects.toMatchObject({ code: 'unauthorized' });
	});
});

describe('SpaceService: caption mode', () => {
	it('a host or co-host changes the caption mode while live, announced once per change', async () => {
		const s = await liveSpace();
		const changes: unknown[] = [];
		s.service.on('settingsChanged', ({ space }) => changes.push(space.settings.captionMode));
		expect((await s.service.setCaptionMode(s.host, 'both')).settings.captionMode).toBe('both');
		const c = await s.cohost();
		expect((await s.service.setCaptionMode(c, 'sidecar')).settings.captionMode).toBe('sidecar');
		await s.service.setCaptionMode(c, 'sidecar');
		expect(changes).toEqual(['both', 'sidecar']);
		expect((await s.service.getSpace(s.spaceId)).settings.captionMode).toBe('sidecar');
	});

	it('setCaptionMode() by a speaker or a listener, or after the space ended, is rejected', async () => {
		const s = await liveSpace();
		await expect(s.service.setCaptionMode(await s.speaker(), 'both')).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.setCaptionMode(await s.listener(), 'both')).rejects.toMatchObject({ code: 'forbidden' });
		await s.service.end(s.host);
		await expect(s.service.setCaptionMode(s.host, 'both')).rejects.toMatchObject({ code: 'space_ended' });
		expect((await s.service.getSpace(s.spaceId)).settings.captionMode).toBe('off');
	});
});

describe('SpaceService: tokens', () => {
	it('revokeTokens() by the host refuses every token of that participant, removes them unbanned, and says so', async () => {
		const s = await liveSpace();
		const first = await s.service.join(s.spaceId, { displayName: 'L' });
		const me: Actor = { spaceId: s.spaceId, participantId: first.participant.id };
		const renewed = await s.service.renewToken(me, await tokens.verify(first.token));
		await s.service.revokeTokens(s.host, me.participantId);
		for (const token of [first.token, renewed.token]) {
			await expect(s.service.authenticate(token)).rejects.toMatchObject({ code: 'unauthorized', message: 'token revoked' });
			await expect(s.service.join(s.spaceId, { displayName: 'L', token: token })).rejects.toMatchObject({ code: 'unauthorized' });
		}
		expect(await s.store.getParticipant(s.spaceId, me.participantId)).toBeUndefined();
		expect(s.events.filter((e) => e.name === 'participantRemoved').map((e) => e.data)).toMatchObject([{ banned: false }]);
		// Not banned: a new visit from the share link is someone new.
		const again = await s.service.join(s.spaceId, { displayName: 'L' });
		expect(again.participant.id).not.toBe(me.participantId);
	});

	it('revokeTokens() follows the rank rule: a co-host cannot revoke the host, a speaker nobody', async () => {
		const s = await liveSpace();
		const [c, sp, l] = [await s.cohost(), await s.speaker(), await s.listener()];
		await expect(s.service.revokeTokens(c, s.host.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.revokeTokens(sp, l.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await expect(s.service.revokeTokens(s.host, s.host.participantId)).rejects.toMatchObject({ code: 'forbidden' });
		await s.service.revokeTokens(c, sp.participantId);
		expect(await s.role(sp)).toBeUndefined();
	});

	it('rotateToken() gives the host a new token and refuses the old ones; the role and session carry on', async () => {
		const s = await liveSpace();
		const before = await tokens.verify(s.hostToken);
		const rotated = await s.service.rotateToken(s.host, before, before.tokenId);
		await expect(s.service.authenticate(s.hostToken)).rejects.toMatchObject({ code: 'unauthorized' });
		const after = await s.service.authenticate(rotated.token);
		expect(after.participant.role).toBe('host');
		expect(after.claims).toMatchObject({ generation: 1, sessionStartedAt: before.sessionStartedAt });
		expect(s.events.filter((e) => e.name === 'tokensRevoked').map((e) => e.data)).toEqual([{ spaceId: s.spaceId, participantId: s.host.participantId, generation: 1, reason: 'rotated', keepTokenId: before.tokenId }]);
	});

	it('renewToken() and rotateToken() with a generation the store moved past are refused as revoked, changing nothing', async () => {
		const s = await liveSpace();
		const session = await tokens.verify(s.hostToken);
		// As if the revocation's event never reached the node holding the connection: only the store knows.
		await s.store.revokeTokens(s.spaceId, s.host.participantId, 3600);
		await expect(s.service.renewToken(s.host, session)).rejects.toMatchObject({ code: 'unauthorized', reason: 'revoked' });
		await expect(s.service.rotateToken(s.host, session, session.tokenId)).rejects.toMatchObject({ code: 'unauthorized', reason: 'revoked' });
		expect((await s.store.readAuth(s.spaceId, s.host.participantId)).tokenGeneration).toBe(1);
		expect(s.events.filter((e) => e.name === 'tokensRevoked')).toEqual([]);
	});

	it('renewToken() past the maximum session age is refused', async () => {
		let now = Date.now();
		const clocked = new TokenIssuer(new TextEncoder().encode('t'.repeat(32)), { ttlS: 600, maxSessionS: 900 }, () => now);
		const service = new SpaceService({ store: new MemorySpaceStore(), tokens: clocked, identities, maxSpeakersLimit: 50, idKey: key });
		const created = await service.createSpace({ title: 'T', description: '', hostName: 'H', settings: {}, owner: 'op:h' });
		const host: Actor = { spaceId: created.space.id, participantId: created.host.id };
		const session = await clocked.verify(created.token);
		now += 500_000;
		const renewed = await service.renewToken(host, session);
		expect(renewed.claims.expiresAt).toBe(session.sessionStartedAt + 900);
		now += 400_000;
		await expect(service.renewToken(host, session)).rejects.toMatchObject({ code: 'unauthorized', reason: 'session_expired' });
		await expect(service.join(host.spaceId, { displayName: 'H', token: renewed.token })).rejects.toMatchObject({ code: 'unauthorized' });
	});
});

describe('SpaceService: identities', () => {
	it('a participant is their identity in the space: the same credential finds them again, a ban of the id holds for it', async () => {
		const s = await liveSpace();
		const first = await s.service.join(s.spaceId, { displayName: 'Lee' });
		const identity = await identities.verify(first.identity!);
		expect(first.participant).toMatchObject({ id: participantIdFor(key, s.spaceId, identity), identity });
		expect(await tokens.verify(first.token)).toMatchObject({ identity, participantId: first.participant.id });
		const again = await s.service.join(s.spaceId, { displayName: 'Lee', identity: first.identity });
		expect(again.participant.id).toBe(first.participant.id);
		await s.service.remove(s.host, first.participant.id, true);
		await expect(s.service.join(s.spaceId, { displayName: 'Lee', identity: again.identity })).rejects.toMatchObject({ code: 'banned' });
		// Elsewhere the identity is someone else, and not banned.
		const other = await liveSpace();
		expect((await other.service.join(other.spaceId, { displayName: 'Lee', identity: first.identity })).participant.id).not.toBe(first.participant.id);
	});

	it('a rejoin without a token gets a token of the current generation: one revoked before still rejoins by identity', async () => {
		const s = await liveSpace();
		const first = await s.service.join(s.spaceId, { displayName: 'Lee' });
		await s.service.revokeTokens(s.host, first.participant.id);
		await expect(s.service.join(s.spaceId, { displayName: 'Lee', token: first.token })).rejects.toMatchObject({ code: 'unauthorized' });
		const back = await s.service.join(s.spaceId, { displayName: 'Lee', identity: first.identity });
		expect(back.participant.id).toBe(first.participant.id);
		expect((await s.service.verifyToken(back.token)).claims.generation).toBe(1);
	});

	it('a host credential joins as the host identity it names, without an identity credential in the reply', async () => {
		const store = new MemorySpaceStore();
		const verifyHostCredential = async (credential: string) => {
			if (credential !== 'good-host-credential') throw new TribuneError('unauthorized', 'invalid host credential');
			return { identity: 'host:studio-b' };
		};
		const service = new SpaceService({ store, tokens, identities, maxSpeakersLimit: 50, idKey: key, verifyHostCredential });
		const creator = await service.creatorFor({ hostCredential: 'good-host-credential' });
		expect(creator).toEqual({ identity: 'host:studio-b' });
		await expect(service.creatorFor({ hostCredential: 'bad' })).rejects.toMatchObject({ code: 'unauthorized' });
		const created = await service.createSpace({ title: 'T', description: '', hostName: 'Studio B', settings: {}, owner: creator.identity });
		// The host on another device: their credential finds the host participant, role and all.
		const joined = await service.join(created.space.id, { displayName: 'Studio B', identity: 'good-host-credential' });
		expect(joined).toMatchObject({ participant: { id: created.host.id, role: 'host' } });
		expect(joined.identity).toBeUndefined();
		// A bad one is no identity at all: someone new, anonymous.
		const stranger = await service.join(created.space.id, { displayName: 'Stranger', identity: 'bad' });
		expect(stranger.participant.role).toBe('listener');
		expect(await identities.verify(stranger.identity!)).toMatch(/^anon:/);
	});

	it('creating a space needs a host credential unless hosting is open; open, the creator is an anonymous identity', async () => {
		const closed = new SpaceService({ store: new MemorySpaceStore(), tokens, identities, maxSpeakersLimit: 50, idKey: key });
		await expect(closed.creatorFor({})).rejects.toMatchObject({ code: 'host_required', status: 401 });
		await expect(closed.creatorFor({ hostCredential: 'anything' })).rejects.toMatchObject({ code: 'unauthorized' });
		const open = new SpaceService({ store: new MemorySpaceStore(), tokens, identities, maxSpeakersLimit: 50, idKey: key, openHosting: true });
		const creator = await open.creatorFor({});
		expect(await identities.verify(creator.credential!)).toBe(creator.identity);
		expect((await open.creatorFor({ identity: creator.credential })).identity).toBe(creator.identity);
		expect((await open.creatorFor({ identity: 'forged' })).identity).not.toBe(creator.identity);
	});

	it('refuses a display name of someone on stage (NFKC, case, spacing), not of a listener; the one on stage keeps theirs', async () => {
		const s = await liveSpace();
		const sam = await s.speaker('Sam Speaker');
		for (const name of ['Hana', 'HANA', ' hana ', 'Ｈａｎａ', 'sam  speaker', 'SAM SPEAKER']) {
			await expect(s.service.join(s.spaceId, { displayName: name }), name).rejects.toMatchObject({ code: 'name_taken' });
		}
		await s.listener('Lee');
		await s.listener('lee');
		await s.service.leaveStage(sam);
		await s.listener('Sam Speaker');
		expect(displayNameKey('Straße  Ｘ')).toBe(displayNameKey('STRASSE x'));
	});

	it('compares names with invisible code points dropped and blank-looking letters as spaces', async () => {
		const s = await liveSpace();
		for (const name of ['Hana\u200b', 'Ha\u00adna', '\u2060Hana', 'Hana\ufe0f', 'Ha\u{e0041}na']) {
			await expect(s.service.join(s.spaceId, { displayName: name }), JSON.stringify(name)).rejects.toMatchObject({ code: 'name_taken' });
		}
		await s.speaker('Sam Speaker');
		for (const blank of ['\u3164', '\u2800', '\u115f', '\u1160', '\uffa0']) {
			await expect(s.service.join(s.spaceId, { displayName: `Sam${blank}Speaker` }), JSON.stringify(blank)).rejects.toMatchObject({ code: 'name_taken' });
		}
	});

	it('a listener who joined under the name of someone since on stage is refused the stage (name_taken), by a host and by the server API', async () => {
		const s = await liveSpace();
		const early = await s.listener('Robin');
		await s.service.raiseHand(early);
		await s.speaker('ROBIN');
		await expect(s.service.approveHand(s.host, early.participantId)).rejects.toMatchObject({ code: 'name_taken' });
		expect(await s.role(early)).toBe('listener');
		await expect(s.service.issueFor(s.spaceId, { identity: 'op:robin', displayName: 'robin', role: 'speaker' })).rejects.toMatchObject({ code: 'name_taken' });
		expect((await s.service.issueFor(s.spaceId, { identity: 'op:robin2', displayName: 'Robin Two', role: 'speaker' })).participant.role).toBe('speaker');
	});

	it('synthetic speakers get synthetic identities', async () => {
		const s = await liveSpace();
		const robot = await s.service.addSyntheticSpeaker(s.host, 'Robot');
		expect(robot.identity).toMatch(/^synthetic:/);
		expect(robot.id).toBe(participantIdFor(key, s.spaceId, robot.identity));
	});
});

describe('SpaceService: limits', () => {
	async function limited(limits: Partial<SpaceLimits>, now = { ms: 1_795_000_000_000 }) {
		const store = new MemorySpaceStore({ now: () => now.ms });
		const service = new SpaceService({ store, tokens, identities, maxSpeakersLimit: 50, idKey: key, limits, addressTag: (address) => `tag-${address}`, now: () => now.ms });
		const create = (owner: string, address?: string) => service.createSpace({ title: 'T', description: '', hostName: 'H', settings: {}, owner, ...(address !== undefined && { address }) });
		return { store, service, create, now };
	}

	it('an operator ban with the address says whether there was one: a record the server API made has none', async () => {
		const { service, create, store } = await limited({});
		const { space } = await create('op:hana', '192.0.2.1');
		const issued = await service.issueFor(space.id, { identity: 'op:bob', displayName: 'Bob', role: 'listener' });
		// Marked as a join is, so a record nobody connects with idles out.
		expect(await store.oldestPresenceAgeMs(space.id)).toBeDefined();
		expect(await service.ban(space.id, issued.participant.id, { address: true })).toEqual({ address: false });
		const joined = await service.join(space.id, { displayName: 'Lee', address: '198.51.100.1' });
		expect(await service.ban(space.id, joined.participant.id, { address: true })).toEqual({ address: true });
		expect(await service.ban(space.id, service.participantIdOf(space.id, 'op:never'), { address: true })).toEqual({ address: false });
		await expect(service.join(space.id, { displayName: 'Lee again', address: '198.51.100.1' })).rejects.toMatchObject({ code: 'banned' });
	});

	it('creations per minute per address and per identity, refused rate_limited with a Retry-After; operator subjects only by address', async () => {
		const { create, now } = await limited({ createsPerMinPerAddress: 3, createsPerMinPerIdentity: 2 });
		await create('anon:AAAAAAAAAAAAAAAAAAAAAA', '192.0.2.1');
		await create('anon:AAAAAAAAAAAAAAAAAAAAAA', '192.0.2.2');
		const byIdentity = await create('anon:AAAAAAAAAAAAAAAAAAAAAA', '192.0.2.3').catch((error: unknown) => error);
		expect(byIdentity).toMatchObject({ code: 'rate_limited', status: 429, retryAfterS: 30 });
		await create('anon:BBBBBBBBBBBBBBBBBBBBBB', '192.0.2.1');
		await create('anon:CCCCCCCCCCCCCCCCCCCCCC', '192.0.2.1');
		await expect(create('anon:DDDDDDDDDDDDDDDDDDDDDD', '192.0.2.1')).rejects.toBeInstanceOf(RetryLaterError);
		for (let i = 0; i < 5; i++) await create('op:integrator');
		now.ms += 20_000;
		await create('anon:DDDDDDDDDDDDDDDDDDDDDD', '192.0.2.1');
	});

	it('live spaces per cluster (capacity, Retry-After 60) and per owner (limit_reached); ending one makes room', async () => {
		const { service, create } = await limited({ liveSpacesMax: 2, liveSpacesPerHost: 1 });
		const [a1, a2, b1, c1] = [await create('op:a'), await create('op:a'), await create('op:b'), await create('op:c')];
		const actor = (c: { space: { id: SpaceId }; host: { id: ParticipantId } }): Actor => ({ spaceId: c.space.id, participantId: c.host.id });
		await service.start(actor(a1));
		await expect(service.start(actor(a2))).rejects.toMatchObject({ code: 'limit_reached', status: 429 });
		await service.start(actor(b1));
		await expect(service.start(actor(c1))).rejects.toMatchObject({ code: 'capacity', status: 503, retryAfterS: 60 });
		await service.endSpace(a1.space.id);
		await expect(service.endSpace(a1.space.id)).rejects.toMatchObject({ code: 'space_ended' });
		await service.start(actor(c1));
	});

	it('participants per space (space_full) and raised hands per space (hand_queue_full)', async () => {
		const { service, create } = await limited({ maxParticipants: 3, maxHands: 1 });
		const created = await create('op:a');
		const one = await service.join(created.space.id, { displayName: 'One' });
		const two = await service.join(created.space.id, { displayName: 'Two' });
		await expect(service.join(created.space.id, { displayName: 'Three' })).rejects.toMatchObject({ code: 'space_full', status: 503 });
		expect((await service.join(created.space.id, { displayName: 'One', token: one.token })).participant.id).toBe(one.participant.id);
		await service.raiseHand({ spaceId: created.space.id, participantId: one.participant.id });
		await expect(service.raiseHand({ spaceId: created.space.id, participantId: two.participant.id })).rejects.toMatchObject({ code: 'hand_queue_full', status: 409 });
	});
});

describe('SpaceService: the operator', () => {
	it('issues tokens for identities in a role, host only for the host; bans and unbans identities, present or not; lists', async () => {
		const s = await liveSpace();
		const alice = await s.service.issueFor(s.spaceId, { identity: 'op:alice', displayName: 'Alice', role: 'cohost' });
		expect(alice.participant).toMatchObject({ role: 'cohost', identity: 'op:alice' });
		expect((await s.service.issueFor(s.spaceId, { identity: 'op:alice', displayName: 'Alice', role: 'listener' })).participant.role).toBe('listener');
		expect((await s.service.issueFor(s.spaceId, { identity: 'op:hana', displayName: 'Hana', role: 'host' })).participant.id).toBe(s.host.participantId);
		await expect(s.service.issueFor(s.spaceId, { identity: 'op:bob', displayName: 'Bob', role: 'host' })).rejects.toMatchObject({ code: 'forbidden' });
		const bobId = participantIdFor(key, s.spaceId, 'op:bob');
		await s.service.ban(s.spaceId, bobId, { address: false });
		await expect(s.service.issueFor(s.spaceId, { identity: 'op:bob', displayName: 'Bob', role: 'listener' })).rejects.toMatchObject({ code: 'banned' });
		await s.service.ban(s.spaceId, alice.participant.id, { address: true });
		expect(s.events.filter((e) => e.name === 'participantRemoved')).toHaveLength(1);
		expect(await s.service.unban(s.spaceId, bobId)).toBe(true);
		await s.service.issueFor(s.spaceId, { identity: 'op:bob', displayName: 'Bob', role: 'listener' });
		const page = await s.service.listParticipants(s.spaceId, { limit: 500 });
		expect(page.items.map((p) => p.identity).sort()).toEqual(['op:bob', 'op:hana']);
		expect((await s.service.listSpaces({ state: 'live', limit: 10 })).items.map((sp) => sp.id)).toEqual([s.spaceId]);
		await expect(s.service.ban(asSpaceId('nope'), bobId, { address: false })).rejects.toMatchObject({ code: 'not_found' });
	});
});
