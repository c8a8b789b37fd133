import { describe, expect, it } from 'vitest';
import { relayedEventSchemas } from './ClusterRelay.js';

const lee = { id: 'lee123', identity: 'anon:x', displayName: 'Lee', role: 'listener', mute: 'none', joinedAt: 1 };

describe('relayedEventSchemas', () => {
	it('takes a hand change from another node and keeps only what clients may see of the participant', () => {
		const parsed = relayedEventSchemas.handQueueChanged.parse({ spaceId: 's1', raised: lee, lowered: null, length: 3, position: 3 });
		expect(parsed.raised).toEqual({ id: 'lee123', displayName: 'Lee', role: 'listener', mute: 'none', joinedAt: 1 });
		expect(relayedEventSchemas.handQueueChanged.safeParse({ spaceId: 's1', raised: null, lowered: 'lee123', length: 0 }).success).toBe(true);
	});

	it('drops hand changes that would put anything else before a moderator', () => {
		const bad = [
			{ spaceId: 's1', raised: { ...lee, role: 'admin' }, lowered: null, length: 1 },
			{ spaceId: 's1', raised: { ...lee, displayName: 'x'.repeat(201) }, lowered: null, length: 1 },
			{ spaceId: 's1', raised: null, lowered: 'lee123', length: -1 },
			{ spaceId: 's1', raised: null, lowered: '../../etc', length: 0 },
			{ spaceId: 's1', queue: [lee], raised: null, lowered: null },
		];
		for (const data of bad) expect(relayedEventSchemas.handQueueChanged.safeParse(data).success, JSON.stringify(data)).toBe(false);
	});

	it('takes an end warning and its cancellation only as they are', () => {
		expect(relayedEventSchemas.spaceEnding.safeParse({ spaceId: 's1', reason: 'idle', endsAt: 1_800_000_000_000 }).success).toBe(true);
		expect(relayedEventSchemas.spaceEnding.safeParse({ spaceId: 's1', reason: 'because', endsAt: 1 }).success).toBe(false);
		expect(relayedEventSchemas.spaceEnding.safeParse({ spaceId: 's1', reason: 'idle', endsAt: 1, extra: true }).success).toBe(false);
		expect(relayedEventSchemas.spaceEndingCancelled.safeParse({ spaceId: 's1' }).success).toBe(true);
	});

	it('takes a space, a role, a mute and the pins as the store keeps them, and nothing malformed', () => {
		const space = {
			id: 's1', title: 'Friday talk', description: '', state: 'live', hostId: 'hana1', owner: 'op:x',
			settings: { captionMode: 'sidecar', recording: true, video: false, maxSpeakers: 6 }, createdAt: 1, startedAt: 2, endedAt: null,
		};
		expect(relayedEventSchemas.spaceState.safeParse({ space }).success).toBe(true);
		expect(relayedEventSchemas.settingsChanged.safeParse({ space }).success).toBe(true);
		expect(relayedEventSchemas.roleChanged.safeParse({ spaceId: 's1', participant: lee, previousRole: 'speaker' }).success).toBe(true);
		expect(relayedEventSchemas.muteChanged.safeParse({ spaceId: 's1', participant: { ...lee, mute: 'moderator' } }).success).toBe(true);
		expect(relayedEventSchemas.pinnedChanged.safeParse({ spaceId: 's1', pinned: ['lee123', 'hana1'] }).success).toBe(true);
		const bad: [keyof typeof relayedEventSchemas, unknown][] = [
			['spaceState', { space: { id: 's1', state: 'ended' } }],
			['spaceState', { space: { ...space, state: 'gone' } }],
			['settingsChanged', { space: { ...space, settings: { ...space.settings, captionMode: 'loud' } } }],
			['settingsChanged', { space: { ...space, title: 'x'.repeat(501) } }],
			['roleChanged', { spaceId: 's1', participant: { ...lee, role: 'admin' }, previousRole: 'listener' }],
			['roleChanged', { spaceId: 's1', participant: lee }],
			['muteChanged', { spaceId: 's1', participant: { ...lee, id: '../x' } }],
			['pinnedChanged', { spaceId: 's1', pinned: 'lee123' }],
			['pinnedChanged', { spaceId: 's1', pinned: Array.from({ length: 101 }, (_, i) => `p${i}`) }],
		];
		for (const [name, data] of bad) expect(relayedEventSchemas[name].safeParse(data).success, `${name} ${JSON.stringify(data).slice(0, 80)}`).toBe(false);
	});
});
