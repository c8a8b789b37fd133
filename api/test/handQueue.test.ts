import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { maxHandChanges, type EventData, type ReplyData } from '../src/signaling/protocol.js';
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
	it('with a thousand hands raised, the host receives only the changes, under 1 KB each, whatever the length', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const frames: { size: number; event: string; data?: EventData['handQueueChanged'] }[] = [];
		host.socket.on('message', (raw: Buffer) => {
			const message = JSON.parse(String(raw)) as { event?: string; data?: EventData['handQueueChanged'] };
			frames.push({ size: raw.length, event: message.event ?? 'reply', data: message.data });
		});
		await raiseHands(spaceId, 1000, 'Bot');
		await host.waitFor('handQueueChanged', (d) => d.length === 1000, 30_000);

		// Ten more changes at a queue of a thousand: a real listener raises and lowers, bots are declined.
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await connect(lee.token);
		const before = frames.length;
		await listener.request('raiseHand');
		expect(await listener.waitFor('handChanged', (d) => d.raised)).toEqual({ raised: true, position: 1001 });
		const raised = await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.raised?.id === lee.participantId));
		expect(raised).toEqual({ changes: [{ raised: { id: lee.participantId, displayName: 'Lee', role: 'listener', mute: 'none' }, lowered: null }], length: 1001 });
		const bots = (await host.request('getState')).handQueue.slice(0, 8);
		for (const bot of bots) await host.request('denyHand', { participantId: bot.id });
		await listener.request('lowerHand');
		await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.lowered === lee.participantId));
		const after = frames.slice(before).filter((f) => f.event === 'handQueueChanged').map((f) => f.data!);
		expect(after.flatMap((d) => d.changes.map((c) => c.raised?.id ?? c.lowered))).toEqual([lee.participantId, ...bots.map((b) => b.id), lee.participantId]);
		expect(after.at(-1)!.length).toBe(992);

		// However many changes an event carries, at most 1 KB each (a resync carries none: its own size).
		for (const f of frames.filter((f) => f.event === 'handQueueChanged')) expect(f.size).toBeLessThan(1024 * Math.max(1, f.data!.changes.length));
		// Every event the host received over those ten changes (the ticks included; its own replies are not), per change.
		const events = frames.slice(before).filter((f) => f.event !== 'reply');
		expect(events.reduce((n, f) => n + f.size, 0) / 10).toBeLessThanOrEqual(1024);
	}, 60_000);

	it('bots raising and lowering in a loop and reconnecting: raises are counted per participant and per space, and the host gets at most 1 KB a change', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		let hostBytes = 0;
		host.socket.on('message', (raw: Buffer) => {
			if ((JSON.parse(String(raw)) as { event?: string }).event !== undefined) hostBytes += raw.length;
		});
		const bots = await Promise.all(Array.from({ length: 30 }, (_, i) => joinSpace(node, spaceId, `Storm${i}`)));
		let accepted = 0;
		let refused = 0;
		await Promise.all(
			bots.map(async (bot) => {
				for (let round = 0; round < 3; round++) {
					// A fresh connection each round: a reconnect does not refill the participant's raises.
					const socket = await SignalingClient.connect(node.wsUrl, bot.token);
					for (let i = 0; i < 3; i++) {
						const reply = await socket.send('raiseHand', {});
						if (!reply.ok) {
							expect(reply.error?.code).toBe('rate_limited');
							refused++;
							continue;
						}
						accepted++;
						await socket.request('lowerHand');
					}
					socket.close();
				}
			}),
		);
		// Three raises per participant, and one more per 5 s, over nine attempts on three connections.
		expect(accepted).toBeLessThanOrEqual(bots.length * 4);
		expect(refused).toBe(bots.length * 9 - accepted);
		const changes = accepted * 2;
		await host.until(() => (host.events.some((e) => e.event === 'handQueueChanged' && (e.data as EventData['handQueueChanged']).length === 0) ? true : undefined), 'the queue empty', 10_000);
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(host.closeCode).toBeUndefined();
		const handEvents = host.events.filter((e) => e.event === 'handQueueChanged').map((e) => e.data as EventData['handQueueChanged']);
		expect(handEvents.length).toBeLessThan(changes);
		for (const d of handEvents) expect(d.changes.length).toBeLessThanOrEqual(maxHandChanges);
		expect(hostBytes / changes).toBeLessThanOrEqual(1024);
		expect((await host.request('getState')).handCount).toBe(0);
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
		// Asking one's place has a bucket of its own (two reads each): two at once, then one per 5 s.
		expect(await listener.request('handPosition')).toEqual({ raised: true, position: 130 });
		await listener.request('handPosition');
		expect((await listener.send('handPosition', {})).error?.code).toBe('rate_limited');
	}, 60_000);
});
