import { afterEach, describe, expect, inject, it } from 'vitest';
import { asParticipantId, asSpaceId } from '../src/spaces/Space.js';
import type { SpaceLimits } from '../src/spaces/SpaceLimits.js';
import { SignalingClient } from './support/SignalingClient.js';
import { postJson, startTestNode, testSpaceLimits, type TestNode } from './support/startTestNode.js';

const running: TestNode[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
	for (const c of clients.splice(0)) c.close();
	await Promise.all(running.splice(0).map((n) => n.close()));
});

/** Two API nodes of one cluster (one Redis prefix, one token key) with `limits`: a limit must hold across them. */
async function twoNodes(limits: Partial<SpaceLimits>): Promise<[TestNode, TestNode]> {
	const spaceLimits = { ...testSpaceLimits, ...limits };
	const a = await startTestNode(inject('redisUrl'), {}, { openHosting: true, spaceLimits });
	running.push(a);
	const b = await startTestNode(inject('redisUrl'), {}, { openHosting: true, spaceLimits, cluster: { redisPrefix: a.redisPrefix, tokenKey: a.tokenKey } });
	running.push(b);
	return [a, b];
}

/** POSTs JSON to `node` as a client at `from`. */
const post = (node: TestNode, path: string, body: unknown, options: { bearer?: string; from?: string } = {}) => postJson(`${node.baseUrl}${path}`, body, options.bearer, options.from);

const create = (node: TestNode, options: { identity?: string; from?: string } = {}) =>
	post(node, '/api/spaces', { title: 'Limited', hostName: 'Hana', ...(options.identity !== undefined && { identity: options.identity }) }, { ...(options.from !== undefined && { from: options.from }) });

function expectRefusal(reply: Awaited<ReturnType<typeof postJson>>, status: number, code: string): void {
	expect([reply.status, reply.body.error?.code]).toEqual([status, code]);
}

