import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runHlsLoad } from './load/audienceLoad.js';
import { countUpstream, startNginxEdge, type NginxEdge } from './load/nginxEdge.js';
import type { TribuneUnderLoad } from './load/tribuneUnderLoad.js';
import { get } from './origin/support/fetchText.js';
import { LiveStream } from './origin/support/liveStream.js';
import { rawUpgrade } from './support/rawUpgrade.js';

/**
 * The CDN edge (deploy/nginx/tribune-edge.conf in Debian's nginx) in front of a real origin fed by a real packager:
 * simulated LL-HLS listeners (blocking delta reloads, parts, preload hints) through nginx, and the origin counts
 * what reaches it. `npm run bench:audience` with TRIBUNE_AUDIENCE_EDGE runs the same with thousands of listeners.
 */
const listeners = Number(process.env.TRIBUNE_EDGE_LISTENERS ?? 200);

describe('CDN edge (nginx)', () => {
	let live: LiveStream;
	let edge: NginxEdge;
	/** Origin requests per URL (path and query), counted in front of the origin. */
	const atOrigin = new Map<string, number>();

	beforeAll(async () => {
		live = new LiveStream({
			redisUrl: inject('redisUrl'),
			ladder: [{ name: 'audio', audioKbps: 48 }],
			onRequest: (req) => {
				const url = req.url ?? '';
				atOrigin.set(url, (atOrigin.get(url) ?? 0) + 1);
			},
		});
		await live.listen();
		live.startEncoder();
		await live.playlistWith('audio', 'two segments', (p) => p.segments.length >= 2);
		edge = await startNginxEdge(new URL(live.baseUrl).host);
	}, 60_000);
	afterAll(async () => {
		await edge?.stop();
		await live?.close();
	});

	it('marks responses with the cache status and passes errors through uncached', async () => {
		const base = `${edge.baseUrl}/hls/${live.streamId}/audio/`;
		const first = await fetch(`${base}init-0.mp4`);
		await first.arrayBuffer();
		const second = await fetch(`${base}init-0.mp4`);
		await second.arrayBuffer();
		expect(first.status).toBe(200);
		expect(second.headers.get('x-cache')).toBe('HIT');
		const missing = await get(`${base}part-99999999.m4s`);
		expect(missing.status).toBe(404);
		expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'not_found' } });
		const again = await fetch(`${base}part-99999999.m4s`);
		await again.arrayBuffer();
		expect(again.headers.get('x-cache')).not.toBe('HIT');
	});

	it('logs paths, never query strings: a token put in a URL does not reach the access log', async () => {
		const secret = `eyJhbGciOiJIUzI1NiJ9.${'s'.repeat(40)}.leak${Date.now()}`;
		const base = `${edge.baseUrl}/hls/${live.streamId}/audio/`;
		await (await fetch(`${edge.baseUrl}/ws?token=${secret}`)).arrayBuffer();
		await (await fetch(`${base}init-0.mp4?token=${secret}`)).arrayBuffer();
		// An upgrade as an old captioner client made it (this origin takes none: whatever it answers is logged).
		await rawUpgrade(edge.baseUrl.replace(/^http/, 'ws'), `/captions/ws?a=1&token=${encodeURIComponent(secret)}`, {}).catch(() => undefined);
		await (await fetch(`${base}index.m3u8?_HLS_msn=1&token=${secret}`)).arrayBuffer();
		// nginx writes each line as the request ends (no buffer= on the access_log).
		await expect.poll(() => fs.readFileSync(edge.accessLog, 'utf8'), { timeout: 10_000 }).toMatch(/GET \/hls\/\S+\/index\.m3u8 [^\n]*msn=1/);
		const text = fs.readFileSync(edge.accessLog, 'utf8');
		expect(text).toContain('"GET /ws HTTP/1.1"');
		expect(text).toContain(`"GET /hls/${live.streamId}/audio/init-0.mp4 HTTP/1.1"`);
		expect(text).toContain('"GET /captions/ws HTTP/1.1"');
		expect(text).not.toContain('leak');
		expect(text).not.toContain('token');
		expect(text).not.toContain('?');
	});

	it(`collapses ${listeners} listeners' requests to about one origin request per part`, { timeout: 120_000 }, async () => {
		const tribune: TribuneUnderLoad = {
			baseUrl: live.baseUrl,
			wsUrl: '',
			redisUrl: inject('redisUrl'),
			redisPrefix: live.prefix,
			apiPid: () => undefined,
			pids: () => [],
			stop: async () => {},
		};
		const space = { spaceId: live.streamId, hostToken: '', hlsDir: `/hls/${live.streamId}/` };
		atOrigin.clear();
		const result = await runHlsLoad({ tribune, space, listeners, workers: 1, durationS: 10, baseUrl: edge.baseUrl, log: () => {} });
		// Parts the listeners received, as the origin counted them (only parts: playlists have their own URLs).
		const parts = [...atOrigin.entries()].filter(([url]) => /\/audio\/part-\d+\.m4s$/.test(url));
		const reloads = [...atOrigin.entries()].filter(([url]) => url.includes('/audio/index.m3u8?_HLS_msn='));
		const upstream = countUpstream(fs.readFileSync(edge.upstreamLog, 'utf8').split('\n').filter(Boolean));
		console.log(JSON.stringify({
			listeners,
			samples: result.samples,
			p50_ms: result.p50Ms,
			p99_ms: result.p99Ms,
			errors: result.errors,
			listener_requests_per_s: result.requestsPerS,
			origin_part_requests: parts.reduce((sum, [, n]) => sum + n, 0),
			origin_parts: parts.length,
			max_origin_requests_per_part: Math.max(...parts.map(([, n]) => n)),
			max_origin_requests_per_reload: Math.max(...reloads.map(([, n]) => n)),
			nginx_upstream_part_requests: [...upstream.perPart.values()].reduce((sum, n) => sum + n, 0),
		}));
		expect(result.samples).toBeGreaterThan(listeners);
		expect(result.errors).toBeLessThanOrEqual(Math.ceil(result.samples / 100));
		expect(parts.length).toBeGreaterThan(10);
		for (const [url, count] of parts) expect(count, url).toBeLessThanOrEqual(2);
		for (const [url, count] of reloads) expect(count, url).toBeLessThanOrEqual(2);
		// The edge's own log agrees with the origin's count (less the made-up part of the first test; a part in
		// flight as the load stopped may be in one and not yet the other).
		const edgeParts = [...upstream.perPart.keys()].filter((uri) => !uri.includes('part-99999999')).length;
		expect(Math.abs(edgeParts - parts.length)).toBeLessThanOrEqual(2);
	});
});
