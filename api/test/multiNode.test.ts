import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TickData } from '../src/signaling/protocol.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, type TestNode } from './support/startTestNode.js';

/** Two real API processes on one real Redis serving the same space. */
let cluster: Awaited<ReturnType<typeof startCluster>>;
let a: ApiProcess;
let b: ApiProcess;
const clients: SignalingClient[] = [];

beforeAll(async () => {
	cluster = await startCluster();
	[a, b] = await Promise.all([ApiProcess.start(cluster), ApiProcess.start(cluster)]);
}, 90_000);
afterAll(async () => {
	for (const c of clients) c.close();
	await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
	await cluster?.stop();
});

async function connect(node: ApiProcess, token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

/** The REST helpers take a TestNode; they only need its base URL. */
const rest = (node: ApiProcess) => ({ baseUrl: node.baseUrl }) as TestNode;
const ticks = (c: SignalingClient) => c.events.filter((e) => e.event === 'tick').map((e) => e.data as TickData);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('several API nodes on one Redis', () => {
	it('a hand raised on node B reaches the host on node A, who brings them on stage; events reach each client once', async () => {
		const { spaceId, hostToken } = await createLiveSpace(rest(a));
		const host = await connect(a, hostToken);
		const lee = await joinSpace(rest(b), spaceId, 'Lee');
		const listener = await connect(b, lee.token);
		await host.waitFor('tick', (d) => d.listenerCount === 1);

		await listener.request('raiseHand');
		const queued = await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.raised?.id === lee.participantId));
		expect(queued).toEqual({ changes: [{ raised: expect.objectContaining({ displayName: 'Lee' }), lowered: null }], length: 1 });
		await listener.waitFor('handChanged', (d) => d.raised && d.position === 1);

		await host.request('approveHand', { participantId: lee.participantId });
		// Node B issued the new token for its own connection: it connects as a speaker.
		const renewed = await listener.waitFor('tokenRenewed');
		expect(renewed.role).toBe('speaker');
		await listener.waitFor('roleChanged', (d) => d.participant.id === lee.participantId && d.participant.role === 'speaker');
		await host.request('pin', { participantId: lee.participantId });
		expect((await listener.waitFor('pinnedChanged')).participantIds).toEqual([lee.participantId]);
		await listener.request('mute', { participantId: lee.participantId });
		expect(await host.waitFor('muteChanged')).toEqual({ participantId: lee.participantId, mute: 'self' });
		await host.waitFor('tick', (d) => d.listenerCount === 0);

		// Anything late or doubled would show up here.
		await sleep(500);
		const count = (c: SignalingClient, event: string) => c.events.filter((e) => e.event === event).length;
		expect([count(host, 'handQueueChanged'), count(host, 'roleChanged'), count(host, 'pinnedChanged'), count(host, 'muteChanged')]).toEqual([2, 1, 1, 1]);
		expect([count(listener, 'roleChanged'), count(listener, 'tokenRenewed'), count(listener, 'pinnedChanged'), count(listener, 'muteChanged')]).toEqual([1, 1, 1, 1]);
		const speaker = await connect(a, renewed.token);
		expect((await speaker.request('getState')).you.role).toBe('speaker');
	});

	it('listener counts add up over the nodes, joins and reactions on one node reach the other once', async () => {
		const { spaceId, hostToken } = await createLiveSpace(rest(a));
		const host = await connect(a, hostToken);
		const onA = await Promise.all(['A1', 'A2', 'A3'].map(async (name) => connect(a, (await joinSpace(rest(a), spaceId, name)).token)));
		const onB = await Promise.all(['B1', 'B2'].map(async (name) => connect(b, (await joinSpace(rest(b), spaceId, name)).token)));
		await host.waitFor('tick', (d) => d.listenerCount === 5);
		await onB[0]!.waitFor('tick', (d) => d.listenerCount === 5);
		// Everyone who connected on B was announced on A, once.
		const joinedOnA = () => ticks(host).flatMap((t) => (t.joined ?? []).map((p) => p.displayName));
		await host.until(() => (['B1', 'B2'].every((n) => joinedOnA().includes(n)) ? true : undefined), 'B joins on A');

		await onB[1]!.request('react', { reaction: 'fire' });
		await onA[0]!.request('react', { reaction: 'fire' });
		const fires = (c: SignalingClient) => ticks(c).flatMap((t) => t.reactions ?? []).filter((r) => r.reaction === 'fire').reduce((n, r) => n + r.count, 0);
		await host.until(() => (fires(host) >= 2 ? true : undefined), 'two fires on A');
		await onB[0]!.until(() => (fires(onB[0]!) >= 2 ? true : undefined), 'two fires on B');

		onB[1]!.close();
		await host.waitFor('tick', (d) => d.listenerCount === 4);
		await sleep(500);
		expect([fires(host), fires(onB[0]!), fires(onA[1]!)]).toEqual([2, 2, 2]);
		expect(joinedOnA().filter((n) => n === 'B1' || n === 'B2').sort()).toEqual(['B1', 'B2']);
	});

	it('a node killed with SIGKILL drops out of the listener count when its count expires', async () => {
		const { spaceId, hostToken } = await createLiveSpace(rest(a));
		const host = await connect(a, hostToken);
		const c = await ApiProcess.start(cluster);
		try {
			await Promise.all(['C1', 'C2'].map(async (name) => connect(c, (await joinSpace(rest(c), spaceId, name)).token)));
			await connect(a, (await joinSpace(rest(a), spaceId, 'A1')).token);
			await host.waitFor('tick', (d) => d.listenerCount === 3);
			await c.kill('SIGKILL');
			// 15 s without a refresh, then the next refresh on A (every 5 s) leaves C's listeners out.
			await host.waitFor('tick', (d) => d.listenerCount === 1, 40_000);
		} finally {
			await c.kill();
		}
	}, 90_000);
});
