import fs from 'node:fs';
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import type { Logger } from 'pino';
import { errorBody, TribuneError } from './errors.js';
import { isRedisUnavailable, redisUnavailable } from './redis/requestRedis.js';
import { captionsRouter, type CaptionsRouterDeps } from './captions/captionsRouter.js';
import { broadcastStatusRouter, type BroadcastStatusRouterDeps } from './broadcast/broadcastStatusRouter.js';
import { replayExportRouter, type ReplayExportRouterDeps } from './export/replayExportRouter.js';
import type { ApiMetrics } from './metrics.js';
import { answerScrape } from './http/metricsAccess.js';
import { buildSecurityHeaders, securityHeaders, type SecurityHeaders } from './http/securityHeaders.js';
import { parseTrustedProxies, type TrustedProxies } from './http/trustedProxies.js';
import { spacesRouter, type SpacesRouterDeps } from './spaces/spacesRouter.js';
import { hostingRouter, type HostingRouterDeps } from './server/hostingRouter.js';

/** What /healthz reports; `ok` is false when this node cannot serve (Redis down, no mediasoup worker). */
export interface Health {
	ok: boolean;
	redis: 'up' | 'down';
	mediasoupWorkers: number;
	transcoders: number;
}

export interface AppDeps {
	logger: Logger;
	metrics: ApiMetrics;
	health: () => Promise<Health>;
	/** Built player; served at / with index.html for the app's own routes. */
	playerDir: string;
	/** LL-HLS origin (createOriginRouter), mounted at /hls/; absent in apps built without it. */
	origin?: Router;
	/** Spaces REST (/api/spaces); absent in apps built without the stage. */
	spaces?: SpacesRouterDeps;
	/** MP4 exports of replays (/api/spaces/:id/export, /api/spaces/:id/replay.mp4); absent without an export queue. */
	replayExport?: ReplayExportRouterDeps;
	/** Broadcast state and encoder progress for hosts (/api/spaces/:id/broadcast); absent without a broadcast queue. */
	broadcastStatus?: BroadcastStatusRouterDeps;
	/** Caption mode, captioner tokens and pushes, transcripts (/api/spaces/:id/captions, …); absent without them. */
	captions?: CaptionsRouterDeps;
	/** The operator's server API (/api/server/*), admin sign-in, host invites, /api/openapi.json; absent without them. */
	hosting?: HostingRouterDeps;
	/** CSP, framing and the rest, per kind of response; default: the embed may be framed by any site. */
	securityHeaders?: SecurityHeaders;
	/** Peers whose X-Forwarded-For sets req.ip; default: loopback (TRIBUNE_TRUSTED_PROXIES). */
	trustedProxies?: TrustedProxies;
	/**
	 * Serve /metrics on this app to `Authorization: Bearer <token>` only; undefined: /metrics is not served here (it
	 * is a 404: on its own listener, or nowhere; see http/metricsAccess.ts).
	 */
	metricsToken?: string;
}

/** Builds the HTTP app: health, metrics, the player, and JSON errors for everything else. */
export function createApp(deps: AppDeps): Express {
	const app = express();
	app.disable('x-powered-by');
	const proxies = deps.trustedProxies ?? parseTrustedProxies('loopback');
	// The same predicate the connection caps use (http/ConnectionPolicy), so req.ip is the address they count.
	app.set('trust proxy', (address: string) => proxies.trusts(address));
	// First, so every response has them, errors and static files included.
	app.use(securityHeaders(deps.securityHeaders ?? buildSecurityHeaders('any')));

	app.get('/healthz', async (_req, res) => {
		const health = await deps.health();
		res.status(health.ok ? 200 : 503).set('Cache-Control', 'no-store').json(health);
	});

	const metricsToken = deps.metricsToken;
	if (metricsToken !== undefined) {
		app.get('/metrics', async (req, res) => {
			const reply = await answerScrape(deps.metrics.registry, metricsToken, req.headers.authorization);
			res.status(reply.status).set('Cache-Control', 'no-store');
			for (let i = 0; i < reply.headers.length; i += 2) res.set(reply.headers[i]!, reply.headers[i + 1]!);
			res.send(reply.body);
		});
	} else {
		// Not the player's page either (its fallback would answer any other path).
		app.get('/metrics', (_req, _res, next) => next(new TribuneError('not_found', 'metrics are not served on this port')));
	}

	if (deps.replayExport) app.use('/api/spaces', replayExportRouter(deps.replayExport));
	if (deps.broadcastStatus) app.use('/api/spaces', broadcastStatusRouter(deps.broadcastStatus));
	if (deps.captions) app.use('/api/spaces', captionsRouter(deps.captions));
	if (deps.spaces) app.use('/api/spaces', spacesRouter(deps.spaces));
	if (deps.hosting) app.use('/api', hostingRouter(deps.hosting));
	if (deps.origin) app.use('/hls', deps.origin);
	app.use('/api', (_req, _res, next) => next(new TribuneError('not_found', 'no such API route')));

	const indexHtml = path.join(deps.playerDir, 'index.html');
	if (fs.existsSync(indexHtml)) {
		// Hashed assets never change; index.html must be revalidated so a deploy reaches everyone.
		app.use('/assets', express.static(path.join(deps.playerDir, 'assets'), { immutable: true, maxAge: '1y', fallthrough: false }));
		app.use(express.static(deps.playerDir, { index: false, maxAge: 0 }));
		app.get(/^\/(?!api\/|hls\/|ws$).*/, (_req, res) => res.set('Cache-Control', 'no-cache').sendFile(indexHtml));
	} else {
		deps.logger.warn({ playerDir: deps.playerDir }, 'player is not built (npm run build); serving the API only');
	}

	app.use((_req, _res, next) => next(new TribuneError('not_found', 'not found')));

	const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
		const outage = !(error instanceof TribuneError) && isRedisUnavailable(error);
		if (outage) deps.logger.warn({ err: error, method: req.method, path: req.path }, 'request failed: redis unavailable');
		const known = error instanceof TribuneError ? error : outage ? redisUnavailable() : fromHttpError(error);
		if (!known) deps.logger.error({ err: error, method: req.method, path: req.path }, 'unhandled request error');
		const reply = known ?? new TribuneError('internal', 'internal error');
		if (res.headersSent) {
			res.end();
			return;
		}
		// A refusal that waiting helps (RetryLaterError, a full node) says when to try again.
		const retryAfterS = (reply as { retryAfterS?: unknown }).retryAfterS;
		if (typeof retryAfterS === 'number') res.set('Retry-After', String(retryAfterS));
		res.status(reply.status).set('Cache-Control', 'no-store').json(errorBody(reply.code, reply.message));
	};
	app.use(onError);
	return app;
}

/** Maps errors thrown by Express and its middleware (body-parser, serve-static) that carry an HTTP status. */
function fromHttpError(error: unknown): TribuneError | undefined {
	if (typeof error !== 'object' || error === null) return undefined;
	const status = (error as { status?: unknown }).status;
	if (typeof status !== 'number') return undefined;
	if (status === 404) return new TribuneError('not_found', 'not found');
	if (status === 413) return new TribuneError('payload_too_large', 'request body too large');
	if (status === 416) return new TribuneError('range_not_satisfiable', 'range not satisfiable');
	if (status >= 400 && status < 500) return new TribuneError('bad_request', 'malformed request');
	return undefined;
}
