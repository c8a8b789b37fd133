import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApp } from '../src/createApp.js';
import { errorCatalogue } from '../src/errors.js';
import { createApiMetrics } from '../src/metrics.js';
import { createOrigin } from '../src/origin/createOrigin.js';
import { LiveStream } from './origin/support/liveStream.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';
import { prng } from './support/fuzzing.js';

/**
 * Hostile HTTP against real servers: the API node (REST, auth) and an origin fed by a real packager (live window
 * and replay store). Seeded mutations of path traversal (plain, percent-encoded, double-encoded, backslashes, NUL),
 * huge URLs and headers, bad `_HLS_*` values, broken JSON bodies, forged / unsigned / foreign tokens and role
 * escalation. Every reply must be a proper HTTP error or a well-formed JSON error from the catalogue (never a 500),
 * nothing outside the replay store may leak, and Redis must hold exactly what it held before. CI sends
 * TRIBUNE_HTTP_FUZZ_COUNT (default 3000); TRIBUNE_BENCH=1 sends 100 000.
 */
const count = Number(process.env.TRIBUNE_HTTP_FUZZ_COUNT ?? (process.env.TRIBUNE_BENCH === '1' ? 100_000 : 3000));
const secret = 'TRIBUNE-FUZZ-SECRET-7f3a';

interface FuzzRequest {
	target: 'api' | 'origin';
	method: string;
	path: string;
	headers: Record<string, string>;
	body?: string;
}

interface Reply {
	status: number;
	contentType: string;
	body: string;
}

const traversals = ['../', '..%2f', '%2e%2e/', '%2e%2e%2f', '%252e%252e%252f', '..\\', '..%5c', '.%2e/', '%c0%ae%c0%ae/', '....//', '%00', '..;/', '/./', '//', '%2F', '~'];
const hlsValues = ['-1', '1e99', 'abc', '', '99999999999999999999', '0x10', '1.5', ' 1', '%00', '[]', '0'.repeat(40), '1&_HLS_msn=2', 'YES', 'NO', 'v2', 'v3'];
const badBodies = [
	'{',
	'{"displayName":',
	'null',
	'[]',
	'"string"',
	'{"displayName":123}',
	'{"displayName":{"$gt":""}}',
	'{"__proto__":{"role":"host"},"displayName":5}',
	'{"constructor":{"prototype":{"role":"host"}}}',
	'{"title":"x","hostName":"y","extra":true}',
	'{"title":"","hostName":""}',
	`{"displayName":"${'a'.repeat(20_000)}"}`,
	`${'['.repeat(5000)}${']'.repeat(5000)}`,
	'{"displayName":"x","token":"' + 'A'.repeat(5000) + '"}',
	'{"displayName":"x","text":"y","video":"yes"}',
];

