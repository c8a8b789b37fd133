import { performance } from 'node:perf_hooks';
import { connectRedis, decodeHlsMessage, hlsRedisKeys } from '@tribune/transcoder';
import { compileLoadWorker } from './compileLoadWorker.js';
import { ForkedWorker } from './ForkedWorker.js';
import type { HlsJob, WsJob } from './loadWorker.js';
import { CpuMeter, histogramPercentile, mergeHistograms, rssMb } from './procStats.js';
import { joinListeners, type LiveSpace, type TribuneUnderLoad } from './tribuneUnderLoad.js';

interface WorkerTotals {
	requests: number;
	errors: number;
	liveSyncs: number;
	bytes: number;
	errorSamples: string[];
}

export interface LoadResult {
	clients: number;
	requestsPerS: number;
	p50Ms: number | undefined;
	p95Ms: number | undefined;
	p99Ms: number | undefined;
	samples: number;
	errors: number;
	errorSamples: string[];
	/** Times a listener fell behind and jumped to the live edge (a stall a player would show). */
	liveSyncs: number;
	/** Cores the API process (origin + signaling) used during the measured window. */
	originCores: number | undefined;
	/** Largest RSS of the API process during the window. */
	originRssMb: number | undefined;
	generatorRssMb: number;
	/** Cores the load generator's processes used during the window: it shares the machine with the node it measures. */
	generatorCores: number;
}

interface Phase {
	workers: ForkedWorker[];
	jobs: (HlsJob | WsJob)[];
	rampMs: number;
	durationS: number;
	apiPid: number | undefined;
	refs: () => [number, number][];
	/** Progress lines (stderr). */
	log: (line: string) => void;
	/** Called once a second during the window (the soak samples processes here). */
	onSecond?: () => void;
}

/** Start → all clients up → settle → measured window → finish → delay histograms against the reference times. */
async function runPhase(phase: Phase, clients: number): Promise<LoadResult> {
	const { workers } = phase;
	try {
		workers.forEach((worker, i) => worker.send({ type: 'start', job: phase.jobs[i] }));
		// An overloaded node may never let every client in: measure those that are (the others count as errors).
		const ready = await Promise.all(workers.map((worker) => worker.next('ready', phase.rampMs + 60_000).then(() => true, () => false)));
		phase.log(ready.every(Boolean) ? `all ${clients} clients up; settling` : 'not every client joined within the ramp + 60 s; measuring those that did');
		await sleep(3000);
		for (const worker of workers) worker.send({ type: 'mark' });
		const start = await Promise.all(workers.map((worker) => worker.next<{ totals: WorkerTotals }>('marked', 10_000)));
		const fromMs = performance.timeOrigin + performance.now();
		const cpu = phase.apiPid === undefined ? undefined : new CpuMeter(phase.apiPid);
		const cpuProgress = phase.apiPid === undefined ? undefined : new CpuMeter(phase.apiPid);
		const generatorCpu = workers.flatMap((worker) => (worker.child.pid === undefined ? [] : [new CpuMeter(worker.child.pid)]));
		let maxRss: number | undefined;
		for (let s = 0; s < phase.durationS; s++) {
			await sleep(1000);
			const rss = phase.apiPid === undefined ? undefined : rssMb(phase.apiPid);
			if (rss !== undefined) maxRss = Math.max(maxRss ?? 0, rss);
			phase.onSecond?.();
			if (s % 10 === 9) phase.log(`${s + 1}/${phase.durationS} s${cpuProgress ? `, origin ${cpuProgress.read().toFixed(2)} cores (last 10 s)` : ''}`);
		}
		const toMs = performance.timeOrigin + performance.now();
		const cores = cpu?.read();
		const generatorCores = generatorCpu.reduce((sum, meter) => sum + meter.read(), 0);
		for (const worker of workers) worker.send({ type: 'finish' });
		const ran = await Promise.all(workers.map((worker) => worker.next<{ totals: WorkerTotals; probes: number[]; rssMb: number }>('ran', 30_000)));
		const refs = phase.jobs[0]?.role === 'ws' ? ran.flatMap((r) => r.probes).map((at): [number, number] => [at, 0]) : phase.refs();
		for (const worker of workers) worker.send({ type: 'compute', refs, fromMs, toMs });
		const results = await Promise.all(workers.map((worker) => worker.next<{ histogram: [number, number][] }>('result', 60_000)));
		const histogram = mergeHistograms(results.map((r) => r.histogram));
		const windowRequests = ran.reduce((sum, r, i) => sum + r.totals.requests - (start[i]?.totals.requests ?? 0), 0);
		return {
			clients,
			requestsPerS: Math.round(windowRequests / ((toMs - fromMs) / 1000)),
			p50Ms: histogramPercentile(histogram, 50),
			p95Ms: histogramPercentile(histogram, 95),
			p99Ms: histogramPercentile(histogram, 99),
			samples: histogram.reduce((sum, [, count]) => sum + count, 0),
			errors: ran.reduce((sum, r) => sum + r.totals.errors, 0),
			errorSamples: ran.flatMap((r) => r.totals.errorSamples).slice(0, 10),
			liveSyncs: ran.reduce((sum, r) => sum + (r.totals.liveSyncs ?? 0), 0),
			originCores: cores === undefined ? undefined : Math.round(cores * 100) / 100,
			originRssMb: maxRss === undefined ? undefined : Math.round(maxRss),
			generatorRssMb: Math.round(ran.reduce((sum, r) => sum + r.rssMb, 0)),
			generatorCores: Math.round(generatorCores * 100) / 100,
		};
	} finally {
		for (const worker of workers) worker.kill();
	}
}