describe('space limits, shared by the nodes of a cluster', () => {
	it('creations per minute per client address: the bucket is one over both nodes, and a refusal says when to retry', async () => {
		const [a, b] = await twoNodes({ createsPerMinPerAddress: 3 });
		for (const node of [a, b, a]) expect((await create(node, { from: '198.51.100.1' })).status).toBe(201);
		const refused = await create(b, { from: '198.51.100.1' });
		expectRefusal(refused, 429, 'rate_limited');
		// 3 a minute: the next token in about 20 s.
		expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(15);
		expect(Number(refused.retryAfter)).toBeLessThanOrEqual(20);
		expect((await create(a, { from: '198.51.100.2' })).status).toBe(201);
	});

	it('creations per minute per identity, from whatever address', async () => {
		const [a, b] = await twoNodes({ createsPerMinPerIdentity: 2 });
		const first = await create(a, { from: '198.51.100.10' });
		expect((await create(b, { identity: first.body.identity, from: '198.51.100.11' })).status).toBe(201);
		const refused = await create(a, { identity: first.body.identity, from: '198.51.100.12' });
		expectRefusal(refused, 429, 'rate_limited');
		expect(Number(refused.retryAfter)).toBeGreaterThan(0);
		// A refused creation left nothing behind.
		expect((await a.spaces.service.listSpaces({ limit: 100 })).items).toHaveLength(2);
	});

	it('live spaces per cluster: a start past the limit is 503 capacity with Retry-After 60; ending one frees its seat', async () => {
		const [a, b] = await twoNodes({ liveSpacesMax: 2 });
		const spaces = [await create(a), await create(b), await create(a)];
		const start = (node: TestNode, i: number) => post(node, `/api/spaces/${spaces[i]!.body.space!.id}/start`, {}, { bearer: spaces[i]!.body.token! });
		expect((await start(a, 0)).status).toBe(200);
		expect((await start(b, 1)).status).toBe(200);
		const refused = await start(a, 2);
		expectRefusal(refused, 503, 'capacity');
		expect(refused.retryAfter).toBe('60');
		expect((await a.spaces.service.getSpace(asSpaceId(spaces[2]!.body.space!.id))).state).toBe('created');
		expect((await post(b, `/api/spaces/${spaces[0]!.body.space!.id}/end`, {}, { bearer: spaces[0]!.body.token! })).status).toBe(200);
		expect((await start(b, 2)).status).toBe(200);
	});

	it('live spaces per host identity: 429 limit_reached for that identity only', async () => {
		const [a, b] = await twoNodes({ liveSpacesPerHost: 1 });
		const first = await create(a);
		const second = await create(b, { identity: first.body.identity });
		const stranger = await create(b);
		expect((await post(a, `/api/spaces/${first.body.space!.id}/start`, {}, { bearer: first.body.token! })).status).toBe(200);
		const refused = await post(b, `/api/spaces/${second.body.space!.id}/start`, {}, { bearer: second.body.token! });
		expectRefusal(refused, 429, 'limit_reached');
		expect((await post(a, `/api/spaces/${stranger.body.space!.id}/start`, {}, { bearer: stranger.body.token! })).status).toBe(200);
		// The operator ends the first: the host may go live with the other.
		await b.spaces.service.endSpace(asSpaceId(first.body.space!.id));
		expect((await post(b, `/api/spaces/${second.body.space!.id}/start`, {}, { bearer: second.body.token! })).status).toBe(200);
	});

	it('participants per space: a newcomer past the limit is 503 space_full with Retry-After; someone already there rejoins', async () => {
		const [a, b] = await twoNodes({ maxParticipants: 3 });
		const created = await create(a);
		const spaceId = created.body.space!.id;
		const first = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'One' });
		expect((await post(b, `/api/spaces/${spaceId}/join`, { displayName: 'Two' })).status).toBe(200);
		const refused = await post(b, `/api/spaces/${spaceId}/join`, { displayName: 'Three' });
		expectRefusal(refused, 503, 'space_full');
		expect(Number(refused.retryAfter)).toBeGreaterThan(0);
		expect((await post(b, `/api/spaces/${spaceId}/join`, { displayName: 'One', identity: first.body.identity })).status).toBe(200);
		expect(await a.spaces.store.countParticipants(asSpaceId(spaceId))).toBe(3);
	});

	it('joins per minute per client address in a space: a newcomer past it is 429 rate_limited with Retry-After; a rejoin, another address or another space is not counted', async () => {
		const [a, b] = await twoNodes({ joinsPerMinPerAddressInSpace: 3 });
		const spaceId = (await create(a)).body.space!.id;
		const other = (await create(a)).body.space!.id;
		const join = (node: TestNode, id: string, from: string, identity?: string) =>
			post(node, `/api/spaces/${id}/join`, { displayName: 'Joiner', ...(identity !== undefined && { identity }) }, { from });
		// A space that does not exist makes no bucket.
		expect((await join(a, 'nosuchspace', '198.51.100.20')).status).toBe(404);
		expect(await a.redis.keys(`${a.redisPrefix}:rate:join:space:nosuchspace:*`)).toEqual([]);
		const first = await join(a, spaceId, '198.51.100.20');
		for (const node of [b, a]) expect((await join(node, spaceId, '198.51.100.20')).status).toBe(200);
		const refused = await join(b, spaceId, '198.51.100.20');
		expectRefusal(refused, 429, 'rate_limited');
		expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(15);
		expect(Number(refused.retryAfter)).toBeLessThanOrEqual(20);
		expect((await join(a, spaceId, '198.51.100.20', first.body.identity)).status).toBe(200);
		expect((await join(a, spaceId, '198.51.100.21')).status).toBe(200);
		expect((await join(b, other, '198.51.100.20')).status).toBe(200);
		expect(await a.spaces.store.countParticipants(asSpaceId(spaceId))).toBe(5);
	});

	it('joins per minute per client address over all spaces: one address cannot fill space after space', async () => {
		const [a, b] = await twoNodes({ joinsPerMinPerAddress: 3 });
		const ids = [(await create(a)).body.space!.id, (await create(a)).body.space!.id, (await create(a)).body.space!.id, (await create(a)).body.space!.id];
		for (const [i, node] of [a, b, a].entries()) expect((await post(node, `/api/spaces/${ids[i]}/join`, { displayName: 'Hopper' }, { from: '2001:db8:7::1' })).status).toBe(200);
		// Another address of the same /64 is the same network.
		const refused = await post(b, `/api/spaces/${ids[3]}/join`, { displayName: 'Hopper' }, { from: '2001:db8:7::2' });
		expectRefusal(refused, 429, 'rate_limited');
		expect(Number(refused.retryAfter)).toBeGreaterThan(0);
	});

	it('a record that never opened a WebSocket goes after UNCONNECTED_PARTICIPANT_TTL_S, so a flood does not hold the space full; space_full says how soon', async () => {
		const lifecycle = { handDisconnectLowerS: 1, idleEndS: 600, participantIdleTtlS: 3600, maxLiveS: 3600 };
		const spaceLimits = { ...testSpaceLimits, maxParticipants: 3, unconnectedParticipantTtlS: 2 };
		const a = await startTestNode(inject('redisUrl'), { lifecycle }, { openHosting: true, spaceLimits });
		running.push(a);
		const created = await create(a);
		const spaceId = created.body.space!.id;
		await post(a, `/api/spaces/${spaceId}/start`, {}, { bearer: created.body.token! });
		const connected = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Connected' });
		const socket = await SignalingClient.connect(a.wsUrl, connected.body.token!);
		clients.push(socket);
		const never = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Never' });
		const refused = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Late' });
		expectRefusal(refused, 503, 'space_full');
		// The oldest record is the unconnected one, due in 2 s (and a sweep's slack), not in PARTICIPANT_IDLE_TTL_S.
		expect(Number(refused.retryAfter)).toBeLessThanOrEqual(10);
		const store = a.spaces.store;
		const deadline = Date.now() + 10_000;
		while ((await store.getParticipant(asSpaceId(spaceId), asParticipantId(never.body.participant!.id))) && Date.now() < deadline) await sleep(200);
		expect(await store.getParticipant(asSpaceId(spaceId), asParticipantId(never.body.participant!.id))).toBeUndefined();
		expect(await store.getParticipant(asSpaceId(spaceId), asParticipantId(connected.body.participant!.id))).toBeDefined();
		expect((await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Late' })).status).toBe(200);
	}, 30_000);

	it('raised hands per space: one past the limit is refused hand_queue_full; a lowered hand makes room', async () => {
		const [a, b] = await twoNodes({ maxHands: 1 });
		const created = await create(a);
		const spaceId = created.body.space!.id;
		await post(a, `/api/spaces/${spaceId}/start`, {}, { bearer: created.body.token! });
		const tokens = [(await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'One' })).body.token!, (await post(b, `/api/spaces/${spaceId}/join`, { displayName: 'Two' })).body.token!];
		const one = await SignalingClient.connect(a.wsUrl, tokens[0]!);
		const two = await SignalingClient.connect(b.wsUrl, tokens[1]!);
		clients.push(one, two);
		await one.request('raiseHand');
		await expect(two.request('raiseHand')).rejects.toMatchObject({ code: 'hand_queue_full' });
		await one.request('lowerHand');
		await two.request('raiseHand');
	});
});

