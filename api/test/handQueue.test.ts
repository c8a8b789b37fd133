import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EventData, ReplyData } from '../src/signaling/protocol.js';
import { asSpaceId, type ParticipantId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, startTestNode, testSpaceLimits, type TestNode } from './support/startTestNode.js';

/** One real API node on real Redis; a queue of a thousand hands, raised through the space's rules. */
let node: TestNode;
const clients: SignalingClient[] = [];
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'), {}, { spaceLimits: { ...testSpaceLimits, maxHands: 2000 } });
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

/** Joins `n` listeners and raises their hands in order, without a socket each (the rules are the same). */
async function raiseHands(spaceId: string, n: number, prefix: string): Promise<ParticipantId[]> {
	const ids: ParticipantId[] = [];
	for (let i = 0; i < n; i += 100) {
		const batch = await Promise.all(
			Array.from({ length: Math.min(100, n - i) }, (_, j) => node.spaces.service.join(asSpaceId(spaceId), { displayName: `${prefix}${String(i + j).padStart(4, '0')}` })),
		);
		for (const { participant } of batch) {
			await node.spaces.service.raiseHand({ spaceId: asSpaceId(spaceId), participantId: participant.id });
			ids.push(participant.id);
		}
	}
	return ids;
}

describe('raised hands at scale', () => {
	it('with a thousand hands raised, the host receives only the change, under 1 KB each, whatever the length', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const frames: { size: number; event: string }[] = [];
		host.socket.on('message', (raw: Buffer) => frames.push({ size: raw.length, event: (JSON.parse(String(raw)) as { event?: string }).event ?? 'reply' }));
		await raiseHands(spaceId, 1000, 'Bot');
		await host.until(() => (host.events.filter((e) => e.event === 'handQueueChanged').length >= 1000 ? true : undefined), '1000 hand changes', 30_000);

		// Ten more changes at a queue of a thousand: a real listener raises and lowers, bots are declined.
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await connect(lee.token);
		const before = frames.length;
		await listener.request('raiseHand');
		expect(await listener.waitFor('handChanged', (d) => d.raised)).toEqual({ raised: true, position: 1001 });
		const raised = await host.waitFor('handQueueChanged', (d) => d.raised?.id === lee.participantId);
		expect(raised).toEqual({ raised: { id: lee.participantId, displayName: 'Lee', role: 'listener', mute: 'none' }, lowered: null, length: 1001 });
		const bots = (await host.request('getState')).handQueue.slice(0, 8);
		for (const bot of bots) await host.request('denyHand', { participantId: bot.id });
		await listener.request('lowerHand');
		await host.waitFor('handQueueChanged', (d) => d.lowered === lee.participantId);
		const changes = host.events.filter((e) => e.event === 'handQueueChanged').slice(-10).map((e) => e.data as EventData['handQueueChanged']);
		expect(changes.map((c) => c.length)).toEqual([1001, 1000, 999, 998, 997, 996, 995, 994, 993, 992]);

		const changeFrames = frames.filter((f) => f.event === 'handQueueChanged');
		expect(changeFrames.length).toBe(1010);
		expect(Math.max(...changeFrames.map((f) => f.size))).toBeLessThan(1024);
		// Every event the host received over those ten changes (the ticks included; its own replies are not), per change.
		const events = frames.slice(before).filter((f) => f.event !== 'reply');
		expect(events.length).toBeGreaterThanOrEqual(10);
		expect(events.reduce((n, f) => n + f.size, 0) / 10).toBeLessThanOrEqual(1024);
	}, 60_000);

	it('getState has the first page and the count; listHands pages the rest in order, for moderators only', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const ids = await raiseHands(spaceId, 130, 'Q');
		const host = await connect(hostToken);
		const state = await host.request('getState');
		expect(state.handCount).toBe(130);
		expect(state.handQueue.map((p) => p.id)).toEqual(ids.slice(0, 50));

		const paged: string[] = [];
		let after: string | null = null;
		do {
			const page: ReplyData['listHands'] = await host.request('listHands', after === null ? { limit: 40 } : { after, limit: 40 });
			expect(page.length).toBe(130);
			paged.push(...page.hands.map((p) => p.id));
			after = page.next;
		} while (after !== null);
		expect(paged).toEqual(ids);

		// A hand lowered in between: paging after it says so, and the queue can be listed again from the start.
		await node.spaces.service.lowerHand({ spaceId: asSpaceId(spaceId), participantId: ids[9]! });
		const gone = await host.send('listHands', { after: ids[9] });
		expect([gone.ok, gone.error?.code]).toEqual([false, 'not_found']);
		const next = await host.request('listHands', { after: ids[8], limit: 2 });
		expect(next.hands.map((p) => p.id)).toEqual([ids[10], ids[11]]);
		expect(next.length).toBe(129);

		// Deny by default: a listener may not page the queue, nor ask for more than a page.
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await connect(lee.token);
		expect((await listener.send('listHands', {})).error?.code).toBe('forbidden');
		expect((await host.send('listHands', { limit: 51 })).error?.code).toBe('bad_request');
		const listenerState = await listener.request('getState');
		expect([listenerState.handQueue, listenerState.handCount, listenerState.handPosition]).toEqual([[], 0, null]);
		await listener.request('raiseHand');
		expect((await listener.request('getState')).handPosition).toBe(130);
	}, 60_000);
});
