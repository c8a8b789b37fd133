import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authSubprotocols } from '../src/signaling/protocol.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * Two real API nodes of one cluster on real Redis: at most 3 listeners per space and 2 signaling connections per
 * client address, over both nodes. The test's sockets come from loopback, a trusted proxy by default, so each names
 * its client address in X-Forwarded-For as an edge would.
 */
const admission = { maxSpaceAudience: 3, maxAddressConnections: 2, retryAfterS: 7 };
let a: TestNode;
let b: TestNode;
const sockets: WebSocket[] = [];
const clients: SignalingClient[] = [];
let nextAddress = 1;
beforeAll(async () => {
	a = await startTestNode(inject('redisUrl'), { admission });
	b = await startTestNode(inject('redisUrl'), { admission }, { cluster: { redisPrefix: a.redisPrefix, tokenKey: a.tokenKey } });
});
afterAll(async () => {
	for (const c of clients) c.close();
	for (const s of sockets) s.close();
	await Promise.all([a?.close(), b?.close()]);
});

/** A signaling connection from `address` (a fresh one per call unless given); resolves once open, or closed early. */
async function open(node: TestNode, token: string, address = `198.51.100.${nextAddress++}`): Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
	const socket = new WebSocket(node.wsUrl, authSubprotocols(token), { headers: { 'x-forwarded-for': address } });
	sockets.push(socket);
	const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
	await new Promise<void>((resolve, reject) => {
		socket.once('open', () => resolve());
		socket.once('error', reject);
	});
	return { socket, closed };
}

/** Whether a socket is still open `ms` after opening (a refusal closes it at once). */
async function staysOpen(c: { closed: Promise<unknown> }, ms = 300): Promise<boolean> {
	return Promise.race([c.closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms))]);
}

describe('admission over every node', () => {
	it('a space takes at most SPACE_MAX_AUDIENCE listeners over both nodes; the stage and other spaces still get in', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const host = await SignalingClient.connect(a.wsUrl, hostToken);
		clients.push(host);
		const tokens = await Promise.all(['L1', 'L2', 'L3', 'L4', 'L5'].map(async (name) => (await joinSpace(a, spaceId, name)).token));
		const l1 = await open(a, tokens[0]!);
		const l2 = await open(a, tokens[1]!);
		await host.waitFor('tick', (d) => d.listenerCount === 2);
		const l3 = await open(b, tokens[2]!);
		await host.waitFor('tick', (d) => d.listenerCount === 3);
		// Full over both nodes, though each node holds fewer than 3.
		const refusedOnB = await open(b, tokens[3]!);
		expect(await refusedOnB.closed).toEqual({ code: 4503, reason: 'retry-after=7' });
		const refusedOnA = await open(a, tokens[4]!);
		expect(await refusedOnA.closed).toEqual({ code: 4503, reason: 'retry-after=7' });
		expect(await staysOpen(l3)).toBe(true);
		// A new visitor's REST join to the full space is 503 `space_full` with Retry-After, on a node serving it.
		const join = await fetch(`${a.baseUrl}/api/spaces/${spaceId}/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ displayName: 'L6' }) });
		expect([join.status, join.headers.get('retry-after'), ((await join.json()) as { error: { code: string } }).error.code]).toEqual([503, '7', 'space_full']);

		// Idle sockets in this space do not lock out another space's listeners, on either node.
		const other = await createLiveSpace(b);
		expect(await staysOpen(await open(a, (await joinSpace(a, other.spaceId, 'O1')).token))).toBe(true);
		expect(await staysOpen(await open(b, (await joinSpace(b, other.spaceId, 'O2')).token))).toBe(true);

		// The host's second connection (on stage) always gets in; a listener who leaves makes room.
		const again = await SignalingClient.connect(b.wsUrl, hostToken);
		clients.push(again);
		expect((await again.request('getState')).you.role).toBe('host');
		l1.socket.close();
		await again.waitFor('tick', (d) => d.listenerCount === 2);
		expect(await staysOpen(await open(b, tokens[3]!))).toBe(true);
		expect(await staysOpen(l2)).toBe(true);
	}, 30_000);

	it('upgrades that pass the space cap together fill only the places left', async () => {
		const { spaceId } = await createLiveSpace(a);
		const tokens = await Promise.all(['B1', 'B2', 'B3', 'B4', 'B5', 'B6'].map(async (name) => (await joinSpace(a, spaceId, name)).token));
		const burst = await Promise.all(tokens.map((token) => open(a, token)));
		const open3 = await Promise.all(burst.map((c) => staysOpen(c)));
		expect(open3.filter(Boolean)).toHaveLength(3);
	}, 30_000);

	it('one space fills at most 80 % of a node beyond its share: the rest stays for other spaces', async () => {
		const node = await startTestNode(inject('redisUrl'), { admission: { maxAudience: 5, retryAfterS: 7 } });
		try {
			const crowded = await createLiveSpace(node);
			const tokens = await Promise.all(['C1', 'C2', 'C3', 'C4', 'C5'].map(async (name) => (await joinSpace(node, crowded.spaceId, name)).token));
			for (const token of tokens.slice(0, 4)) expect(await staysOpen(await open(node, token))).toBe(true);
			const fifth = await open(node, tokens[4]!);
			expect(await fifth.closed).toEqual({ code: 4503, reason: 'retry-after=7' });
			const other = await createLiveSpace(node);
			expect(await staysOpen(await open(node, (await joinSpace(node, other.spaceId, 'O1')).token))).toBe(true);
		} finally {
			await node.close();
		}
	}, 30_000);

	it('one client address holds at most ADDRESS_MAX_CONNECTIONS signaling connections over both nodes', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const other = await createLiveSpace(b);
		const address = '203.0.113.9';
		const first = await open(a, (await joinSpace(a, spaceId, 'P1')).token, address);
		const second = await open(b, (await joinSpace(b, other.spaceId, 'P2')).token, address);
		const third = await open(a, (await joinSpace(a, other.spaceId, 'P3')).token, address);
		expect(await third.closed).toEqual({ code: 4429, reason: 'retry-after=7' });
		// Another address is not concerned, and the host is never turned away (the connection still counts).
		expect(await staysOpen(await open(b, (await joinSpace(b, spaceId, 'Q1')).token, '203.0.113.10'))).toBe(true);
		const hostSocket = await open(a, hostToken, address);
		expect(await staysOpen(hostSocket)).toBe(true);
		expect([await staysOpen(first), await staysOpen(second)]).toEqual([true, true]);
		// The host's connection counts: with the first listener gone the address still holds two.
		first.socket.close();
		await first.closed;
		const fourth = await open(b, (await joinSpace(b, spaceId, 'P4')).token, address);
		expect((await fourth.closed).code).toBe(4429);
		// A place given back on one node is free on the other.
		hostSocket.socket.close();
		await hostSocket.closed;
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(await staysOpen(await open(b, (await joinSpace(b, spaceId, 'P5')).token, address))).toBe(true);
	}, 30_000);
});