function b64url(value: unknown): string {
	return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Builds request `index`: a template, then one or two mutations of its path, query, headers, body or token. */
function makeRequest(index: number, ctx: { spaceId: string; streamId: string; tokens: string[] }): FuzzRequest {
	const rand = prng(index * 7919 + 17);
	const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
	const origin = rand() < 0.5;
	const id = rand() < 0.8 ? (origin ? ctx.streamId : ctx.spaceId) : pick(['..', '.', '%2e%2e', 'a'.repeat(300), 'x%00y', '<script>', "'; DROP", '%', '%zz']);
	const originPaths = [
		`/hls/${id}/master.m3u8`,
		`/hls/${id}/audio/index.m3u8`,
		`/hls/${id}/audio/part-${Math.floor(rand() * 1e6)}.m4s`,
		`/hls/${id}/audio/seg-${Math.floor(rand() * 100)}.m4s`,
		`/hls/${id}/audio/init-0.mp4`,
		`/hls/${id}/vod.m3u8`,
		`/hls/${id}/audio/vod.m3u8`,
		`/hls/${id}/subs/seg-1.vtt`,
	];
	const apiPaths = [`/api/spaces/${id}`, `/api/spaces/${id}/join`, `/api/spaces/${id}/start`, `/api/spaces/${id}/end`, `/api/spaces/${id}/synthetic-speakers`, '/api/spaces', `/api/spaces/${id}/export`, `/api/spaces/${id}/replay.mp4`, `/api/spaces/${id}/broadcast`, '/api/nothing', '/healthz'];
	let p = origin ? pick(originPaths) : pick(apiPaths);
	const headers: Record<string, string> = {};
	let method = origin ? pick(['GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE']) : pick(['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH']);
	let body: string | undefined;
	const mutations = 1 + Math.floor(rand() * 2);
	for (let m = 0; m < mutations; m++) {
		switch (Math.floor(rand() * 8)) {
			case 0: {
				// Path traversal, somewhere in the path.
				const parts = p.split('/');
				const at = 1 + Math.floor(rand() * (parts.length - 1));
				parts.splice(at, 0, pick(traversals).repeat(1 + Math.floor(rand() * 6)) + pick(['etc/passwd', 'secret.txt', '../secret.txt', 'hls', '']));
				p = parts.join('/');
				break;
			}
			case 1: {
				const query = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => `${pick(['_HLS_msn', '_HLS_part', '_HLS_skip', '_HLS_msn[]', '_HLS_msn[a]', 'x'])}=${pick(hlsValues)}`);
				p += `?${query.join('&')}`;
				break;
			}
			case 2:
				// A huge URL (the server's header limit is 16 KiB).
				p += `?pad=${'A'.repeat(Math.floor(rand() * 40_000))}`;
				break;
			case 3:
				headers['x-fuzz'] = 'B'.repeat(Math.floor(rand() * 40_000));
				break;
			case 4:
				method = 'POST';
				body = pick(badBodies);
				headers['content-type'] = pick(['application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);
				break;
			case 5: {
				// Tokens: garbage, forged role, unsigned (alg none), a real listener's on host endpoints.
				const real = pick(ctx.tokens);
				const [h, , s] = real.split('.');
				const forged = `${h}.${b64url({ sub: 'p', space: ctx.spaceId, role: 'host', exp: 9_999_999_999 })}.${s}`;
				const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ role: 'host', space: ctx.spaceId, exp: 9_999_999_999 })}.`;
				const expired = `${h}.${b64url({ role: 'host', space: ctx.spaceId, exp: 1 })}.${s}`;
				headers.authorization = pick([`Bearer ${forged}`, `Bearer ${unsigned}`, `Bearer ${expired}`, `Bearer ${real}`, 'Bearer', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'x'.repeat(9000)}`, `Bearer ${real}x`, `bearer ${real}`]);
				break;
			}
			case 6:
				headers.range = pick(['bytes=0-', 'bytes=-1', 'bytes=99999999-', 'bytes=5-1', 'bytes=0-1,2-3,4-5', 'items=0-1', 'bytes=' + '0-1,'.repeat(500)]);
				break;
			default:
				headers['accept-encoding'] = pick(['gzip;q=0', '*', 'br, gzip', 'x'.repeat(100)]);
				headers['x-forwarded-for'] = pick(['127.0.0.1', '::1', 'evil', '1.1.1.1, 127.0.0.1']);
		}
	}
	// A valid body could create a space or join one: bodies are always broken, so no request may change state.
	if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && body === undefined) {
		body = pick(badBodies);
		headers['content-type'] = 'application/json';
	}
	return { target: origin ? 'origin' : 'api', method, path: p, headers, ...(body !== undefined && { body }) };
}

function send(baseUrl: string, agent: http.Agent, request: FuzzRequest): Promise<Reply> {
	const { hostname, port } = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		let req: http.ClientRequest;
		try {
			req = http.request({ host: hostname, port, method: request.method, path: request.path, headers: request.headers, agent }, (res) => {
				const chunks: Buffer[] = [];
				res.on('data', (chunk: Buffer) => chunks.push(chunk));
				res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
				res.on('error', reject);
			});
		} catch (error) {
			// Node's client refuses some paths (control characters): such a request cannot be sent as written.
			resolve({ status: -1, contentType: '', body: String(error) });
			return;
		}
		req.setTimeout(20_000, () => req.destroy(new Error('no reply in 20 s')));
		req.on('error', (error: NodeJS.ErrnoException) => {
			// The server may answer a request it cannot parse (431, 413) and close before the body is written.
			if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve({ status: 0, contentType: '', body: '' });
			else reject(error);
		});
		if (request.body !== undefined) req.write(request.body);
		req.end();
	});
}

/** What is wrong with a reply, or undefined when it is a proper answer. */
function problemWith(reply: Reply, method: string): string | undefined {
	if (reply.status === -1 || reply.status === 0) return undefined;
	if (reply.status < 200 || reply.status > 599) return `status ${reply.status}`;
	if (reply.body.includes(secret)) return 'leaked a file outside the replay store';
	if (reply.status >= 500 && reply.status !== 503) return `server error ${reply.status}: ${reply.body.slice(0, 200)}`;
	if (reply.status < 400) return undefined;
	// Node's HTTP parser answers unparseable requests itself, without a body.
	if (reply.body === '' && (method === 'HEAD' || [400, 413, 414, 431].includes(reply.status))) return undefined;
	if (!reply.contentType.startsWith('application/json')) return `error ${reply.status} as ${reply.contentType}: ${reply.body.slice(0, 120)}`;
	let parsed: { error?: { code?: unknown; message?: unknown } };
	try {
		parsed = JSON.parse(reply.body) as typeof parsed;
	} catch {
		return `error ${reply.status} with a body that is not JSON`;
	}
	const code = parsed.error?.code;
	if (typeof code !== 'string' || typeof parsed.error?.message !== 'string' || !(code in errorCatalogue)) return `error body ${reply.body.slice(0, 200)}`;
	if (errorCatalogue[code as keyof typeof errorCatalogue] !== reply.status) return `code ${code} with status ${reply.status}`;
	return undefined;
}

