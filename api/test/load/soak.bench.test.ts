import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandOf } from '../support/processes.js';
import { runHlsLoad, type LoadResult } from './audienceLoad.js';
import { fdCount, loadAverage, rssMb } from './procStats.js';
import { startLiveSpace, startTribuneUnderLoad, type LiveSpace, type TribuneUnderLoad } from './tribuneUnderLoad.js';

/**
 * `npm run soak` (scripts/soak.sh): npm start's launcher with a live space of 4 synthetic speakers and 200
 * simulated LL-HLS listeners for TRIBUNE_SOAK_MINUTES (default 30). Every 10 s it samples the RSS and open file
 * descriptors of every Tribune process. After the warm-up (the first fifth, at least a minute) it fails if a
 * process's RSS grows by 10 % or more, if its descriptors grow, or if listeners stall (fall more than a segment
 * behind and jump to the live edge) or get errors. Writes one JSON line to TRIBUNE_BENCH_OUT. Skipped unless
 * TRIBUNE_BENCH=1.
 */
const minutes = Number(process.env.TRIBUNE_SOAK_MINUTES ?? 30);
const listeners = Number(process.env.TRIBUNE_SOAK_LISTENERS ?? 200);
const sampleEveryS = 10;
const log = (line: string): void => void process.stderr.write(`[soak] ${line}\n`);

interface Sample {
	atS: number;
	rss: number;
	fds: number;
}

/** A short name for a Tribune process: what it is, not its arguments. */
function label(pid: number): string {
	const command = commandOf(pid);
	if (command.includes('api/dist/main.js')) return 'api';
	if (command.includes('transcoder/dist/main.js')) return 'transcoder';
	if (command.includes('api/dist/start.js')) return 'launcher';
	if (command.startsWith('redis-server')) return 'redis';
	if (command.includes('mediasoup-worker')) return 'mediasoup-worker';
	if (command.startsWith('ffmpeg')) return command.includes('-f rtp') ? 'ffmpeg-speaker' : 'ffmpeg-broadcast';
	return command.split(' ')[0]?.split('/').at(-1) ?? String(pid);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('soak', () => {
	let tribune: TribuneUnderLoad;
	let space: LiveSpace;

	beforeAll(async () => {
		tribune = await startTribuneUnderLoad();
		space = await startLiveSpace(tribune, 4);
		log(`space ${space.spaceId} is live with 4 synthetic speakers at ${tribune.baseUrl}`);
	}, 180_000);
	afterAll(async () => {
		await tribune?.stop();
	}, 60_000);

	it(`keeps ${listeners} listeners playing for ${minutes} min without growing`, { timeout: (minutes * 60 + 600) * 1000 }, async () => {
		const samples = new Map<string, Sample[]>();
		const startedMs = Date.now();
		let second = 0;
		const sample = (): void => {
			const atS = Math.round((Date.now() - startedMs) / 1000);
			for (const pid of tribune.pids()) {
				const rss = rssMb(pid);
				const fds = fdCount(pid);
				if (rss === undefined || fds === undefined) continue;
				const key = `${label(pid)}:${pid}`;
				const list = samples.get(key) ?? [];
				list.push({ atS, rss, fds });
				samples.set(key, list);
			}
		};
		sample();
		const result: LoadResult = await runHlsLoad({
			tribune,
			space,
			listeners,
			workers: 1,
			durationS: minutes * 60,
			log,
			onSecond: () => {
				if (++second % sampleEveryS === 0) sample();
			},
		});
		const warmUpS = Math.max(60, (minutes * 60) / 5);
		const growth: { process: string; rssStartMb: number; rssEndMb: number; rssGrowthPct: number; fdsStart: number; fdsEnd: number }[] = [];
		for (const [key, list] of samples) {
			const after = list.filter((s) => s.atS >= warmUpS);
			// Only processes that lived through the whole measured window (a restarted ffmpeg is a new process).
			if (after.length < 6 || (list.at(-1)?.atS ?? 0) < (minutes * 60 * 0.9)) continue;
			const start = after.slice(0, 3);
			const end = after.slice(-3);
			const rssStartMb = median(start.map((s) => s.rss));
			const rssEndMb = median(end.map((s) => s.rss));
			growth.push({
				process: key,
				rssStartMb: Math.round(rssStartMb),
				rssEndMb: Math.round(rssEndMb),
				rssGrowthPct: Math.round(((rssEndMb - rssStartMb) / rssStartMb) * 1000) / 10,
				fdsStart: median(start.map((s) => s.fds)),
				fdsEnd: median(end.map((s) => s.fds)),
			});
		}
		const summary = {
			soak_minutes: minutes,
			listeners,
			p50_part_delay_ms: result.p50Ms ?? null,
			p99_part_delay_ms: result.p99Ms ?? null,
			errors: result.errors,
			stalls: result.liveSyncs,
			max_rss_growth_pct: Math.max(...growth.map((g) => g.rssGrowthPct)),
			fd_growth: Math.max(...growth.map((g) => g.fdsEnd - g.fdsStart)),
			processes: growth,
			// The API process's RSS every sample (MB): a leak climbs to the end, a warm-up levels off.
			api_rss_mb: [...samples.entries()].find(([key]) => key.startsWith('api:'))?.[1].map((s) => Math.round(s.rss)) ?? [],
			error_samples: result.errorSamples.slice(0, 5),
			load_after: loadAverage()[0],
		};
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) fs.writeFileSync(out, `${JSON.stringify(summary)}\n`);
		console.log(JSON.stringify(summary));
		expect(growth.length).toBeGreaterThan(3);
		for (const g of growth) {
			expect(g.rssGrowthPct, `${g.process} RSS`).toBeLessThan(10);
			expect(g.fdsEnd, `${g.process} file descriptors`).toBeLessThanOrEqual(g.fdsStart);
		}
		expect(result.liveSyncs, 'listeners that stalled').toBe(0);
		expect(result.errors, 'listener errors').toBe(0);
	});
});
