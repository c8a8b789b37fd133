import fs from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { reactionKinds } from '../src/signaling/protocol.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { Crowd, histogramPercentile, percentile } from './support/crowdHarness.js';
import { joinListeners } from './support/crowdSpace.js';
import { createLiveSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * `npm run bench:fanout`: TRIBUNE_BENCH_WS_CLIENTS audience WebSockets (default 10 000) in one space, in a crowd
 * process of their own on loopback; every second TRIBUNE_BENCH_REACTORS of them (default 100) react at once,
 * TRIBUNE_BENCH_BURSTS times (default 20). `ws_p99_ms`: of every reaction's delivery to every client, from its
 * sending; `all_counted_p99_ms`: per client and burst, until the tick that completed the burst's count.
 * TRIBUNE_BENCH_NODES (default 1): with 1, one API node in this process; with more, that many API processes on one
 * Redis, the crowd spread over them round-robin (the relay between them included). TRIBUNE_BENCH_CROWD_PROCESSES
 * (default 2): the crowd's processes, one per core, as a real audience reads on devices of its own. Writes { ws_clients, ws_p50_ms,
 * ws_p99_ms, … } to TRIBUNE_BENCH_OUT. Goal (issue 8): p99 ≤ 250 ms for 10 000 clients on 2 cores, crowd included.
 */
const clients = Number(process.env.TRIBUNE_BENCH_WS_CLIENTS ?? 10_000);
const reactors = Number(process.env.TRIBUNE_BENCH_REACTORS ?? 100);
const bursts = Number(process.env.TRIBUNE_BENCH_BURSTS ?? 20);
const nodeCount = Number(process.env.TRIBUNE_BENCH_NODES ?? 1);
const crowdProcesses = Number(process.env.TRIBUNE_BENCH_CROWD_PROCESSES ?? 2);

/** The API side of the bench: where the crowd connects, how it gets tokens, and the server's CPU time. */
interface Target {
	wsUrls: string[];
	spaceId: string;
	tokens(count: number): Promise<string[]>;
	cpuMs(): number;
	close(): Promise<void>;
}

async function inProcessTarget(): Promise<Target> {
	const node = await startTestNode(inject('redisUrl'), { presenceBatchMs: 100, admission: { maxAudience: 1e6, maxJoinsPerS: 1e6 } });
	const { spaceId } = await createLiveSpace(node);
	return {
		wsUrls: [node.wsUrl],
		spaceId,
		tokens: (count) => joinListeners(node.spaces.service, spaceId, count),
		cpuMs: () => {
			const cpu = process.cpuUsage();
			return (cpu.user + cpu.system) / 1000;
		},
		close: () => node.close(),
	};
}

/** CPU time of a process from /proc, ms (USER_HZ is 100 on Linux). */
function processCpuMs(pid: number | undefined): number {
	if (pid === undefined) return 0;
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function clusterTarget(n: number): Promise<Target> {
	const cluster = await startCluster();
	const env = { NODE_MAX_AUDIENCE: '1000000', NODE_MAX_JOINS_PER_S: '100000', LOG_LEVEL: 'warn' };
	const nodes = await Promise.all(Array.from({ length: n }, () => ApiProcess.start(cluster, env)));
	const { spaceId } = await createLiveSpace({ baseUrl: nodes[0]!.baseUrl } as TestNode);
	return {
		wsUrls: nodes.map((node) => node.wsUrl),
		spaceId,
		async tokens(count) {
			const tokens = new Array<string>(count);
			let next = 0;
			const worker = async (): Promise<void> => {
				while (next < count) {
					const i = next++;
					const joined = await postJson(`${nodes[i % n]!.baseUrl}/api/spaces/${spaceId}/join`, { displayName: `Listener ${i}` });
					if (joined.status !== 200) throw new Error(`join ${joined.status}`);
					tokens[i] = joined.body.token!;
				}
			};
			await Promise.all(Array.from({ length: 32 }, worker));
			return tokens;
		},
		cpuMs: () => nodes.reduce((ms, node) => ms + processCpuMs(node.pid), 0),
		async close() {
			await Promise.all(nodes.map((node) => node.kill('SIGTERM')));
			await cluster.stop();
		},
	};
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('signaling fan-out bench', () => {
	let target: Target | undefined;
	let crowd: Crowd | undefined;
	afterAll(async () => {
		crowd?.close();
		await target?.close();
	});

	it(`${clients} audience WebSockets on ${nodeCount} API node(s), ${reactors} reactions a second`, async () => {
		target = nodeCount > 1 ? await clusterTarget(nodeCount) : await inProcessTarget();
		crowd = await Crowd.start(crowdProcesses);
		let t = performance.now();
		const tokens = await target.tokens(clients);
		const joinS = (performance.now() - t) / 1000;
		t = performance.now();
		const connected = await crowd.connect(target.wsUrls, tokens, 200, 300_000);
		const connectS = (performance.now() - t) / 1000;
		expect(connected.failed).toBe(0);
		await new Promise((resolve) => setTimeout(resolve, 2000));

		const loop = monitorEventLoopDelay({ resolution: 10 });
		loop.enable();
		const serverCpu = target.cpuMs();
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
		const cpuMs = target.cpuMs() - serverCpu;
		const after = await crowd.stats();
		loop.disable();
		const result = {
			ws_clients: connected.open,
			api_nodes: nodeCount,
			crowd_processes: crowdProcesses,
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
			server_cores: Number((cpuMs / wallMs).toFixed(2)),
			crowd_cores: Number(((after.cpuMs - crowdCpu) / wallMs).toFixed(2)),
			// This process's event loop: the API node's when it runs here (TRIBUNE_BENCH_NODES=1).
			event_loop_p99_ms: Math.round(loop.percentile(99) / 1e6),
			join_s: Number(joinS.toFixed(1)),
			connect_s: Number(connectS.toFixed(1)),
			load_avg_1m: Number(os.loadavg()[0]!.toFixed(1)),
		};
		console.log(JSON.stringify(result));
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) fs.writeFileSync(out, `${JSON.stringify(result)}\n`);
		expect(missing).toBe(0);
	}, 900_000);
});
