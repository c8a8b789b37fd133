import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { BroadcastQueue, connectRedis, ExportQueue } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createApp } from '../../src/createApp.js';
import { createApiMetrics } from '../../src/metrics.js';
import type { ParticipantInfo, SpaceInfo } from '../../src/signaling/protocol.js';
import { createSpaces, type Spaces, type SpacesOptions } from '../../src/spaces/createSpaces.js';
import type { SpaceLimits } from '../../src/spaces/SpaceLimits.js';
import { hostingFor } from './hostingNode.js';

export interface TestNode {
	baseUrl: string;
	wsUrl: string;
	spaces: Spaces;
	workers: WorkerPool;
	/** This node's Redis key prefix. */
	redisPrefix: string;
	/** This node's Redis connection (tests may read keys under `redisPrefix`). */
	redis: Redis;
	/** The key participant and captioner tokens are signed with. */
	tokenKey: Uint8Array;
	/** The HTTP server (tests may watch its requests and upgrades). */
	server: http.Server;
	close(): Promise<void>;
}

/**
 * An API node as main.ts builds it (real Redis with a fresh key prefix, a real mediasoup worker, HTTP and
 * WebSocket on a free loopback port), for integration tests.
 */
export async function startTestNode(
	redisUrl: string,
	signaling: SpacesOptions['signaling'] = {},
	options: {
		syntheticSpeakerDir?: string;
		hlsRoot?: string;
		/** Serve hosting (/api/server/*, admin sessions, host invites, /api/openapi.json) with this operator's key. */
		adminKey?: string;
		/** Serve the broadcast state and replay export routes too, with real queues on this Redis (as main.ts does). */
		queues?: boolean;
		/** Anyone may create spaces. Default: `TRIBUNE_OPEN_HOSTING` of the test process (true: vitest.config.ts). */
		openHosting?: boolean;
		/** Default `testSpaceLimits`: tests create and start spaces from one address far faster than people do. */
		spaceLimits?: Partial<SpaceLimits>;
		/** Join another node's cluster: its Redis key prefix and token key (default: a fresh prefix and key). */
		cluster?: { redisPrefix: string; tokenKey: Uint8Array };
	} = {},
): Promise<TestNode> {
	const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
	const redis = connectRedis(redisUrl, 'test-node');
	const ingestConfig = loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' });
	const workers = await WorkerPool.create(ingestConfig, logger);
	const redisPrefix = options.cluster?.redisPrefix ?? `test-${randomUUID()}`;
	const tokenKey = options.cluster?.tokenKey ?? new TextEncoder().encode(randomUUID() + randomUUID());
	const hosting = options.adminKey === undefined ? undefined : hostingFor(redis, redisPrefix, tokenKey, options.adminKey);
	const queues = options.queues ? { broadcast: new BroadcastQueue(redis, redisPrefix), exports: new ExportQueue(redis, redisPrefix) } : undefined;
	const spaces = createSpaces({
		redis,
		redisPrefix,
		openHosting: options.openHosting ?? process.env.TRIBUNE_OPEN_HOSTING === 'true',
		spaceLimits: options.spaceLimits ?? testSpaceLimits,
		...(hosting && { verifyHostCredential: (credential: string) => hosting.hosts.verify(credential), hostExists: (hostId: string) => hosting.hosts.exists(hostId) }),
		tokenKey,
		tokenTtlS: 600,
		maxSpeakersLimit: 25,
		workers,
		ingest: ingestConfig,
		logger,
		signaling: { presenceBatchMs: 20, ...signaling },
		syntheticSpeakerDir: options.syntheticSpeakerDir,
	});
	const health = async () => ({ ok: true, redis: 'up' as const, mediasoupWorkers: 1, transcoders: 0 });
	const app = createApp({ logger, metrics: createApiMetrics(), health, playerDir: '/nonexistent', spaces: { service: spaces.service, synthetic: spaces.synthetic },
		captions: { service: spaces.service, tokens: spaces.captions.tokens, pushes: spaces.captions.pushes, hlsRoot: options.hlsRoot ?? '/nonexistent' },
		...(hosting && { hosting: hosting.deps(spaces) }),
		...(queues && {
			broadcastStatus: { service: spaces.service, queue: queues.broadcast },
			replayExport: { service: spaces.service, queue: queues.exports, hlsRoot: options.hlsRoot ?? '/nonexistent' },
		}),
	});
	const server = http.createServer(app);
	spaces.signaling.attach(server);
	spaces.captions.socket.attach(server);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}`,
		wsUrl: `ws://127.0.0.1:${port}/ws`,
		spaces,
		workers,
		redisPrefix,
		redis,
		tokenKey,
		server,
		async close() {
			spaces.close();
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
			workers.close();
			await Promise.all([queues?.broadcast.close(), queues?.exports.close()]);
			redis.disconnect();
		},
	};
}

/** Space limits of test nodes unless a test sets its own: none that a test's burst of creates and starts reaches. */
export const testSpaceLimits: Partial<SpaceLimits> = Object.freeze({
	liveSpacesMax: 100_000,
	liveSpacesPerHost: 100_000,
	createsPerMinPerIdentity: 100_000,
	createsPerMinPerAddress: 100_000,
	joinsPerMinPerAddress: 1_000_000,
	joinsPerMinPerAddressInSpace: 1_000_000,
});

/** The JSON bodies of /api/spaces responses. */
export interface ApiBody {
	space?: SpaceInfo;
	participant?: ParticipantInfo;
	token?: string;
	/** An anonymous identity credential (join; create with open hosting). */
	identity?: string;
	error?: { code: string; message: string };
}

/** POSTs JSON and returns status and body. */
/**
 * POSTs JSON, with a participant, host or operator token when given, as a client at `from` (a test node believes
 * X-Forwarded-For from loopback, as a node does by default); the reply's status, body and Retry-After.
 */
export async function postJson(url: string, body: unknown, token?: string, from?: string): Promise<{ status: number; body: ApiBody; retryAfter: string | null }> {
	const res = await fetch(url, {
		method: 'POST',
		headers: {
			'content-type': 'application/json',
			...(token ? { authorization: `Bearer ${token}` } : {}),
			...(from !== undefined && { 'x-forwarded-for': from }),
		},
		body: JSON.stringify(body),
	});
	return { status: res.status, body: (await res.json()) as ApiBody, retryAfter: res.headers.get('retry-after') };
}

/** Creates a space over REST, starts it, and returns the host's token and ids. */
export async function createLiveSpace(node: TestNode, settings: Record<string, unknown> = {}): Promise<{ spaceId: string; hostId: string; hostToken: string }> {
	const created = await postJson(`${node.baseUrl}/api/spaces`, { title: 'Test space', hostName: 'Hana Host', settings });
	if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
	const spaceId = created.body.space!.id;
	const hostToken = created.body.token!;
	const started = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/start`, {}, hostToken);
	if (started.status !== 200) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
	return { spaceId, hostId: created.body.participant!.id, hostToken };
}

export async function joinSpace(node: TestNode, spaceId: string, displayName: string): Promise<{ participantId: string; token: string }> {
	const joined = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName });
	if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
	return { participantId: joined.body.participant!.id, token: joined.body.token! };
}