export interface HlsLoadOptions {
	tribune: TribuneUnderLoad;
	space: LiveSpace;
	listeners: number;
	workers: number;
	durationS: number;
	/** Share of listeners that fetch preload hints (default 0.5). */
	preloadShare?: number;
	/** Where listeners send their requests (a CDN edge); default the Tribune itself. */
	baseUrl?: string;
	rendition?: string;
	log: (line: string) => void;
	onSecond?: () => void;
}

/**
 * LL-HLS listeners as hls.js behaves in low-latency mode (blocking delta reloads, parts as the playlist lists them)
 * and, for a share of them, as Safari does (the preload-hinted part requested ahead). A part's delay runs from its
 * publication — when the packager's message reaches a Redis subscriber of this process, beside the origin's own
 * subscriber — to the end of its delivery to a listener.
 */
export async function runHlsLoad(options: HlsLoadOptions): Promise<LoadResult> {
	const { tribune, space } = options;
	if (!tribune.redisUrl) throw new Error('the LL-HLS load needs the Redis of the Tribune under load (TRIBUNE_LOAD_REDIS_URL) as its clock');
	const rendition = options.rendition ?? 'audio';
	const published = new Map<number, number>();
	const subscriber = connectRedis(tribune.redisUrl, 'tribune-load-clock');
	const { channel } = hlsRedisKeys(tribune.redisPrefix, space.spaceId);
	subscriber.on('messageBuffer', (_channel: Buffer, frame: Buffer) => {
		const at = performance.timeOrigin + performance.now();
		try {
			const { event } = decodeHlsMessage(frame);
			if (event.type === 'part' && event.rendition === rendition) published.set(event.partSeq, at);
		} catch {
			// not a part
		}
	});
	await subscriber.subscribe(channel);
	const script = compileLoadWorker();
	const workers = Array.from({ length: options.workers }, () => new ForkedWorker(script, 'load worker', ['--max-semi-space-size=32']));
	// Slowly enough that the origin's accept queue (Node's default backlog, 511) does not overflow on a busy machine:
	// a dropped SYN costs its listener a second or more.
	const rampMs = Math.max(2000, options.listeners * 5);
	const jobs: HlsJob[] = workers.map((_, i) => ({
		role: 'hls',
		baseUrl: options.baseUrl ?? tribune.baseUrl,
		playlistDir: `${space.hlsDir}${rendition}/`,
		listeners: share(options.listeners, options.workers, i),
		preloadShare: options.preloadShare ?? 0.5,
		rampMs,
	}));
	try {
		return await runPhase(
			{ workers, jobs, rampMs, durationS: options.durationS, apiPid: tribune.apiPid(), refs: () => [...published.entries()], log: options.log, ...(options.onSecond && { onSecond: options.onSecond }) },
			options.listeners,
		);
	} finally {
		subscriber.disconnect();
	}
}

export interface WsLoadOptions {
	tribune: TribuneUnderLoad;
	space: LiveSpace;
	clients: number;
	workers: number;
	durationS: number;
	/** Background reactions per second across the audience (default 200). */
	reactionsPerS?: number;
	log: (line: string) => void;
}

/**
 * Audience WebSockets: each joins over REST (a listener token) and connects; a background of reactions at
 * `reactionsPerS`, a few hands raised and lowered, and one probe reaction a second of a kind nothing else sends.
 * A client's delay is from the probe's send to the first message carrying that kind it receives.
 */
export async function runWsLoad(options: WsLoadOptions): Promise<LoadResult> {
	options.log(`joining ${options.clients} listeners over REST`);
	const tokens = await joinListeners(options.tribune, options.space.spaceId, options.clients);
	const script = compileLoadWorker();
	const workers = Array.from({ length: options.workers }, () => new ForkedWorker(script, 'load worker', ['--max-semi-space-size=32']));
	const rampMs = Math.max(2000, options.clients * 2);
	let offset = 0;
	const jobs: WsJob[] = workers.map((_, i) => {
		const count = share(options.clients, options.workers, i);
		const slice = tokens.slice(offset, offset + count);
		offset += count;
		return {
			role: 'ws',
			wsUrl: options.tribune.wsUrl,
			tokens: slice,
			reactionsPerS: (options.reactionsPerS ?? 200) / options.workers,
			probes: i === 0,
			handRaisers: Math.ceil(count / 1000),
			rampMs,
		};
	});
	return runPhase({ workers, jobs, rampMs, durationS: options.durationS, apiPid: options.tribune.apiPid(), refs: () => [], log: options.log }, options.clients);
}

function share(total: number, parts: number, index: number): number {
	return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
