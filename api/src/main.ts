import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, exitCodes, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { BroadcastQueue, connectRedis, createLogger, ExportQueue, TranscoderPresence } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BroadcastCoordinator } from './broadcast/BroadcastCoordinator.js';
import { startWebhooks } from './webhooks/startWebhooks.js';
import { StageLinkServer } from './stageLink/StageLinkServer.js';
import { loadApiConfig } from './config.js';
import { createApp, type Health } from './createApp.js';
import { createApiMetrics } from './metrics.js';
import { createOrigin } from './origin/createOrigin.js';
import { loadTokenSecret } from './auth/loadTokenSecret.js';
import { AdminSessions } from './auth/AdminSessions.js';
import { HostIdentities } from './auth/HostIdentities.js';
import { HostInvites } from './auth/HostInvites.js';
import { loadOperatorKey } from './auth/OperatorKey.js';
import { clientAddressTag } from './auth/clientAddressTag.js';
import { FailedAuthThrottle } from './server/FailedAuthThrottle.js';
import { ListenerTally } from './signaling/ListenerTally.js';
import { createSpaces } from './spaces/createSpaces.js';
import { captionerSocketPath } from './captions/CaptionerSocket.js';
import { refuseUnroutedUpgrades } from './upgrades/upgradeRouting.js';
import { connectRequestRedis } from './redis/requestRedis.js';
import { ConnectionPolicy, httpServerOptions } from './http/ConnectionPolicy.js';
import { startMetricsServer } from './http/metricsAccess.js';
import { buildSecurityHeaders } from './http/securityHeaders.js';
import { iceServersFor } from './turn/turnCredentials.js';
import { CertificateReloader, createRedirectServer, loadCertificate, tlsServerOptions } from './http/tlsServer.js';

/** Redis key prefix shared by every Tribune process on one Redis. */
const redisPrefix = 'tribune';

/**
 * An API node: REST, WebSocket signaling, the LL-HLS origin and the player over one HTTP port, with the stage's
 * mediasoup workers in the same process so signaling reaches the SFU without a hop.
 */
