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
	redis = connectRedis(inject('redisUrl'), 'space-store-test');
});
afterAll(() => redis.disconnect());

/** An id as the store sees it (it does not check how ids are derived from identities). */
const newParticipantId = () => asParticipantId(randomBytes(12).toString('base64url'));

const day = 86_400;

function person(role: Role = 'listener', name = 'P', addr?: string): Participant {
	return { id: newParticipantId(), identity: newAnonymousIdentity(), ...(addr !== undefined && { addr }), displayName: name, role, mute: 'none', joinedAt: 1_795_000_000_123 };
}

async function newSpace(store: SpaceStore, maxSpeakers = 13, options: { owner?: string; unstartedTtlS?: number; createdAt?: number } = {}) {
	const host = person('host', 'Host');
	const space: Space = {
		id: newSpaceId(),
		title: 'Title "quoted" ünïcode',
		description: '',
		state: 'created',
		hostId: host.id,
		owner: options.owner ?? host.identity,
		settings: { captionMode: 'off', recording: false, video: true, maxSpeakers },
		createdAt: options.createdAt ?? 1_795_000_000_000,
		startedAt: null,
		endedAt: null,
	};
	await store.createSpace(space, host, { unstartedTtlS: options.unstartedTtlS ?? day });
	return { space, host };
}

