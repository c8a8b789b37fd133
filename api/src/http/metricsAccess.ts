import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Registry } from 'prom-client';
import { errorBody } from '../errors.js';
import { everyResponseHeaders } from './securityHeaders.js';
import { bearerToken } from './bearerToken.js';

/**
 * Where `/metrics` is served (README, configuration):
 * - `METRICS_PORT` set: on its own listener, `METRICS_HOST`:`METRICS_PORT` (127.0.0.1 unless told otherwise), and
 *   not on the main port;
 * - else `TRIBUNE_METRICS_TOKEN` set: on the main port, to `Authorization: Bearer <token>` only;
 * - neither: nowhere (`/metrics` is a 404 on the main port), and the node says so once at startup.
 * With both, the token is required on the metrics listener too.
 */
export interface MetricsAccess {
	/** Bearer token a scrape must present, at least 32 characters. */
	token: string | undefined;
	/** Own listener for /metrics; undefined: none. */
	listen: { host: string; port: number } | undefined;
}

/**
 * Whether an `Authorization` header carries the token. Both sides are hashed first, so the comparison takes the
 * same time whatever was sent and however long it is (timingSafeEqual needs equal lengths).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
	const given = bearerToken(header) ?? '';
	const a = createHash('sha256').update(given).digest();
	const b = createHash('sha256').update(token).digest();
	return timingSafeEqual(a, b) && given !== '';
}

/** What a scrape gets: the registry's text, or a 401 with the catalogue's JSON error. */
export async function answerScrape(registry: Registry, token: string | undefined, authorization: string | undefined): Promise<{ status: number; headers: string[]; body: string }> {
	if (token !== undefined && !bearerMatches(authorization, token)) {
		const body = JSON.stringify(errorBody('unauthorized', 'metrics need Authorization: Bearer <TRIBUNE_METRICS_TOKEN>'));
		return { status: 401, headers: ['Content-Type', 'application/json; charset=utf-8', 'WWW-Authenticate', 'Bearer realm="tribune-metrics"'], body };
	}
	return { status: 200, headers: ['Content-Type', registry.contentType], body: await registry.metrics() };
}

/** The metrics listener (`METRICS_PORT`): GET /metrics and nothing else, with the main server's timeouts. */
export async function startMetricsServer(registry: Registry, access: MetricsAccess & { listen: { host: string; port: number } }, serverOptions: http.ServerOptions): Promise<http.Server> {
	const server = http.createServer(serverOptions, (req, res) => {
		const path = (req.url ?? '').split('?')[0];
		const send = (status: number, headers: string[], body: string): void => {
			res.writeHead(status, [...headers, 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body)), ...everyResponseHeaders]).end(body);
		};
		if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
			send(404, ['Content-Type', 'application/json; charset=utf-8'], JSON.stringify(errorBody('not_found', 'only GET /metrics is served here')));
			return;
		}
		answerScrape(registry, access.token, req.headers.authorization).then(
			(reply) => send(reply.status, reply.headers, reply.body),
			() => send(500, ['Content-Type', 'application/json; charset=utf-8'], JSON.stringify(errorBody('internal', 'internal error'))),
		);
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(access.listen.port, access.listen.host, resolve);
	});
	return server;
}
