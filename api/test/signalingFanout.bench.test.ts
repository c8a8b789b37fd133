import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reactionKinds } from '../src/signaling/protocol.js';
import { Crowd, histogramPercentile, percentile } from './support/crowdHarness.js';
import { joinListeners } from './support/crowdSpace.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * `npm run bench:fanout`: TRIBUNE_BENCH_WS_CLIENTS audience WebSockets (default 10 000) in one space on one API
 * node, in a crowd process of their own on loopback; every second TRIBUNE_BENCH_REACTORS of them (default 100)
 * react at once, TRIBUNE_BENCH_BURSTS times (default 20). `ws_p99_ms`: of every reaction's delivery to every
 * client, from its sending; `all_counted_p99_ms`: per client and burst, until the tick that completed the burst's
 * count. Writes { ws_clients, ws_p50_ms, ws_p99_ms, … } to TRIBUNE_BENCH_OUT. Goal (issue 8): p99 ≤ 250 ms for 10 000 clients on 2 cores, crowd included.
 */
const clients = Number(process.env.TRIBUNE_BENCH_WS_CLIENTS ?? 10_000);
const reactors = Number(process.env.TRIBUNE_BENCH_REACTORS ?? 100);
const bursts = Number(process.env.TRIBUNE_BENCH_BURSTS ?? 20);

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('signaling fan-out bench', () => {
	let node: TestNode;
	let crowd: Crowd;
	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'), { presenceBatchMs: 100 });
		crowd = await Crowd.start();
	});
	afterAll(async () => {
		crowd?.close();
		await node?.close();
	});

	it(`${clients} audience WebSockets, ${reactors} reactions a second`, async () => {
		const { spaceId } = await createLiveSpace(node);
		let t = performance.now();
		const tokens = await joinListeners(node.spaces.service, spaceId, clients);
		const joinS = (performance.now() - t) / 1000;
		t = performance.now();
		const connected = await crowd.connect(node.wsUrl, tokens, 200, 300_000);
		const connectS = (performance.now() - t) / 1000;
		expect(connected.failed).toBe(0);
		await new Promise((resolve) => setTimeout(resolve, 1000));

		const loop = monitorEventLoopDelay({ resolution: 10 });
		loop.enable();
		const serverCpu = process.cpuUsage();
		const crowdCpu = (await crowd.stats()).cpuMs;
		const started = performance.now();
		const delays: number[] = [];
		const histogram: [number, number][] = [];
		let missing = 0;
		let messages = 0;
		for (let i = 0; i < bursts; i++) {
			const burstStart = performance.now();
			const result = await crowd.burst(reactors, reactionKinds[i % reactionKinds.length]!, 5000);
			delays.push(...result.delaysMs);
			histogram.push(...result.histogram);
			missing += result.missing;
			messages += result.messagesPerClient;
			await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (performance.now() - burstStart))));
		}
		const wallMs = performance.now() - started;
		const cpu = process.cpuUsage(serverCpu);
		const after = await crowd.stats();
		loop.disable();
		const result = {
			ws_clients: connected.open,
			reactors_per_s: reactors,
			bursts,
			ws_p50_ms: histogramPercentile(histogram, 50),
			ws_p95_ms: histogramPercentile(histogram, 95),
			ws_p99_ms: histogramPercentile(histogram, 99),
			ws_max_ms: histogramPercentile(histogram, 100),
			all_counted_p50_ms: percentile(delays, 50),
			all_counted_p99_ms: percentile(delays, 99),
			missing,
			still_open: after.open,
			tick_messages_per_client_per_burst: Number((messages / bursts).toFixed(2)),
			server_cpu_pct: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 100),
			crowd_cpu_pct: Math.round(((after.cpuMs - crowdCpu) / wallMs) * 100),
			server_event_loop_p99_ms: Math.round(loop.percentile(99) / 1e6),
			join_s: Number(joinS.toFixed(1)),
			connect_s: Number(connectS.toFixed(1)),
			rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
			load_avg_1m: (await import('node:os')).loadavg()[0]!.toFixed(1),
		};
		console.log(JSON.stringify(result));
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) fs.writeFileSync(out, `${JSON.stringify(result)}\n`);
		expect(missing).toBe(0);
	}, 900_000);
});
