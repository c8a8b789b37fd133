import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asSpaceId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
const clients: SignalingClient[] = [];
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'), { admission: { maxAudience: 3, maxJoinsPerS: 1000, retryAfterS: 7 } });
});
afterAll(async () => {
	for (const c of clients) c.close();
	await node?.close();
});

async function connect(token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

describe('admission control', () => {
	it('a full node turns new listeners away with a retry-after, lets the stage in, and takes listeners again when one leaves', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		// Joined before anyone connected: five listener tokens for three places.
		const tokens = await Promise.all(['A', 'B', 'C', 'D', 'E'].map(async (name) => (await joinSpace(node, spaceId, name)).token));
		const [a, b, c] = await Promise.all(tokens.slice(0, 3).map(connect));
		const refused = await connect(tokens[3]!);
		expect(await refused.waitForClose()).toBe(4503);
		expect(refused.closeReason).toBe('retry-after=7');
		// The host (on stage) is never turned away; a listener reconnecting takes no new place.
		const host = await connect(hostToken);
		expect((await host.request('getState')).you.role).toBe('host');
		const again = await connect(tokens[0]!);
		expect(await a!.waitForClose()).toBe(4009);
		expect((await again.request('getState')).you.displayName).toBe('A');

		// Full: a new visitor's REST join is 503 with Retry-After; the host's rejoin is not.
		const full = await fetch(`${node.baseUrl}/api/spaces/${spaceId}/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ displayName: 'F' }) });
		expect(full.status).toBe(503);
		expect(full.headers.get('retry-after')).toBe('7');
		expect(((await full.json()) as { error: { code: string } }).error.code).toBe('unavailable');
		expect((await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: 'Hana Host', token: hostToken })).status).toBe(200);

		b!.close();
		await host.waitFor('tick', (d) => d.listenerCount === 2);
		const e = await connect(tokens[4]!);
		expect((await e.request('getState')).you.displayName).toBe('E');
		expect(node.spaces.signaling.audienceCount()).toBe(3);
		expect(c!.closeCode).toBeUndefined();
		expect(node.spaces.signaling.connectionCount(asSpaceId(spaceId))).toBe(4);
	});

	it('refuses joins beyond the node\'s join rate with 503 and Retry-After', async () => {
		const limited = await startTestNode(inject('redisUrl'), { admission: { maxJoinsPerS: 2, retryAfterS: 3 } });
		try {
			const { spaceId } = await createLiveSpace(limited);
			const statuses = await Promise.all(Array.from({ length: 5 }, (_, i) => postJson(`${limited.baseUrl}/api/spaces/${spaceId}/join`, { displayName: `J${i}` }).then((r) => r.status)));
			expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
			expect(statuses.filter((s) => s === 200).length).toBeLessThan(5);
			expect(statuses.filter((s) => s !== 200).every((s) => s === 503)).toBe(true);
		} finally {
			await limited.close();
		}
	});
});
