import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * `npm run bench:captioner`: how long a captioner's line takes to reach everyone in a space over signaling, on
 * loopback. One API node with real Redis; `clients` WebSocket clients in one space; a captioner pushes `cues` finals
 * a quarter second apart over REST. Per cue and client: from the POST's start to the `caption` event's arrival
 * (same process, same clock). Writes { clients, cues, post_p50_ms, deliver_p50_ms, deliver_p95_ms, deliver_p99_ms,
 * deliver_max_ms, missing } to TRIBUNE_BENCH_OUT. Skipped unless TRIBUNE_BENCH=1.
 */
const clientCount = Math.min(2000, Number(process.env.TRIBUNE_BENCH_CLIENTS ?? 300));
const cueCount = Math.min(200, Number(process.env.TRIBUNE_BENCH_CUES ?? 40));

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('captioner fan-out bench', () => {
	let node: TestNode;
	const clients: SignalingClient[] = [];
	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'));
	});
	afterAll(async () => {
		for (const c of clients) c.close();
		await node?.close();
	});

	it(`delivers ${cueCount} captioner lines to ${clientCount} clients`, { timeout: 300_000 }, async () => {
		const { spaceId, hostToken } = await createLiveSpace(node, { captionMode: 'sidecar' });
		const arrivals = new Map<string, number[]>();
		// Joins in batches: a bounded number of connections open at once.
		for (let i = 0; i < clientCount; i += 50) {
			const batch = await Promise.all(
				Array.from({ length: Math.min(50, clientCount - i) }, async (_, j) => SignalingClient.connect(node.wsUrl, (await joinSpace(node, spaceId, `L${i + j}`)).token)),
			);
			for (const c of batch) {
				clients.push(c);
				c.socket.on('message', (raw) => {
					const at = performance.now();
					const msg = JSON.parse(String(raw)) as { event?: string; data?: { cues?: { text: string }[] } };
					if (msg.event !== 'caption') return;
					for (const cue of msg.data?.cues ?? []) {
						const list = arrivals.get(cue.text) ?? [];
						list.push(at);
						arrivals.set(cue.text, list);
					}
				});
			}
		}
		const token = ((await postJson(`${node.baseUrl}/api/spaces/${spaceId}/captioner-token`, {}, hostToken)).body as { token: string }).token;
		const posts: number[] = [];
		const sentAt = new Map<string, number>();
		for (let i = 0; i < cueCount; i++) {
			const text = `line ${i} of the captioner bench`;
			const t0 = performance.now();
			sentAt.set(text, t0);
			const res = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/captions`, { text, final: true }, token);
			expect(res.status).toBe(202);
			posts.push(performance.now() - t0);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
		const deadline = Date.now() + 10_000;
		while (Date.now() < deadline && [...sentAt.keys()].some((t) => (arrivals.get(t)?.length ?? 0) < clientCount)) await new Promise((resolve) => setTimeout(resolve, 100));
		const delays: number[] = [];
		let missing = 0;
		for (const [text, t0] of sentAt) {
			const got = arrivals.get(text) ?? [];
			missing += clientCount - got.length;
			for (const at of got) delays.push(at - t0);
		}
		delays.sort((a, b) => a - b);
		posts.sort((a, b) => a - b);
		const round = (x: number) => Math.round(x * 10) / 10;
		const result = {
			clients: clientCount,
			cues: cueCount,
			post_p50_ms: round(percentile(posts, 50)),
			deliver_p50_ms: round(percentile(delays, 50)),
			deliver_p95_ms: round(percentile(delays, 95)),
			deliver_p99_ms: round(percentile(delays, 99)),
			deliver_max_ms: round(delays.at(-1)!),
			missing,
		};
		console.log(JSON.stringify(result));
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);
		expect(missing).toBe(0);
	});
});