async function main(): Promise<void> {
	const config = loadApiConfig(process.env);
	const ingestConfig = loadIngestConfig(process.env);
	const logger = createLogger('api', config.logLevel);
	const metrics = createApiMetrics();
	const redis = connectRedis(config.redisUrl, 'tribune-api');
	redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
	// REST and captioner pushes fail fast (503) while Redis is away; BullMQ and subscriptions keep `redis`.
	const requestRedis = connectRequestRedis(config.redisUrl, 'tribune-api-requests');
	requestRedis.on('error', (error) => logger.warn({ err: error }, 'redis (requests) connection error'));
	const workers = await WorkerPool.create(ingestConfig, logger.child({ module: 'ingest' }));
	const tokenKey = loadTokenSecret(config.tokenSecret, config.dataDir);
	// Hosting: the operator's key and sessions, host invites and host identities (docs/ARCHITECTURE.md, hosting).
	const operatorKey = loadOperatorKey(config.adminKey, config.dataDir);
	const adminSessions = new AdminSessions({ redis: requestRedis, prefix: redisPrefix, operatorKey });
	const hosts = new HostIdentities({ redis: requestRedis, prefix: redisPrefix, tokenKey });
	const hostInvites = new HostInvites({ redis: requestRedis, prefix: redisPrefix, hostTtlS: config.hostCredentialTtlS });
	const authThrottle = new FailedAuthThrottle({ redis: requestRedis, prefix: redisPrefix, tag: (address) => clientAddressTag(tokenKey, address), logger: logger.child({ module: 'operator-auth' }) });
	// Nodes that each generate a key sign sessions no other node accepts. Under `npm start` (an IPC channel) the
	// launcher says so when it was given a Redis of its own (start.ts).
	if (operatorKey.fromDataDir && process.send === undefined) {
		logger.warn('TRIBUNE_ADMIN_KEY is not set: this node uses the key it generated into <data dir>/admin-key; every API node of a cluster must be given the same TRIBUNE_ADMIN_KEY');
	}
	const turn = config.turn;
	const spaces = createSpaces({
		redis,
		requestRedis,
		redisPrefix,
		tokenKey,
		verifyHostCredential: (credential) => hosts.verify(credential),
		hostExists: (hostId) => hosts.exists(hostId),
		openHosting: config.openHosting,
		spaceLimits: config.spaceLimits,
		tokenTtlS: config.tokenTtlS,
		tokenMaxSessionS: config.tokenMaxSessionS,
		captionerUrlTokens: config.captionerUrlTokens,
		maxSpeakersLimit: config.maxSpeakersLimit,
		workers,
		ingest: ingestConfig,
		logger,
		syntheticSpeakerDir: config.syntheticSpeakers ? path.join(config.dataDir, 'synthetic-speakers') : undefined,
		signaling: {
			admission: config.admission,
			lifecycle: config.lifecycle,
			trustedProxies: config.trustedProxies,
			// Each participant's transports get TURN credentials of their own, minted from TURN_SECRET when asked for.
			...(turn && { iceServers: (participantId: string) => iceServersFor(turn, participantId) }),
		},
	});

	// Transcoders on any machine consume this node's stages through the stage link; this node queues their jobs.
	const nodeId = `${os.hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}`;
	const stageLink = await StageLinkServer.start({
		redis,
		prefix: redisPrefix,
		node: nodeId,
		host: { routerFor: (spaceId) => spaces.stages.get(spaceId)?.router },
		logger: logger.child({ module: 'stage-link' }),
		listenIp: ingestConfig.listenIp,
	});
	const broadcastQueue = new BroadcastQueue(redis, redisPrefix);
	// Waiting broadcasts move up when any broadcast ends, on whichever transcoder (fair scheduling between owners).
	await broadcastQueue.rebalanceOnFinish();
	const exportQueue = new ExportQueue(redis, redisPrefix);
	const broadcasts = new BroadcastCoordinator({
		service: spaces.service,
		store: spaces.store,
		stages: spaces.stages,
		link: stageLink,
		queue: broadcastQueue,
		exports: exportQueue,
		logger: logger.child({ module: 'broadcast' }),
	});
	// Operators' webhooks (TRIBUNE_WEBHOOK_URL): this node's space events, and exports finished on any transcoder.
	const webhooks = config.webhooks
		? await startWebhooks({ ...config.webhooks, redis, prefix: redisPrefix, service: spaces.service, exports: exportQueue, logger: logger.child({ module: 'webhooks' }), dropped: metrics.webhookEventsDropped })
		: undefined;

	const health = async (): Promise<Health> => {
		const [redisUp, transcoders] = await Promise.all([
			withTimeout(redis.ping(), 1000).then(() => true, () => false),
			withTimeout(TranscoderPresence.list(redis, redisPrefix), 1000).then((list) => list.length, () => 0),
		]);
		const mediasoupWorkers = workers.pids.length;
		metrics.mediasoupWorkers.set(mediasoupWorkers);
		metrics.transcoders.set(transcoders);
		return { ok: redisUp && mediasoupWorkers > 0, redis: redisUp ? 'up' : 'down', mediasoupWorkers, transcoders };
	};

	const operatorTally = new ListenerTally(requestRedis, redisPrefix, `${nodeId}-operator`, 15_000);
	const origin = createOrigin({ redisUrl: config.redisUrl, redisPrefix, dataDir: config.dataDir, windowSegments: config.hlsWindowSegments, logger });
	const app = createApp({
		logger,
		metrics,
		health,
		playerDir: config.playerDir,
		spaces: { service: spaces.service, synthetic: spaces.synthetic },
		replayExport: { service: spaces.service, queue: exportQueue, hlsRoot: path.join(config.dataDir, 'hls') },
		broadcastStatus: { service: spaces.service, queue: broadcastQueue },
		captions: { service: spaces.service, tokens: spaces.captions.tokens, pushes: spaces.captions.pushes, hlsRoot: path.join(config.dataDir, 'hls') },
		hosting: {
			spaces: spaces.service,
			sessions: adminSessions,
			invites: hostInvites,
			hosts,
			authThrottle,
			participantCount: (spaceId) => spaces.store.countParticipants(spaceId),
			// Reads only (no count of this node's is written under this name).
			listenerCount: async (spaceId) => (await operatorTally.read(spaceId)).listeners,
		},
		origin: origin.router,
		securityHeaders: buildSecurityHeaders(config.embedOrigins),
		trustedProxies: config.trustedProxies,
		// With a metrics listener of its own, /metrics stays off the public port even when a token is set.
		metricsToken: config.metrics.listen ? undefined : config.metrics.token,
	});
	const connections = new ConnectionPolicy(config.connections, config.trustedProxies, logger.child({ module: 'http' }), () => metrics.connectionsRefused.inc());
	// A bad certificate or key stops the node here, with the file named, before it serves anyone.
	let certificate;
	try {
		certificate = config.tls && loadCertificate(config.tls.certFile, config.tls.keyFile);
	} catch (error) {
		throw new ConfigError(`invalid api configuration:\n  ${(error as Error).message}`);
	}
	// LL-HLS ahead of Express: thousands of listeners each ask for a part every ~200 ms (docs/SCALING.md).
	const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
		// A connection over the per-address cap was answered 429 on accept; what it sends anyway is not served.
		if (connections.refused(req.socket)) return;
		if (!origin.serveHls(req, res)) app(req, res);
	};
	// With TLS_CERT_FILE: HTTPS and WSS on the same port (the upgrade listeners below attach to either server).
	const server: http.Server = certificate
		? https.createServer({ ...httpServerOptions, ...tlsServerOptions, cert: certificate.cert, key: certificate.key }, handle)
		: http.createServer(httpServerOptions, handle);
	const reloader = certificate && config.tls
		? new CertificateReloader(server as https.Server, { certFile: config.tls.certFile, keyFile: config.tls.keyFile, checkS: config.tls.reloadCheckS }, certificate, logger.child({ module: 'tls' }))
		: undefined;
	// `systemctl reload` (and the launcher passing it on): re-read the certificate now. Without TLS there is nothing to
	// reload, but SIGHUP must not stop the node (its default action).
	process.on('SIGHUP', () => {
		if (reloader) reloader.reloadNow();
		else logger.info('SIGHUP: nothing to reload (no TLS_CERT_FILE)');
	});
	connections.attach(server);
	spaces.signaling.attach(server);
	spaces.captions.socket.attach(server);
	refuseUnroutedUpgrades(server, ['/ws', captionerSocketPath]);
	// Last: it puts every upgrade listener attached so far behind the per-address policy.
	connections.guardUpgrades(server);
	// Blocking playlist requests are held for up to ~3 target durations; keep-alive must outlive them.
	server.keepAliveTimeout = httpServerOptions.keepAliveTimeout;
	server.maxHeadersCount = 100;
	const redirectServer = config.tls?.redirectPort === undefined ? undefined : createRedirectServer(config.port, httpServerOptions);
	const metricsServer = config.metrics.listen ? await startMetricsServer(metrics.registry, { ...config.metrics, listen: config.metrics.listen }, httpServerOptions) : undefined;
	if (!config.metrics.listen && !config.metrics.token) logger.info('metrics are off: set METRICS_PORT (own listener) or TRIBUNE_METRICS_TOKEN (bearer on the main port)');
	// An operator may mean it (a private network with its scraper), but it is worth saying: anyone who reaches it reads it.
	if (config.metrics.listen && !config.metrics.token && !isLoopbackHost(config.metrics.listen.host)) {
		logger.warn({ metricsHost: config.metrics.listen.host }, 'metrics listener is not on loopback and needs no token: set TRIBUNE_METRICS_TOKEN unless only your scraper can reach it');
	}
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		// A listener ramp opens thousands of connections at once; Node's default backlog (511) overflowed.
		server.listen(config.port, config.host, 4096, resolve);
	});
	if (redirectServer && config.tls?.redirectPort !== undefined) {
		const redirectPort = config.tls.redirectPort;
		// Bounded like the main port: each connection answers one redirect and is held 5 s at most for its headers.
		redirectServer.maxConnections = config.connections.maxConnections;
		await new Promise<void>((resolve, reject) => {
			redirectServer.once('error', reject);
			redirectServer.listen(redirectPort, config.host, resolve);
		});
	}
	logger.info({ port: config.port, host: config.host, tls: certificate ? { fingerprint: certificate.fingerprint, notAfter: certificate.notAfter.toISOString(), redirectPort: config.tls?.redirectPort } : false, turn: config.turn ? config.turn.urls : false, mediasoupWorkers: workers.pids.length, metrics: config.metrics.listen ?? (config.metrics.token ? 'main port, bearer' : 'off'), trustedProxies: config.trustedProxies.description }, 'api ready');
	if (operatorKey.fromDataDir) offerAdminSignIn(adminSessions, requestRedis, logger);

	let stopping = false;
	const stop = (reason: string): void => {
		if (stopping) return;
		stopping = true;
		logger.info({ reason }, 'api stopping');
		server.close();
		server.closeAllConnections();
		reloader?.close();
		redirectServer?.close();
		redirectServer?.closeAllConnections();
		metricsServer?.close();
		metricsServer?.closeAllConnections();
		broadcasts.close();
		stageLink.close();
		void broadcastQueue.close();
		void exportQueue.close();
		void webhooks?.close();
		spaces.close();
		origin.close();
		workers.close();
		redis.disconnect();
		requestRedis.disconnect();
		// Give pino a tick to flush.
		setImmediate(() => process.exit(0));
	};
	process.on('SIGTERM', () => stop('SIGTERM'));
	process.on('SIGINT', () => stop('SIGINT'));
	process.on('disconnect', () => stop('launcher gone'));
}

