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
});
