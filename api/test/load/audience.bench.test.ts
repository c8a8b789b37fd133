import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHlsLoad, runWsLoad, type LoadResult } from './audienceLoad.js';
import { countUpstream, startNginxEdge } from './nginxEdge.js';
import { loadAverage } from './procStats.js';
import { startLiveSpace, startTribuneUnderLoad, type LiveSpace, type TribuneUnderLoad } from './tribuneUnderLoad.js';

/**
 * `npm run bench:audience`: how large an audience one Tribune node holds. Starts `npm start`'s launcher on loopback
 * (or targets TRIBUNE_LOAD_URL) with a live audio space of two synthetic speakers — the real stage, broadcast job,
 * ffmpeg and packager — then two phases, one after the other so each has the node to itself:
 * 1. TRIBUNE_AUDIENCE_HLS (3000) LL-HLS listeners (loadWorker.ts), half fetching preload hints; part delay from the
 *    part's publication on Redis to its delivery;
 * 2. TRIBUNE_AUDIENCE_WS (10000) audience WebSockets with reactions and hand raises; delay from a probe reaction's
 *    send to its arrival at every client.
 * 3. with TRIBUNE_AUDIENCE_EDGE=N, N listeners through Debian's nginx running deploy/nginx/tribune-edge.conf; the
 *    origin requests per part come from nginx's log of the requests it sent upstream.
 * Origin CPU and RSS are the API process's (/proc). Writes one JSON line to TRIBUNE_BENCH_OUT. Skipped unless
 * TRIBUNE_BENCH=1.
 */
const hlsListeners = Number(process.env.TRIBUNE_AUDIENCE_HLS ?? 3000);
const wsClients = Number(process.env.TRIBUNE_AUDIENCE_WS ?? 10_000);
const durationS = Number(process.env.TRIBUNE_AUDIENCE_DURATION_S ?? 60);
const workers = Number(process.env.TRIBUNE_AUDIENCE_WORKERS ?? 2);
/** Listeners through the nginx edge (deploy/nginx) in a third phase; 0 skips it. */
const edgeListeners = Number(process.env.TRIBUNE_AUDIENCE_EDGE ?? 0);
const log = (line: string): void => void process.stderr.write(`[bench:audience] ${line}\n`);

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('audience bench', () => {
	let tribune: TribuneUnderLoad;
	let space: LiveSpace;

	beforeAll(async () => {
		tribune = await startTribuneUnderLoad();
		space = await startLiveSpace(tribune, 2);
		log(`space ${space.spaceId} is live at ${tribune.baseUrl}`);
	}, 180_000);
	afterAll(async () => {
		await tribune?.stop();
	}, 60_000);

	it(`holds ${hlsListeners} LL-HLS listeners, then ${wsClients} audience WebSockets`, { timeout: (3 * durationS + 900) * 1000 }, async () => {
		const loadBefore = loadAverage()[0];
		let hls: LoadResult | undefined;
		if (hlsListeners > 0) {
			log(`LL-HLS: ${hlsListeners} listeners for ${durationS} s`);
			hls = await runHlsLoad({ tribune, space, listeners: hlsListeners, workers, durationS, log });
			log(`LL-HLS: ${JSON.stringify(hls)}`);
		}
		let ws: LoadResult | undefined;
		if (wsClients > 0) {
			log(`WebSockets: ${wsClients} clients for ${durationS} s`);
			ws = await runWsLoad({ tribune, space, clients: wsClients, workers, durationS, log });
			log(`WebSockets: ${JSON.stringify(ws)}`);
		}
		let edge: (LoadResult & { maxOriginPerPart: number }) | undefined;
		if (edgeListeners > 0) {
			log(`edge: ${edgeListeners} listeners through nginx for ${durationS} s`);
			const nginx = await startNginxEdge(new URL(tribune.baseUrl).host, { workers: 1 });
			try {
				const run = await runHlsLoad({ tribune, space, listeners: edgeListeners, workers, durationS, baseUrl: nginx.baseUrl, log });
				const { perPart } = countUpstream(fs.readFileSync(nginx.upstreamLog, 'utf8').split('\n').filter(Boolean));
				edge = { ...run, maxOriginPerPart: Math.max(0, ...perPart.values()) };
				log(`edge: ${JSON.stringify(edge)}`);
			} finally {
				await nginx.stop();
			}
		}
		const result = {
			hls_listeners: hls?.clients ?? 0,
			p99_part_delay_ms: hls?.p99Ms ?? null,
			p95_part_delay_ms: hls?.p95Ms ?? null,
			p50_part_delay_ms: hls?.p50Ms ?? null,
			hls_requests_per_s: hls?.requestsPerS ?? null,
			hls_errors: hls?.errors ?? 0,
			hls_live_syncs: hls?.liveSyncs ?? 0,
			errors: (hls?.errors ?? 0) + (ws?.errors ?? 0),
			origin_cores: hls?.originCores ?? null,
			origin_rss_mb: hls?.originRssMb ?? null,
			generator_cores: hls?.generatorCores ?? null,
			ws_clients: ws?.clients ?? 0,
			ws_p50_ms: ws?.p50Ms ?? null,
			ws_p99_ms: ws?.p99Ms ?? null,
			ws_errors: ws?.errors ?? 0,
			ws_cores: ws?.originCores ?? null,
			ws_rss_mb: ws?.originRssMb ?? null,
			ws_messages_per_s: ws?.requestsPerS ?? null,
			edge_listeners: edge?.clients ?? 0,
			edge_p50_part_delay_ms: edge?.p50Ms ?? null,
			edge_p99_part_delay_ms: edge?.p99Ms ?? null,
			edge_errors: edge?.errors ?? 0,
			edge_max_origin_requests_per_part: edge?.maxOriginPerPart ?? null,
			edge_origin_cores: edge?.originCores ?? null,
			error_samples: [...(hls?.errorSamples ?? []), ...(ws?.errorSamples ?? [])].slice(0, 5),
			generator_rss_mb: (hls?.generatorRssMb ?? 0) + (ws?.generatorRssMb ?? 0),
			duration_s: durationS,
			load_before: loadBefore,
			load_after: loadAverage()[0],
		};
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) fs.writeFileSync(out, `${JSON.stringify(result)}\n`);
		console.log(JSON.stringify(result));
		// Sanity, not goals: every phase measured something.
		if (hls) expect(hls.samples).toBeGreaterThan(0);
		if (ws) expect(ws.samples).toBeGreaterThan(0);
		if (edge) expect(edge.samples).toBeGreaterThan(0);
	});
});
