import { randomBytes, randomUUID } from 'node:crypto';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemorySpaceStore } from '../src/spaces/MemorySpaceStore.js';
import { RedisSpaceStore } from '../src/spaces/RedisSpaceStore.js';
import { asParticipantId, newAnonymousIdentity, newSpaceId, type Participant, type Role, type Space } from '../src/spaces/Space.js';
import type { SpaceStore } from '../src/spaces/SpaceStore.js';

let redis: Redis;
beforeAll(() => {
	redis = connectRedis(inject('redisUrl'), 'hand-store-test');
});
afterAll(() => redis.disconnect());

function person(role: Role = 'listener', name = 'P'): Participant {
	return { id: asParticipantId(randomBytes(12).toString('base64url')), identity: newAnonymousIdentity(), displayName: name, role, mute: 'none', joinedAt: 1_795_000_000_123 };
}

async function liveSpace(store: SpaceStore) {
	const host = person('host', 'Host');
	const space: Space = {
		id: newSpaceId(),
		title: 'T',
		description: '',
		state: 'created',
		hostId: host.id,
		owner: host.identity,
		settings: { captionMode: 'off', recording: false, video: false, maxSpeakers: 13 },
		createdAt: 1_795_000_000_000,
		startedAt: null,
		endedAt: null,
	};
	await store.createSpace(space, host, { unstartedTtlS: 86_400 });
	await store.transitionState(space.id, ['created'], 'live', 1_795_000_001_000);
	return { space, host };
}

/** `n` listeners with their hands raised, in order. */
async function raised(store: SpaceStore, spaceId: Space['id'], n: number): Promise<Participant[]> {
	const people: Participant[] = [];
	for (let i = 0; i < n; i++) {
		const p = person('listener', `H${i}`);
		await store.addParticipant(spaceId, p);
		expect(await store.raiseHand(spaceId, p.id)).toBe('raised');
		people.push(p);
	}
	return people;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Hands at scale and presence: the same contract of both stores (the rules' unit tests run on the memory one). */
describe.each([
	['RedisSpaceStore', () => new RedisSpaceStore(redis, `test-${randomUUID()}`)],
	['MemorySpaceStore', () => new MemorySpaceStore()],
] as const)('%s', (_name, makeStore) => {
	it('answers a hand change with the queue\'s length and a hand\'s place, never the queue', async () => {
		const store = makeStore();
		const { space, host } = await liveSpace(store);
		const [a, b, c] = await raised(store, space.id, 3);
		expect(await store.handStatus(space.id, c!.id)).toEqual({ position: 3, length: 3, participant: c });
		expect(await store.lowerHandCounted(space.id, a!.id)).toEqual({ lowered: true, length: 2 });
		expect(await store.lowerHandCounted(space.id, a!.id)).toEqual({ lowered: false, length: 2 });
		expect((await store.handStatus(space.id, b!.id)).position).toBe(1);
		expect(await store.handStatus(space.id, host.id)).toEqual({ position: null, length: 2, participant: host });
	});

	it('pages the queue after a hand, and says when that hand is gone', async () => {
		const store = makeStore();
		const { space } = await liveSpace(store);
		const people = await raised(store, space.id, 7);
		const first = await store.handPage(space.id, undefined, 3);
		expect([first?.hands.map((p) => p.displayName), first?.length, first?.more]).toEqual([['H0', 'H1', 'H2'], 7, true]);
		const last = await store.handPage(space.id, people[3]!.id, 3);
		expect([last?.hands.map((p) => p.displayName), last?.more]).toEqual([['H4', 'H5', 'H6'], false]);
		await store.lowerHand(space.id, people[3]!.id);
		expect(await store.handPage(space.id, people[3]!.id, 3)).toBeUndefined();
		expect((await store.handPage(space.id, people[6]!.id, 3))?.hands).toEqual([]);
	});

	it('lowers the hands of owners away longer than asked, and no one else\'s', async () => {
		const store = makeStore();
		const { space } = await liveSpace(store);
		const [away, here, fresh] = await raised(store, space.id, 3);
		await store.touchParticipants(space.id, [away!.id, here!.id], 3600);
		// `fresh` has no presence yet: it gets some now rather than losing its hand.
		expect(await store.lowerAwayHands(space.id, 10_000, 100)).toEqual({ lowered: [], length: 3 });
		await sleep(300);
		await store.touchParticipants(space.id, [here!.id], 3600);
		expect(await store.lowerAwayHands(space.id, 200, 100)).toEqual({ lowered: [away!.id, fresh!.id], length: 1 });
		expect((await store.handStatus(space.id, here!.id)).position).toBe(1);
	});

	it('removes listener records idle longer than asked, with their hands; never the stage nor anyone seen since', async () => {
		const store = makeStore();
		const { space, host } = await liveSpace(store);
		const [idle] = await raised(store, space.id, 1);
		const quiet = person('listener', 'Quiet');
		const back = person('listener', 'Back');
		await store.addParticipant(space.id, quiet);
		await store.addParticipant(space.id, back);
		await store.touchParticipants(space.id, [host.id, idle!.id, quiet.id, back.id], 3600);
		await sleep(300);
		await store.touchParticipants(space.id, [back.id], 3600);
		const result = await store.expireIdleListeners(space.id, 200, 1);
		// Bounded: at most one looked at (the host, on stage, may be it).
		expect(result.removed.length).toBeLessThanOrEqual(1);
		const rest = await store.expireIdleListeners(space.id, 200, 100);
		expect([...result.removed, ...rest.removed].sort()).toEqual([idle!.id, quiet.id].sort());
		expect([...result.lowered, ...rest.lowered]).toEqual([idle!.id]);
		expect(rest.length).toBe(0);
		expect(await store.getParticipant(space.id, host.id)).toEqual(host);
		expect(await store.getParticipant(space.id, back.id)).toEqual(back);
		expect(await store.countParticipants(space.id)).toBe(2);
		// The host, away as long, stays; and is not first in line again at the next sweep.
		expect(await store.expireIdleListeners(space.id, 200, 100)).toEqual({ removed: [], lowered: [], length: 0 });
	});
});