/**
 * With a generated operator key (nobody was told it) and a launcher to tell (`npm start`'s IPC channel), until an
 * admin has signed in with one: a one-time sign-in code (cancelling any earlier one), sent to the launcher, which
 * shows the link to whoever started Tribune (`start.ts`). Never logged: a log line would outlive the code's single
 * use in every log store it reaches.
 */
function offerAdminSignIn(sessions: AdminSessions, requestRedis: Redis, logger: Logger): void {
	const send = process.send?.bind(process);
	if (!send) return;
	const offer = async (): Promise<void> => {
		if (requestRedis.status !== 'ready') await once(requestRedis, 'ready');
		if (await sessions.signedInWithCode()) return;
		const code = await sessions.createSignInCode();
		send({ type: 'admin-sign-in', path: `/admin#code=${code}` });
	};
	offer().catch((error: unknown) => logger.warn({ err: error }, 'could not create the admin sign-in link; sign in with the key in <data dir>/admin-key'));
}

/** Whether a bind address is this machine's loopback (127.0.0.0/8, ::1, localhost). */
function isLoopbackHost(host: string): boolean {
	return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
	return new Promise<T>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
		promise.then(
			(value) => {
				clearTimeout(timer);
				resolve(value);
			},
			(error: unknown) => {
				clearTimeout(timer);
				reject(error instanceof Error ? error : new Error(String(error)));
			},
		);
	});
}

main().catch((error: unknown) => {
	process.stderr.write(`api: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(error instanceof ConfigError ? exitCodes.config : 1);
});