/** The same behaviour is required of both implementations: the unit tests of the rules run on the memory one. */
describe.each([
	['RedisSpaceStore', () => new RedisSpaceStore(redis, `test-${randomUUID()}`)],
	['MemorySpaceStore', () => new MemorySpaceStore()],
] as const)('%s', (_name, makeStore) => {
	it('round-trips a space and its host, who is on stage', async () => {
		const store = makeStore();
		const { space, host } = await newSpace(store);
		expect(await store.getSpace(space.id)).toEqual(space);
		expect(await store.listStage(space.id)).toEqual([host]);
		await expect(store.createSpace(space, host, { unstartedTtlS: day })).rejects.toThrow(/exists/);
	});

	it('moves state only from the allowed states and stamps the times', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		expect(await store.transitionState(space.id, ['live'], 'ended', 5)).toBeUndefined();
		expect(await store.transitionState(space.id, ['created'], 'live', 1_795_000_001_000)).toMatchObject({ state: 'live', startedAt: 1_795_000_001_000 });
		expect(await store.transitionState(space.id, ['created', 'live'], 'ended', 1_795_000_002_000)).toMatchObject({ state: 'ended', endedAt: 1_795_000_002_000 });
		expect(await store.getSpace(space.id)).toMatchObject({ state: 'ended', title: space.title, settings: space.settings });
	});

	it('adds listeners once, refuses banned ids and ended spaces', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		const a = person();
		expect(await store.addParticipant(space.id, a)).toBe('added');
		expect(await store.addParticipant(space.id, { ...a, displayName: 'renamed' })).toBe('rejoined');
		expect(await store.getParticipant(space.id, a.id)).toEqual(a);
		expect(await store.removeParticipant(space.id, a.id, true)).toEqual(a);
		expect(await store.addParticipant(space.id, a)).toBe('banned');
		expect(await store.isBanned(space.id, a.id)).toBe(true);
		await store.transitionState(space.id, ['created'], 'ended', 1);
		expect(await store.addParticipant(space.id, person())).toBe('ended');
		expect(await store.addParticipant(newSpaceId(), person())).toBe('no_space');
	});

	it('keeps a FIFO hand queue of listeners without duplicates', async () => {
		const store = makeStore();
		const { space, host } = await newSpace(store);
		const [a, b] = [person('listener', 'A'), person('listener', 'B')];
		await store.addParticipant(space.id, a);
		await store.addParticipant(space.id, b);
		expect(await store.raiseHand(space.id, b.id)).toBe('raised');
		expect(await store.raiseHand(space.id, a.id)).toBe('raised');
		expect(await store.raiseHand(space.id, b.id)).toBe('already_raised');
		expect(await store.raiseHand(space.id, host.id)).toBe('not_listener');
		expect(await store.raiseHand(space.id, newParticipantId())).toBe('not_found');
		expect((await store.handPage(space.id, undefined, 50))!.hands.map((p) => p.displayName)).toEqual(['B', 'A']);
		expect(await store.lowerHand(space.id, b.id)).toBe(true);
		expect(await store.lowerHand(space.id, b.id)).toBe(false);
		expect((await store.handPage(space.id, undefined, 50))!.hands.map((p) => p.displayName)).toEqual(['A']);
	});

	it('approves a raised hand onto the stage only while a seat is free', async () => {
		const store = makeStore();
		const { space } = await newSpace(store, 2);
		const [a, b] = [person(), person()];
		for (const p of [a, b]) {
			await store.addParticipant(space.id, p);
			await store.raiseHand(space.id, p.id);
		}
		const approve = (id: Participant['id']) => store.changeRole(space.id, { participantId: id, from: ['listener'], to: 'speaker', requireHand: true, maxStage: 2 });
		expect(await approve(a.id)).toMatchObject({ ok: true, previousRole: 'listener', participant: { id: a.id, role: 'speaker' } });
		expect(await approve(b.id)).toEqual({ ok: false, reason: 'stage_full' });
		expect(await approve(a.id)).toEqual({ ok: false, reason: 'wrong_role' });
		expect((await store.handPage(space.id, undefined, 50))!.hands.map((p) => p.id)).toEqual([b.id]);
		expect((await store.listStage(space.id)).map((p) => p.role)).toEqual(['host', 'speaker']);
	});

	it('refuses a role change that needs a hand when none is raised, or a third co-host', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		const l = person();
		await store.addParticipant(space.id, l);
		expect(await store.changeRole(space.id, { participantId: l.id, from: ['listener'], to: 'speaker', requireHand: true })).toEqual({ ok: false, reason: 'no_hand' });
		const speakers = [person(), person(), person()];
		for (const p of speakers) {
			await store.addParticipant(space.id, p);
			await store.changeRole(space.id, { participantId: p.id, from: ['listener'], to: 'speaker' });
		}
		const promote = (p: Participant) => store.changeRole(space.id, { participantId: p.id, from: ['speaker'], to: 'cohost', maxCoHosts: 2 });
		expect((await promote(speakers[0]!)).ok).toBe(true);
		expect((await promote(speakers[1]!)).ok).toBe(true);
		expect(await promote(speakers[2]!)).toEqual({ ok: false, reason: 'cohosts_full' });
		expect(await store.changeRole(space.id, { participantId: newParticipantId(), from: ['listener'], to: 'speaker' })).toEqual({ ok: false, reason: 'not_found' });
	});

	it('leaving the stage unpins and unmutes; removing clears every trace', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		const [a, b] = [person(), person()];
		for (const p of [a, b]) {
			await store.addParticipant(space.id, p);
			await store.changeRole(space.id, { participantId: p.id, from: ['listener'], to: 'speaker' });
			expect(await store.pin(space.id, p.id)).toBe('pinned');
		}
		expect(await store.setMute(space.id, a.id, ['none'], 'moderator')).toMatchObject({ mute: 'moderator' });
		expect(await store.setMute(space.id, a.id, ['none'], 'self')).toBeUndefined();
		await store.changeRole(space.id, { participantId: a.id, from: ['speaker'], to: 'listener' });
		expect(await store.getParticipant(space.id, a.id)).toMatchObject({ role: 'listener', mute: 'none' });
		expect(await store.setMute(space.id, a.id, ['none'], 'self')).toBeUndefined();
		expect(await store.pinned(space.id)).toEqual([b.id]);
		await store.removeParticipant(space.id, b.id, false);
		expect(await store.pinned(space.id)).toEqual([]);
		expect((await store.listStage(space.id)).map((p) => p.role)).toEqual(['host']);
		expect(await store.removeParticipant(space.id, b.id, false)).toBeUndefined();
		expect(await store.countParticipants(space.id)).toBe(2);
	});

	it('reads what a token check needs at once; revoking moves a participant\'s token generation on, each on its own', async () => {
		const store = makeStore();
		const { space, host } = await newSpace(store);
		const [a, banned] = [person(), person()];
		await store.addParticipant(space.id, a);
		await store.addParticipant(space.id, banned);
		await store.removeParticipant(space.id, banned.id, true);
		expect(await store.readAuth(space.id, host.id)).toEqual({ space, participant: host, banned: false, tokenGeneration: 0 });
		expect(await store.readAuth(space.id, banned.id)).toEqual({ space, participant: undefined, banned: true, tokenGeneration: 0 });
		expect(await store.readAuth(newSpaceId(), a.id)).toEqual({ space: undefined, participant: undefined, banned: false, tokenGeneration: 0 });
		expect(await store.revokeTokens(space.id, a.id, 3600)).toBe(1);
		expect(await store.revokeTokens(space.id, a.id, 3600)).toBe(2);
		expect(await store.readAuth(space.id, a.id)).toMatchObject({ participant: a, tokenGeneration: 2 });
		// Even a participant since removed keeps their record: their old tokens must stay dead.
		await store.removeParticipant(space.id, a.id, false);
		expect((await store.readAuth(space.id, a.id)).tokenGeneration).toBe(2);
		expect((await store.readAuth(space.id, host.id)).tokenGeneration).toBe(0);
		// No bound shared by the space: however many others were revoked, anyone's generation still moves on.
		const others = Array.from({ length: 10_001 }, () => newParticipantId());
		await Promise.all(others.map((id) => store.revokeTokens(space.id, id, 3600)));
		expect(await store.revokeTokens(space.id, host.id, 3600)).toBe(1);
		expect(await store.revokeTokens(space.id, a.id, 3600)).toBe(3);
		expect(await store.tokenGenerations(space.id, [a.id, host.id, others[0]!, newParticipantId()])).toEqual([3, 1, 1, 0]);
		expect(await store.tokenGenerations(space.id, [])).toEqual([]);
		expect(await store.tokenGenerations(newSpaceId(), [a.id])).toEqual([0]);
	});

	it('revokeTokens() with ifGeneration moves the generation on only from that one', async () => {
		const store = makeStore();
		const { space, host } = await newSpace(store);
		expect(await store.revokeTokens(space.id, host.id, 3600, 1)).toBeUndefined();
		expect(await store.revokeTokens(space.id, host.id, 3600, 0)).toBe(1);
		expect(await store.revokeTokens(space.id, host.id, 3600, 0)).toBeUndefined();
		expect((await store.readAuth(space.id, host.id)).tokenGeneration).toBe(1);
		expect(await store.revokeTokens(space.id, host.id, 3600, 1)).toBe(2);
	});

	it('pins only people on stage, once, and reorders only by permutation', async () => {
		const store = makeStore();
		const { space, host } = await newSpace(store);
		const [a, l] = [person(), person()];
		await store.addParticipant(space.id, a);
		await store.addParticipant(space.id, l);
		await store.changeRole(space.id, { participantId: a.id, from: ['listener'], to: 'speaker' });
		expect(await store.pin(space.id, l.id)).toBe('not_on_stage');
		expect(await store.pin(space.id, a.id)).toBe('pinned');
		expect(await store.pin(space.id, a.id)).toBe('already_pinned');
		expect(await store.pin(space.id, host.id)).toBe('pinned');
		expect(await store.reorderPins(space.id, [host.id])).toBe(false);
		expect(await store.reorderPins(space.id, [host.id, host.id])).toBe(false);
		expect(await store.reorderPins(space.id, [host.id, a.id])).toBe(true);
		expect(await store.pinned(space.id)).toEqual([host.id, a.id]);
		expect(await store.unpin(space.id, a.id)).toBe(true);
		expect(await store.unpin(space.id, a.id)).toBe(false);
	});
	it('bans an address with the participant it was taken from, refuses fresh ids from it, and lifts both with unban', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		const troll = person('listener', 'Troll', 'tagA');
		expect(await store.addParticipant(space.id, troll)).toBe('added');
		// A rejoin takes the address of the latest join.
		expect(await store.addParticipant(space.id, { ...troll, addr: 'tagB' })).toBe('rejoined');
		expect((await store.getParticipant(space.id, troll.id))?.addr).toBe('tagB');
		expect(await store.removeParticipant(space.id, troll.id, true, true)).toMatchObject({ id: troll.id, addr: 'tagB' });
		expect(await store.addParticipant(space.id, person('listener', 'New', 'tagB'))).toBe('banned');
		expect(await store.addParticipant(space.id, person('listener', 'Neighbour', 'tagA'))).toBe('added');
		expect(await store.addParticipant(space.id, person('listener', 'No address'))).toBe('added');
		// Without `ban`, no address is banned.
		const other = person('listener', 'Other', 'tagC');
		await store.addParticipant(space.id, other);
		await store.removeParticipant(space.id, other.id, false, true);
		expect(await store.addParticipant(space.id, person('listener', 'C again', 'tagC'))).toBe('added');
		expect(await store.unban(space.id, troll.id)).toBe(true);
		expect(await store.unban(space.id, troll.id)).toBe(false);
		expect(await store.addParticipant(space.id, { ...troll, addr: 'tagB' })).toBe('added');
		// An id never seen may be banned.
		const stranger = newParticipantId();
		expect(await store.removeParticipant(space.id, stranger, true, true)).toBeUndefined();
		expect(await store.isBanned(space.id, stranger)).toBe(true);
	});

	it('refuses a newcomer past maxParticipants records but finds someone already there; refuses a hand past maxHands', async () => {
		const store = makeStore();
		const { space } = await newSpace(store);
		const [a, b] = [person(), person()];
		expect(await store.addParticipant(space.id, a, { maxParticipants: 2 })).toBe('added');
		expect(await store.addParticipant(space.id, b, { maxParticipants: 2 })).toBe('full');
		expect(await store.addParticipant(space.id, a, { maxParticipants: 2 })).toBe('rejoined');
		expect(await store.addParticipant(space.id, b, { maxParticipants: 3 })).toBe('added');
		expect(await store.raiseHand(space.id, a.id, { maxHands: 1 })).toBe('raised');
		expect(await store.raiseHand(space.id, b.id, { maxHands: 1 })).toBe('queue_full');
		expect(await store.raiseHand(space.id, a.id, { maxHands: 1 })).toBe('already_raised');
		await store.lowerHand(space.id, a.id);
		expect(await store.raiseHand(space.id, b.id, { maxHands: 1 })).toBe('raised');
	});

	it('starts a space only within the live limits of the store and of its owner; an ended space leaves them', async () => {
		const store = makeStore();
		const limits = { maxLive: 2, maxLivePerOwner: 1 };
		const [x1, x2, y1, z1, w1] = [
			await newSpace(store, 13, { owner: 'op:x' }),
			await newSpace(store, 13, { owner: 'op:x' }),
			await newSpace(store, 13, { owner: 'op:y' }),
			await newSpace(store, 13, { owner: 'op:z' }),
			await newSpace(store, 13, { owner: 'op:w' }),
		];
		expect(await store.startSpace(x1.space.id, 10, limits)).toMatchObject({ ok: true, space: { state: 'live', startedAt: 10 } });
		expect(await store.startSpace(x1.space.id, 11, limits)).toEqual({ ok: false, reason: 'wrong_state' });
		expect(await store.startSpace(x2.space.id, 11, limits)).toEqual({ ok: false, reason: 'limit_reached' });
		expect(await store.startSpace(y1.space.id, 12, limits)).toMatchObject({ ok: true });
		expect(await store.startSpace(z1.space.id, 13, limits)).toEqual({ ok: false, reason: 'capacity' });
		expect(await store.startSpace(newSpaceId(), 13, limits)).toEqual({ ok: false, reason: 'not_found' });
		await store.transitionState(x1.space.id, ['live'], 'ended', 14);
		expect(await store.startSpace(x2.space.id, 15, limits)).toMatchObject({ ok: true });
		expect(await store.startSpace(z1.space.id, 16, limits)).toEqual({ ok: false, reason: 'capacity' });
		// Ending a space that never went live frees no seat (the cluster stays full) and takes none (ending a live one frees one).
		await store.transitionState(z1.space.id, ['created'], 'ended', 17);
		expect((await store.getSpace(z1.space.id))?.state).toBe('ended');
		expect(await store.startSpace(w1.space.id, 18, limits)).toEqual({ ok: false, reason: 'capacity' });
		await store.transitionState(y1.space.id, ['live'], 'ended', 19);
		expect(await store.startSpace(w1.space.id, 20, limits)).toMatchObject({ ok: true });
	});

	it('lists spaces newest first, by state, a page at a time; and participants a page at a time', async () => {
		const store = makeStore();
		const made = [];
		for (let i = 0; i < 5; i++) made.push(await newSpace(store, 13, { createdAt: 1_795_000_000_000 + i }));
		await store.transitionState(made[1]!.space.id, ['created'], 'live', 1);
		const ids = (page: { items: Space[] }) => page.items.map((sp) => sp.id);
		const first = await store.listSpaces({ limit: 3 });
		expect(ids(first)).toEqual([made[4]!, made[3]!, made[2]!].map((m) => m.space.id));
		const second = await store.listSpaces({ limit: 3, cursor: first.nextCursor! });
		expect(ids(second)).toEqual([made[1]!, made[0]!].map((m) => m.space.id));
		expect(second.nextCursor).toBeNull();
		expect(ids(await store.listSpaces({ state: 'live', limit: 10 }))).toEqual([made[1]!.space.id]);
		const { space, host } = made[0]!;
		const people = [host];
		for (let i = 0; i < 25; i++) {
			const p = person('listener', `P${i}`);
			await store.addParticipant(space.id, p);
			people.push(p);
		}
		const seen: Participant[] = [];
		let cursor: string | undefined;
		for (let pages = 0; pages < 100; pages++) {
			const page = await store.listParticipants(space.id, { limit: 10, ...(cursor !== undefined && { cursor }) });
			seen.push(...page.items);
			if (page.nextCursor === null) break;
			cursor = page.nextCursor;
		}
		expect(new Set(seen.map((p) => p.id))).toEqual(new Set(people.map((p) => p.id)));
	});

	it('takes from a rate bucket shared by its name until it is empty, then says how long until the next token', async () => {
		const store = makeStore();
		const bucket = `create:test:${randomUUID()}`;
		const limit = { burst: 2, perSecond: 2 / 60 };
		expect(await store.takeRate(bucket, limit)).toBe(0);
		expect(await store.takeRate(bucket, limit)).toBe(0);
		const waitMs = await store.takeRate(bucket, limit);
		expect(waitMs).toBeGreaterThan(25_000);
		expect(waitMs).toBeLessThanOrEqual(30_000);
		expect(await store.takeRate(`${bucket}:other`, limit)).toBe(0);
	});
});