/**
 * Every key under `prefix` with its type and content: the state a request must not change. Bookkeeping that changes
 * on a timer whatever the requests do is left out: the lifecycle sweep's (its lock, and when each live space's
 * moderators left) and the per-address connection counts' list of live nodes.
 */
async function snapshot(redis: Redis, prefix: string): Promise<Record<string, string>> {
	const keys = (await redis.keys(`${prefix}*`)).filter((key) => !key.includes(':hls:') && !/:lifecycle(?::lock)?$|:\{conn\}:nodes$/.test(key)).sort();
	const out: Record<string, string> = {};
	for (const key of keys) {
		const type = await redis.type(key);
		const value =
			type === 'hash' ? await redis.hgetall(key)
			: type === 'string' ? await redis.get(key)
			: type === 'set' ? (await redis.smembers(key)).sort()
			: type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
			: type === 'list' ? await redis.lrange(key, 0, -1)
			: type;
		out[key] = JSON.stringify(value);
	}
	return out;
}

describe('HTTP fuzzing', () => {
	let node: TestNode;
	let live: LiveStream;
	let redis: Redis;
	/** The production app (createApp) with an origin following the packager's stream, as main.ts builds it. */
	let originServer: http.Server;
	let originUrl = '';
	let closeOrigin: () => void = () => {};
	let ctx: { spaceId: string; streamId: string; tokens: string[] };

	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'));
		live = new LiveStream({ redisUrl: inject('redisUrl'), ladder: [{ name: 'audio', audioKbps: 48 }] });
		await live.listen();
		live.startEncoder();
		// A file beside the replay store: nothing the origin serves may ever contain it.
		fs.writeFileSync(path.join(live.dataDir, 'secret.txt'), secret);
		fs.mkdirSync(path.join(live.dataDir, 'hls'), { recursive: true });
		fs.writeFileSync(path.join(live.dataDir, 'hls', 'secret.txt'), secret);
		await live.playlistWith('audio', 'a segment', (p) => p.segments.length >= 1);
		const space = await createLiveSpace(node);
		const listener = await joinSpace(node, space.spaceId, 'Lou Listener');
		ctx = { spaceId: space.spaceId, streamId: live.streamId, tokens: [listener.token] };
		redis = connectRedis(inject('redisUrl'), 'test-fuzz');
		const logger = pino({ level: 'silent' });
		const origin = createOrigin({ redisUrl: inject('redisUrl'), redisPrefix: live.prefix, dataDir: live.dataDir, windowSegments: 12, logger });
		closeOrigin = origin.close;
		const health = async () => ({ ok: true, redis: 'up' as const, mediasoupWorkers: 1, transcoders: 1 });
		const app = createApp({ logger, metrics: createApiMetrics(), health, playerDir: '/nonexistent', origin: origin.router });
		originServer = http.createServer((req, res) => {
			if (!origin.serveHls(req, res)) app(req, res);
		});
		await new Promise<void>((resolve) => originServer.listen(0, '127.0.0.1', resolve));
		originUrl = `http://127.0.0.1:${(originServer.address() as AddressInfo).port}`;
	}, 60_000);
	afterAll(async () => {
		originServer?.closeAllConnections();
		originServer?.close();
		closeOrigin();
		redis?.disconnect();
		await live?.close();
		await node?.close();
	});

	it(`answers ${count} hostile requests with proper errors, leaks nothing and changes nothing`, { timeout: Math.max(120_000, count * 5) }, async () => {
		const before = await snapshot(redis, node.redisPrefix);
		const agents = { api: new http.Agent({ keepAlive: true, maxSockets: 8 }), origin: new http.Agent({ keepAlive: true, maxSockets: 8 }) };
		const bases = { api: node.baseUrl, origin: originUrl };
		const problems: string[] = [];
		const statuses = new Map<number, number>();
		let next = 0;
		const worker = async (): Promise<void> => {
			while (next < count) {
				const index = next++;
				const request = makeRequest(index, ctx);
				const reply = await send(bases[request.target], agents[request.target], request);
				statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
				const problem = problemWith(reply, request.method);
				if (problem && problems.length < 20) problems.push(`#${index} ${request.method} ${request.path.slice(0, 160)}: ${problem}`);
			}
		};
		await Promise.all(Array.from({ length: 16 }, worker));
		agents.api.destroy();
		agents.origin.destroy();
		console.log(JSON.stringify({ http_fuzz_requests: count, statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])) }));
		expect(problems).toEqual([]);
		// Both servers still answer, and nothing changed.
		expect((await fetch(`${node.baseUrl}/api/spaces/${ctx.spaceId}`)).status).toBe(200);
		expect((await fetch(`${originUrl}/hls/${live.streamId}/audio/index.m3u8`)).status).toBe(200);
		expect(await snapshot(redis, node.redisPrefix)).toEqual(before);
		// Most requests reached a handler (not only the HTTP parser), so the mutations tested the code.
		expect((statuses.get(404) ?? 0) + (statuses.get(400) ?? 0) + (statuses.get(401) ?? 0) + (statuses.get(403) ?? 0)).toBeGreaterThan(count / 3);
	});
});