describe('spaces never started', () => {
	it('expire with every key made for them, unless they go live', async () => {
		const [a] = await twoNodes({ unstartedTtlS: 3600 });
		const created = await create(a);
		const spaceId = created.body.space!.id;
		const listener = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Early' });
		const moderator = await SignalingClient.connect(a.wsUrl, created.body.token!);
		const early = await SignalingClient.connect(a.wsUrl, listener.body.token!);
		clients.push(moderator, early);
		await early.request('raiseHand');
		const banned = await post(a, `/api/spaces/${spaceId}/join`, { displayName: 'Banned' }, { from: '192.0.2.1' });
		await moderator.request('remove', { participantId: banned.body.participant!.id, ban: true, banAddress: true });
		const base = `${a.redisPrefix}:space:{${spaceId}}`;
		// Every key of the space but each participant's token generation (which outlives the tokens it revoked).
		const keys = [base, `${base}:participants`, `${base}:stage`, `${base}:seq`, `${base}:hands`, `${base}:bans`, `${base}:bans:addr`];
		const presence = `${base}:seen`;
		const ttls = async () => Promise.all(keys.map((key) => redisTtl(a, key)));
		for (const ttl of [...(await ttls()), await redisTtl(a, presence)]) {
			expect(ttl).toBeGreaterThan(3500);
			expect(ttl).toBeLessThanOrEqual(3600);
		}
		expect((await post(a, `/api/spaces/${spaceId}/start`, {}, { bearer: created.body.token! })).status).toBe(200);
		expect(await ttls()).toEqual(keys.map(() => -1));
		// Presence then lives while marks keep it (it is dropped when the space ends).
		expect(await redisTtl(a, presence)).toBeGreaterThan(0);
	});

	it('are gone after their time: the page 404s and the listing drops them', async () => {
		const [a] = await twoNodes({ unstartedTtlS: 1 });
		const created = await create(a);
		const spaceId = created.body.space!.id;
		expect((await a.spaces.service.listSpaces({ limit: 10 })).items.map((s) => s.id)).toEqual([spaceId]);
		await new Promise((resolve) => setTimeout(resolve, 1500));
		expect((await fetch(`${a.baseUrl}/api/spaces/${spaceId}`)).status).toBe(404);
		expect((await a.spaces.service.listSpaces({ limit: 10 })).items).toEqual([]);
		expect(await redisZcard(a, `${a.redisPrefix}:spaces`)).toBe(0);
	});
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** TTL (s) of a key on the node's Redis. */
const redisTtl = (node: TestNode, key: string): Promise<number> => node.redis.ttl(key);

const redisZcard = (node: TestNode, key: string): Promise<number> => node.redis.zcard(key);