describe('RedisSpaceStore under concurrency', () => {
	it('fills the last stage seats exactly once when many approvals race', async () => {
		// Two store instances on two connections stand in for two API processes.
		const prefix = `test-${randomUUID()}`;
		const other = connectRedis(inject('redisUrl'), 'space-store-test-2');
		try {
			const stores = [new RedisSpaceStore(redis, prefix), new RedisSpaceStore(other, prefix)];
			const { space } = await newSpace(stores[0]!, 4);
			const listeners = Array.from({ length: 20 }, () => person());
			for (const p of listeners) {
				await stores[0]!.addParticipant(space.id, p);
				await stores[0]!.raiseHand(space.id, p.id);
			}
			const results = await Promise.all(
				listeners.map((p, i) => stores[i % 2]!.changeRole(space.id, { participantId: p.id, from: ['listener'], to: 'speaker', requireHand: true, maxStage: 4 })),
			);
			expect(results.filter((r) => r.ok)).toHaveLength(3);
			expect(await stores[1]!.listStage(space.id)).toHaveLength(4);
			expect((await stores[1]!.handPage(space.id, undefined, 50))!.hands).toHaveLength(17);
		} finally {
			other.disconnect();
		}
	});

	it('keeps each participant\'s token generation in a key of its own, for at least the time asked, never shortening it', async () => {
		const prefix = `test-${randomUUID()}`;
		const store = new RedisSpaceStore(redis, prefix);
		const { space, host } = await newSpace(store);
		const other = newParticipantId();
		const key = `${prefix}:space:{${space.id}}:tokens:${host.id}`;
		await store.revokeTokens(space.id, host.id, 7200);
		expect(await redis.ttl(key)).toBeGreaterThan(7100);
		await store.revokeTokens(space.id, host.id, 60);
		expect(await redis.ttl(key)).toBeGreaterThan(7100);
		await store.revokeTokens(space.id, host.id, 9000);
		expect(await redis.ttl(key)).toBeGreaterThan(8900);
		// Another participant's record has its own lifetime, not the host's.
		await store.revokeTokens(space.id, other, 60);
		expect(await redis.ttl(`${prefix}:space:{${space.id}}:tokens:${other}`)).toBeLessThanOrEqual(60);
		expect(await redis.ttl(key)).toBeGreaterThan(8900);
		// And it does expire: Redis forgets it (the caller asks for longer than any of the participant's tokens lives).
		const brief = newParticipantId();
		expect(await store.revokeTokens(space.id, brief, 1)).toBe(1);
		const deadline = Date.now() + 5000;
		while ((await redis.exists(`${prefix}:space:{${space.id}}:tokens:${brief}`)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		expect((await store.readAuth(space.id, brief)).tokenGeneration).toBe(0);
	});

	/** A space with every key a space can have besides token generations: stage, hands, pins, bans, address bans, presence. */
	async function fullSpace(prefix: string, unstartedTtlS = day) {
		const store = new RedisSpaceStore(redis, prefix);
		const { space, host } = await newSpace(store, 13, { unstartedTtlS });
		const [hand, speaker, banned] = [person('listener', 'Hand'), person('listener', 'Speaker'), person('listener', 'Banned', 'tag-banned')];
		for (const p of [hand, speaker, banned]) await store.addParticipant(space.id, p);
		await store.raiseHand(space.id, hand.id);
		await store.changeRole(space.id, { participantId: speaker.id, from: ['listener'], to: 'speaker' });
		await store.pin(space.id, speaker.id);
		await store.removeParticipant(space.id, banned.id, true, true);
		await store.touchParticipants(space.id, [host.id, hand.id], day);
		const base = `${prefix}:space:{${space.id}}`;
		const keys = ['', ':participants', ':stage', ':hands', ':seq', ':bans', ':bans:addr', ':pinned', ':seen'].map((k) => base + k);
		expect(await redis.exists(...keys)).toBe(keys.length);
		return { store, space, hand, keys, ttls: () => Promise.all(keys.map((key) => redis.ttl(key))) };
	}

	it('gives an ended space a TTL so Redis eventually forgets it, every key of it', async () => {
		const { store, space, keys, ttls } = await fullSpace(`test-${randomUUID()}`);
		await store.transitionState(space.id, ['created'], 'live', 1);
		expect((await ttls()).slice(0, -1)).toEqual(keys.slice(0, -1).map(() => -1));
		await store.transitionState(space.id, ['live'], 'ended', 2);
		for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(6 * day);
	});

	it('a space never started keeps its own expiry on every key, and ending it does not lengthen it', async () => {
		const { store, space, ttls } = await fullSpace(`test-${randomUUID()}`, 3600);
		for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(3500);
		await store.transitionState(space.id, ['created'], 'ended', 1);
		for (const ttl of await ttls()) {
			expect(ttl).toBeGreaterThan(3500);
			expect(ttl).toBeLessThanOrEqual(3600);
		}
	});

	it('presence a hand sweep makes expires, and nothing is marked in a space that does not exist', async () => {
		const prefix = `test-${randomUUID()}`;
		const { store, space, hand, keys } = await fullSpace(prefix);
		await store.transitionState(space.id, ['created'], 'live', 1);
		await redis.del(keys.at(-1)!);
		await store.lowerAwayHands(space.id, 60_000, 10);
		expect(await redis.zscore(keys.at(-1)!, hand.id)).not.toBeNull();
		expect(await redis.ttl(keys.at(-1)!)).toBeGreaterThan(0);
		const gone = newSpaceId();
		await store.touchParticipants(gone, [hand.id], day);
		expect(await redis.exists(`${prefix}:space:{${gone}}:seen`)).toBe(0);
	});
});

describe('RedisSpaceStore idle ends', () => {
	it('an end unless moderators are connected is refused while the connection tally counts one on a live node', async () => {
		const prefix = `test-${randomUUID()}`;
		const store = new RedisSpaceStore(redis, prefix);
		const { space } = await newSpace(store);
		await store.transitionState(space.id, ['created'], 'live', 1_795_000_001_000);
		// `ListenerTally`'s hash: node → "<listeners>:<expiresAtMs>:<moderators>", times in Redis's clock.
		const tally = `${prefix}:space:{${space.id}}:listeners`;
		const [s] = await redis.time();
		const nowMs = Number(s) * 1000;
		await redis.hset(tally, 'node-gone', `3:${nowMs - 1000}:1`, 'node-here', `5:${nowMs + 60_000}:1`);
		expect(await store.transitionState(space.id, ['live'], 'ended', 1_795_000_002_000, { unlessModeratorsConnected: true })).toBeUndefined();
		expect((await store.getSpace(space.id))?.state).toBe('live');
		// The host went (the node's moderators 0): it ends; a max-duration end never asks.
		await redis.hset(tally, 'node-here', `5:${nowMs + 60_000}:0`);
		expect(await store.transitionState(space.id, ['live'], 'ended', 1_795_000_002_000, { unlessModeratorsConnected: true })).toMatchObject({ state: 'ended' });
	});
});

describe('RedisSpaceStore deadlines', () => {
	it('a change whose deadline has passed in Redis\'s time changes nothing, answers TRIBUNE_DEADLINE and asks for a new clock reading; 0 means none', async () => {
		const prefix = `test-${randomUUID()}`;
		const open = new RedisSpaceStore(redis, prefix);
		const { space } = await newSpace(open);
		let refused = 0;
		const redisTime = (await redis.time()).map(Number) as [seconds: number, microseconds: number];
		const past = redisTime[0] * 1000 - 1; // a millisecond before this reading of Redis's clock
		const late = new RedisSpaceStore(redis, prefix, { deadlineMs: () => past, onDeadlineRefused: () => refused++ });
		const listener = person();
		await expect(late.addParticipant(space.id, listener)).rejects.toThrow(/^TRIBUNE_DEADLINE/);
		await expect(late.transitionState(space.id, ['created'], 'live', 1)).rejects.toThrow(/^TRIBUNE_DEADLINE/);
		expect(refused).toBe(2);
		expect(await open.getParticipant(space.id, listener.id)).toBeUndefined();
		expect((await open.getSpace(space.id))?.state).toBe('created');
		const ahead = new RedisSpaceStore(redis, prefix, { deadlineMs: () => redisTime[0] * 1000 + 60_000, onDeadlineRefused: () => refused++ });
		expect(await ahead.addParticipant(space.id, listener)).toBe('added');
		expect(refused).toBe(2);
	});
});

describe('RedisSpaceStore shared records', () => {
	it('a live set at its limit drops spaces that are gone or no longer live, and only then refuses', async () => {
		const prefix = `test-${randomUUID()}`;
		const store = new RedisSpaceStore(redis, prefix);
		const live = await newSpace(store, 13, { owner: 'op:x' });
		await store.startSpace(live.space.id, 1, { maxLive: 1, maxLivePerOwner: 5 });
		// A seat held by a space whose keys are gone (deleted by hand; or a store that missed the end).
		await redis.del(`${prefix}:space:{${live.space.id}}`);
		const next = await newSpace(store, 13, { owner: 'op:x' });
		expect(await store.startSpace(next.space.id, 2, { maxLive: 1, maxLivePerOwner: 1 })).toMatchObject({ ok: true });
		expect(await redis.smembers(`${prefix}:live`)).toEqual([next.space.id]);
		expect(await redis.smembers(`${prefix}:live:owner:op:x`)).toEqual([next.space.id]);
		await store.transitionState(next.space.id, ['live'], 'ended', 3);
		expect(await redis.exists(`${prefix}:live`, `${prefix}:live:owner:op:x`)).toBe(0);
	});

	it('the spaces index drops spaces that expired, on listing and a few at each create, past the oldest that stay', async () => {
		const prefix = `test-${randomUUID()}`;
		const store = new RedisSpaceStore(redis, prefix);
		// The two oldest stay (live or ended spaces); ten behind them expired.
		for (const createdAt of [1, 2]) await newSpace(store, 13, { createdAt });
		for (let createdAt = 3; createdAt <= 12; createdAt++) await redis.del(`${prefix}:space:{${(await newSpace(store, 13, { createdAt })).space.id}}`);
		const later = 12 + day * 1000;
		await newSpace(store, 13, { createdAt: later });
		// Eight looked at: the two that stay and six expired ones.
		expect(await redis.zcard(`${prefix}:spaces`)).toBe(2 + 4 + 1);
		await newSpace(store, 13, { createdAt: later + 1 });
		expect(await redis.zcard(`${prefix}:spaces`)).toBe(2 + 2);
		expect((await store.listSpaces({ limit: 10 })).items).toHaveLength(4);
		expect(await redis.zcard(`${prefix}:spaces`)).toBe(4);
	});

	it('a rate bucket expires once it would be full again', async () => {
		const prefix = `test-${randomUUID()}`;
		const store = new RedisSpaceStore(redis, prefix);
		await store.takeRate('create:addr:x', { burst: 30, perSecond: 0.5 });
		const ttl = await redis.pttl(`${prefix}:rate:create:addr:x`);
		expect(ttl).toBeGreaterThan(55_000);
		expect(ttl).toBeLessThanOrEqual(61_000);
	});
});
