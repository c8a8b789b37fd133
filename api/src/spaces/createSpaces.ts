import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { defaultStageOptions, StageRegistry, type IngestConfig, type WorkerPool } from '@tribune/ingest';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TokenIssuer } from '../auth/TokenIssuer.js';
import { CaptionerTokens } from '../captions/CaptionerTokens.js';
import { CaptionerPushes } from '../captions/CaptionerPushes.js';
import { CaptionerSocket } from '../captions/CaptionerSocket.js';
import { CaptionRelay } from '../captions/CaptionRelay.js';
import { RedisClock } from '../redis/RedisClock.js';
import { requestRedisCommandTimeoutMs } from '../redis/requestRedis.js';
import { RedisCaptionVocabulary } from '../captions/RedisCaptionVocabulary.js';
import { SignalingServer, type SignalingOptions } from '../signaling/SignalingServer.js';
import { SyntheticSpeakers } from '../stage/SyntheticSpeakers.js';
import { RedisSpaceStore } from './RedisSpaceStore.js';
import { IdentityCredentials } from '../auth/IdentityCredentials.js';
import { clientAddressTag } from '../auth/clientAddressTag.js';
import type { SpaceLimits } from './SpaceLimits.js';
import { SpaceService, type VerifyHostCredential } from './SpaceService.js';
import type { SpaceStore } from './SpaceStore.js';

export interface SpacesOptions {
	/** For subscriptions, relays and counts: waits for Redis through an outage (`connectRedis`). */
	redis: Redis;
	/**
	 * For what a request reads and writes (the space store, captioner pushes): fails fast while Redis is away
	 * (`connectRequestRedis`), so REST answers 503 instead of hanging. Default: `redis`.
	 */
	requestRedis?: Redis;
	/** Key prefix on the shared Redis. */
	redisPrefix: string;
	tokenKey: Uint8Array;
	tokenTtlS: number;
	/** Verifies host credentials (`HostIdentities.verify`); absent: none are accepted (create needs open hosting). */
	verifyHostCredential?: VerifyHostCredential;
	/** Whether a host identity still exists (`HostIdentities.exists`): a revoked host's tokens are refused. */
	hostExists?: (hostId: string) => Promise<boolean>;
	/** Anyone may create spaces, as an anonymous identity (`TRIBUNE_OPEN_HOSTING`). Default false. */
	openHosting?: boolean;
	/** Default `defaultSpaceLimits`. */
	spaceLimits?: Partial<SpaceLimits>;
	/** Maximum session age, s (`TOKEN_MAX_SESSION_S`). Default one day. */
	tokenMaxSessionS?: number;
	/** The captioner WebSocket also takes `?token=` (`CAPTIONER_URL_TOKENS`). Default false. */
	captionerUrlTokens?: boolean;
	maxSpeakersLimit: number;
	workers: WorkerPool;
	ingest: Pick<IngestConfig, 'listenIp' | 'announcedIp'>;
	logger: Logger;
	/** Where synthetic speakers' speech goes; unset: synthetic speakers are off. */
	syntheticSpeakerDir?: string;
	/** Rate limits and timings of the WebSocket signaling. */
	signaling?: Pick<SignalingOptions, 'limits' | 'presenceBatchMs' | 'heartbeatMs' | 'admission' | 'lifecycle' | 'trustedProxies' | 'iceServers'>;
}

/** Everything spaces need on an API node, wired together: store → rules → stages → signaling. */
export interface Spaces {
	service: SpaceService;
	/** The state the service keeps; read-only uses outside the service (the broadcast's stage snapshots). */
	store: SpaceStore;
	stages: StageRegistry;
	signaling: SignalingServer;
	synthetic: SyntheticSpeakers | undefined;
	/** Captioner tokens (same key as participant tokens, another audience) and live captions to the WebSocket. */
	captions: { tokens: CaptionerTokens; pushes: CaptionerPushes; socket: CaptionerSocket; relay: CaptionRelay };
	/** Closes signaling and every stage (not the Redis connection or the worker pool, which the caller owns). */
	close(): void;
}

/** A session's maximum age unless configured, s: a long day's space, without renewing a leaked token for ever. */
const defaultMaxSessionS = 24 * 3600;

/** How much sooner than the request connection's command timeout a store change's deadline falls, ms. */
const storeDeadlineMarginMs = 100;

export function createSpaces(options: SpacesOptions): Spaces {
	const { logger } = options;
	const requestRedis = options.requestRedis ?? options.redis;
	// A request connection gives up on a command after `requestRedisCommandTimeoutMs`; the store's changes carry a
	// deadline in Redis's time a margin before that, so a change Redis runs only after thawing from a freeze changes
	// nothing (the margin covers the reply's way back: a change that ran in time is answered in time).
	const clock = options.requestRedis ? new RedisClock(options.requestRedis, { logger: logger.child({ module: 'redis-clock' }) }) : undefined;
	void clock?.start();
	const store = new RedisSpaceStore(requestRedis, options.redisPrefix, {
		...(clock && {
			deadlineMs: () => clock.deadlineMs(requestRedisCommandTimeoutMs - storeDeadlineMarginMs),
			onDeadlineRefused: () => void clock.measure(),
		}),
	});
	const service = new SpaceService({
		store,
		// Where the transcoder reads each space's caption vocabulary.
		vocabulary: new RedisCaptionVocabulary({ redis: requestRedis, prefix: options.redisPrefix }),
		tokens: new TokenIssuer(options.tokenKey, { ttlS: options.tokenTtlS, maxSessionS: options.tokenMaxSessionS ?? defaultMaxSessionS }),
		identities: new IdentityCredentials(options.tokenKey),
		idKey: options.tokenKey,
		addressTag: (address) => clientAddressTag(options.tokenKey, address),
		...(options.verifyHostCredential && { verifyHostCredential: options.verifyHostCredential }),
		...(options.hostExists && { hostExists: options.hostExists }),
		openHosting: options.openHosting ?? false,
		...(options.spaceLimits && { limits: options.spaceLimits }),
		maxSpeakersLimit: options.maxSpeakersLimit,
		...(options.signaling?.lifecycle?.participantIdleTtlS !== undefined && { participantIdleTtlS: options.signaling.lifecycle.participantIdleTtlS }),
		// Signaling knows how many listeners this node holds; it is created below, before any join can arrive.
		admitJoin: (role, spaceId) => signaling.admitJoin(role, spaceId),
	});
	service.onListenerError((event, error) => logger.error({ err: error, event }, 'SpaceService listener threw'));
	const stages = new StageRegistry(
		options.workers,
		{ ...defaultStageOptions, webRtc: { ...defaultStageOptions.webRtc, listenIp: options.ingest.listenIp, announcedIp: options.ingest.announcedIp } },
		logger.child({ module: 'stage' }),
	);
	// Every node relays its signaling through Redis, so any number of them can serve one space.
	const cluster = { redis: options.redis, subscriber: options.redis.duplicate(), prefix: options.redisPrefix, nodeId: newNodeId() };
	const signaling = new SignalingServer({
		service,
		stages,
		logger: logger.child({ module: 'signaling' }),
		// Connections per address are counted in Redis under the same tag as address bans: never the address.
		addressTag: (address) => clientAddressTag(options.tokenKey, address),
		...options.signaling,
		cluster,
	});
	const synthetic =
		options.syntheticSpeakerDir === undefined
			? undefined
			: new SyntheticSpeakers({ service, stages, dir: options.syntheticSpeakerDir, logger: logger.child({ module: 'synthetic-speakers' }) });
	const relay = new CaptionRelay({
		subscriber: options.redis.duplicate(),
		prefix: options.redisPrefix,
		logger: logger.child({ module: 'captions' }),
		// Only the stage reads live captions over signaling: listeners read the LL-HLS subtitle track, in step with
		// the media they hear, and a space's audience is where fan-out costs (one frame per listener per cue batch).
		deliver: (spaceId, cues) => signaling.toStage(spaceId, 'caption', { cues }),
	});
	// A node relays the captions of the spaces it has connections for, wherever they are made.
	signaling.watchRooms({ opened: (spaceId) => relay.watch(spaceId), closed: (spaceId) => relay.unwatch(spaceId) });
	const captionerTokens = new CaptionerTokens(options.tokenKey);
	const pushes = new CaptionerPushes({ service, tokens: captionerTokens, redis: requestRedis, prefix: options.redisPrefix });
	const captionerSocket = new CaptionerSocket({ pushes, logger: logger.child({ module: 'captioner-socket' }), allowUrlToken: options.captionerUrlTokens ?? false });
	let closed = false;
	return {
		service,
		store,
		stages,
		signaling,
		synthetic,
		captions: { tokens: captionerTokens, pushes, socket: captionerSocket, relay },
		close() {
			if (closed) return;
			closed = true;
			clock?.stop();
			synthetic?.close();
			signaling.close();
			relay.close();
			captionerSocket.close();
			stages.closeAll();
		},
	};
}

/** This process among the API nodes on one Redis: host, pid, and random bits (a restarted process is a new node). */
function newNodeId(): string {
	return `${os.hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
