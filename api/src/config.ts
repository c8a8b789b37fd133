import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envValue, parseEnv } from '@tribune/ingest';
import { redisUrlEnv } from '@tribune/transcoder';
import { z } from 'zod';
import { defaultLifecycleLimits, type LifecycleLimits } from './lifecycle/SpaceLifecycle.js';
import { defaultAdmissionLimits, type AdmissionLimits } from './signaling/Admission.js';
import { defaultConnectionLimits, type ConnectionLimits } from './http/ConnectionPolicy.js';
import type { MetricsAccess } from './http/metricsAccess.js';
import { parseEmbedOrigins, type EmbedOrigins } from './http/securityHeaders.js';
import { parseTrustedProxies, type TrustedProxies } from './http/trustedProxies.js';
import { defaultSpaceLimits, type SpaceLimits } from './spaces/SpaceLimits.js';
import { parseTurnUrls, type TurnConfig } from './turn/turnCredentials.js';

const defaultDataDir = path.join(os.homedir(), '.local', 'share', 'tribune');
const defaultPlayerDir = fileURLToPath(new URL('../../player/dist', import.meta.url));

/** A string env value parsed by `parse`, whose thrown message becomes the variable's error. */
const parsedWith = <T>(parse: (value: string) => T) => (value: string, ctx: z.RefinementCtx): T => {
	try {
		return parse(value);
	} catch (error) {
		ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
		return z.NEVER;
	}
};

const apiSchema = z.object({
	/** HTTP port of the API, WebSocket signaling, LL-HLS origin and player. */
	PORT: envValue.port().default(8080),
	/** Address the HTTP server binds. */
	HOST: z.string().min(1).default('0.0.0.0'),
	REDIS_URL: redisUrlEnv(),
	/** Built player (vite build output) served at /. */
	PLAYER_DIR: z.string().min(1).default(defaultPlayerDir),
	TRIBUNE_DATA_DIR: z.string().min(1).default(defaultDataDir),
	LOG_LEVEL: envValue.logLevel().default('info'),
	/** HS256 key for participant tokens, at least 32 bytes. Unset: generated once into <data dir>/token-secret (0600). */
	TRIBUNE_TOKEN_SECRET: z.string().min(32, 'expected at least 32 characters').optional(),
	/** Lifetime of participant tokens, in seconds. */
	TOKEN_TTL_S: envValue.positiveInt().max(30 * 24 * 3600, 'expected at most 30 days').default(12 * 3600),
	/** Renewals stop this long after a session began (create or join), in seconds; the client then joins again. */
	TOKEN_MAX_SESSION_S: envValue.positiveInt().max(30 * 24 * 3600, 'expected at most 30 days').default(24 * 3600),
	/** Compatibility: the captioner WebSocket also takes `?token=` (URLs end up in access logs). */
	CAPTIONER_URL_TOKENS: envValue.boolean().default(false),
	/** The largest stage (host, co-hosts, speakers) a host may set for a space; new spaces default to 13. */
	SPACE_MAX_SPEAKERS_LIMIT: envValue.positiveInt().max(100, 'expected at most 100').default(25),
	/** Lets hosts put synthetic (espeak-ng + ffmpeg) speakers on stage over REST; for demos and tests. */
	SYNTHETIC_SPEAKERS: envValue.boolean().default(false),
	/** Segments in a live LL-HLS media playlist; more than 6 (CAN-SKIP-UNTIL is 6 target durations). */
	HLS_WINDOW_SEGMENTS: envValue.positiveInt().min(8, 'expected at least 8').max(120, 'expected at most 120').default(12),
	/** Listener WebSockets this node takes (over all spaces) before new ones are told "full, retry later". */
	NODE_MAX_AUDIENCE: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultAdmissionLimits.maxAudience),
	/** REST joins per second this node takes before answering 503 "full, retry later". */
	NODE_MAX_JOINS_PER_S: envValue.positiveInt().max(100_000, 'expected at most 100000').default(defaultAdmissionLimits.maxJoinsPerS),
	/** Retry-After (s) of a "full" answer. */
	NODE_FULL_RETRY_AFTER_S: envValue.positiveInt().max(3600, 'expected at most 3600').default(defaultAdmissionLimits.retryAfterS),
	/** Listener WebSockets one space takes over every node before new ones are told "full, retry later" (4503). */
	SPACE_MAX_AUDIENCE: envValue.positiveInt().max(10_000_000, 'expected at most 10000000').default(defaultAdmissionLimits.maxSpaceAudience),
	/** Signaling WebSockets one client address (IPv6: one /64) holds over every node; more are closed with 4429. */
	ADDRESS_MAX_CONNECTIONS: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultAdmissionLimits.maxAddressConnections),
	/** A live space ends on its own when no host or co-host has been connected on any node for this long, in seconds. */
	SPACE_IDLE_END_S: envValue.positiveInt().max(7 * 24 * 3600, 'expected at most 7 days').default(defaultLifecycleLimits.idleEndS),
	/** A space ends on its own after being live this long, in seconds. */
	SPACE_MAX_LIVE_S: envValue.positiveInt().max(30 * 24 * 3600, 'expected at most 30 days').default(defaultLifecycleLimits.maxLiveS),
	/** A listener's record is removed this long after their last connection, in seconds. */
	PARTICIPANT_IDLE_TTL_S: envValue.positiveInt().max(30 * 24 * 3600, 'expected at most 30 days').default(defaultLifecycleLimits.participantIdleTtlS),
	/** A raised hand is lowered when its owner has been disconnected this long, in seconds. */
	HAND_DISCONNECT_LOWER_S: envValue.positiveInt().max(24 * 3600, 'expected at most 1 day').default(defaultLifecycleLimits.handDisconnectLowerS),
	/** Sites that may frame /embed/<id>: `*` (any) or a comma-separated list of origins. */
	TRIBUNE_EMBED_ORIGINS: z.string().default('*').transform(parsedWith(parseEmbedOrigins)),
	/**
	 * PEM certificate chain (leaf first, as certbot's fullchain.pem) and its key: PORT serves HTTPS and WSS. Both or
	 * neither. Renewed files are picked up without a restart (checked every TLS_RELOAD_CHECK_S, and on SIGHUP).
	 */
	TLS_CERT_FILE: z.string().min(1).optional(),
	TLS_KEY_FILE: z.string().min(1).optional(),
	/** How often the certificate and key files are checked for a renewal, in seconds. */
	TLS_RELOAD_CHECK_S: envValue.positiveInt().max(3600, 'expected at most 3600').default(30),
	/** With TLS: a plain HTTP listener on this port (on HOST) that answers every request with a 308 to https://. */
	HTTP_REDIRECT_PORT: envValue.port().optional(),
	/**
	 * TURN URIs given to speakers with per-participant credentials (comma-separated `turn:`/`turns:` URIs); with
	 * TURN_SECRET. Unset: no TURN (a speaker whose UDP is blocked still has mediasoup's TCP candidates).
	 */
	TURN_URLS: z.string().transform(parsedWith(parseTurnUrls)).optional(),
	/** The TURN server's shared secret (coturn `static-auth-secret`); at least 32 characters. Never echoed. */
	TURN_SECRET: z.string().regex(/^[\x21-\x7e]{32,}$/, 'expected at least 32 characters, printable ASCII without spaces').optional(),
	/**
	 * Lifetime of a minted TURN credential, in seconds. The TURN server checks it on every allocation refresh, so it
	 * bounds how long a stage connection can stay relayed; a new transport (a rejoin) gets a new one.
	 */
	TURN_CREDENTIAL_TTL_S: envValue.positiveInt().min(300, 'expected at least 300').max(48 * 3600, 'expected at most 48 hours').default(12 * 3600),
	/** Bearer token a /metrics scrape must present; header-safe, at least 32 characters. Never echoed. */
	TRIBUNE_METRICS_TOKEN: z.string().regex(/^[\x21-\x7e]{32,}$/, 'expected at least 32 characters, printable ASCII without spaces').optional(),
	/** Address of the metrics listener (with METRICS_PORT). */
	METRICS_HOST: z.string().min(1).default('127.0.0.1'),
	/** Port of a listener serving only /metrics; unset: none. */
	METRICS_PORT: envValue.port().optional(),
	/** Peers whose X-Forwarded-For is believed: `none`, `loopback` or IPs/CIDRs, comma-separated. */
	TRIBUNE_TRUSTED_PROXIES: z.string().default('loopback').transform(parsedWith(parseTrustedProxies)),
	/** Connections the HTTP server holds in all (WebSockets included). */
	HTTP_MAX_CONNECTIONS: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultConnectionLimits.maxConnections),
	/** Concurrent connections one client address holds (IPv6: one /64). */
	HTTP_MAX_CONNECTIONS_PER_ADDRESS: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultConnectionLimits.maxPerAddress),
	/**
	 * Anyone who reaches the server may create spaces (as an anonymous identity), for demos and local use. Default
	 * false: creating a space needs a host credential (an invite from the operator).
	 */
	TRIBUNE_OPEN_HOSTING: envValue.boolean().default(false),
	/** Live spaces in the cluster at once; going live beyond: 503 `capacity`, Retry-After 60. */
	LIVE_SPACES_MAX: envValue.positiveInt().max(100_000, 'expected at most 100000').default(defaultSpaceLimits.liveSpacesMax),
	/** Live spaces one host identity has at once; beyond: 429 `limit_reached`. */
	LIVE_SPACES_PER_HOST: envValue.positiveInt().max(1000, 'expected at most 1000').default(defaultSpaceLimits.liveSpacesPerHost),
	/** Spaces one identity creates a minute (a token bucket in Redis); beyond: 429 `rate_limited` with Retry-After. */
	CREATES_PER_MIN_PER_IDENTITY: envValue.positiveInt().max(10_000, 'expected at most 10000').default(defaultSpaceLimits.createsPerMinPerIdentity),
	/** Spaces one client address (IPv6: one /64) creates a minute; beyond: 429 `rate_limited` with Retry-After. */
	CREATES_PER_MIN_PER_ADDRESS: envValue.positiveInt().max(10_000, 'expected at most 10000').default(defaultSpaceLimits.createsPerMinPerAddress),
	/**
	 * Joins that add a participant record, per client address (IPv6: one /64) a minute, over all spaces and in one
	 * space (Redis token buckets holding a minute's worth); beyond: 429 `rate_limited` with Retry-After. 1200 and 600:
	 * a venue's audience behind one NAT gets 600 in at once and 10 more a second into its space (a rejoin is not
	 * counted), while one address adds at most ~1800 records a space that never connect (they go after
	 * UNCONNECTED_PARTICIPANT_TTL_S).
	 */
	JOINS_PER_MIN_PER_ADDRESS: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultSpaceLimits.joinsPerMinPerAddress),
	JOINS_PER_MIN_PER_ADDRESS_IN_SPACE: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(defaultSpaceLimits.joinsPerMinPerAddressInSpace),
	/** A participant record whose owner never opened a WebSocket goes this long after the join, in seconds. */
	UNCONNECTED_PARTICIPANT_TTL_S: envValue.positiveInt().max(30 * 24 * 3600, 'expected at most 30 days').default(defaultSpaceLimits.unconnectedParticipantTtlS),
	/** Participant records one space holds; a new join beyond: 503 `space_full` with Retry-After. */
	SPACE_MAX_PARTICIPANTS: envValue.positiveInt().max(10_000_000, 'expected at most 10000000').default(defaultSpaceLimits.maxParticipants),
	/** Raised hands one space holds at once; raising one more: 409 `hand_queue_full`. */
	SPACE_MAX_HANDS: envValue.positiveInt().max(100_000, 'expected at most 100000').default(defaultSpaceLimits.maxHands),
	/** A space never started expires (every key of it) this long after creation, in seconds. */
	SPACE_UNSTARTED_TTL_S: envValue.positiveInt().min(60, 'expected at least 60').max(30 * 24 * 3600, 'expected at most 30 days').default(defaultSpaceLimits.unstartedTtlS),
	/** Where webhooks are POSTed (http or https); unset: none are sent. */
	TRIBUNE_WEBHOOK_URL: z.string().transform(parsedWith(parseWebhookUrl)).optional(),
	/** Key of the webhooks' HMAC-SHA256 signature; at least 32 characters, required with TRIBUNE_WEBHOOK_URL. Never echoed. */
	TRIBUNE_WEBHOOK_SECRET: z.string().regex(/^[\x21-\x7e]{32,}$/, 'expected at least 32 characters, printable ASCII without spaces').optional(),
	/** The secret being rotated out: while set, each webhook also carries a signature with it. Never echoed. */
	TRIBUNE_WEBHOOK_SECRET_PREVIOUS: z.string().regex(/^[\x21-\x7e]{32,}$/, 'expected at least 32 characters, printable ASCII without spaces').optional(),
	/** Webhook events waiting or due for a retry at most (receiver down); a new event beyond is dropped, logged and counted. */
	WEBHOOK_MAX_BACKLOG: envValue.positiveInt().max(1_000_000, 'expected at most 1000000').default(10_000),
	/**
	 * The operator's key for /api/server/* (`Authorization: Bearer`); header-safe, at least 32 characters. Unset:
	 * generated once into <data dir>/admin-key (0600), and `npm start` prints a one-time sign-in link. Never echoed.
	 */
	TRIBUNE_ADMIN_KEY: z.string().regex(/^[\x21-\x7e]{32,}$/, 'expected at least 32 characters, printable ASCII without spaces').optional(),
	/** Lifetime of a host identity (and its credential) from the invite it was redeemed with, in seconds. */
	HOST_CREDENTIAL_TTL_S: envValue.positiveInt().min(3600, 'expected at least 3600').max(365 * 24 * 3600, 'expected at most 365 days').default(90 * 24 * 3600),
}).refine((c) => (c.TLS_CERT_FILE === undefined) === (c.TLS_KEY_FILE === undefined), {
	message: 'TLS_CERT_FILE and TLS_KEY_FILE go together',
	path: ['TLS_KEY_FILE'],
}).refine((c) => c.HTTP_REDIRECT_PORT === undefined || c.TLS_CERT_FILE !== undefined, {
	message: 'redirects to HTTPS, which needs TLS_CERT_FILE and TLS_KEY_FILE',
	path: ['HTTP_REDIRECT_PORT'],
}).refine((c) => c.HTTP_REDIRECT_PORT === undefined || (c.HTTP_REDIRECT_PORT !== c.PORT && c.HTTP_REDIRECT_PORT !== c.METRICS_PORT), {
	message: 'must differ from PORT and METRICS_PORT',
	path: ['HTTP_REDIRECT_PORT'],
}).refine((c) => (c.TURN_URLS === undefined) === (c.TURN_SECRET === undefined), {
	message: 'TURN_URLS and TURN_SECRET go together: credentials are minted from the secret for those servers',
	path: ['TURN_SECRET'],
}).refine((c) => c.METRICS_PORT === undefined || c.METRICS_PORT !== c.PORT, {
	message: 'must differ from PORT (the metrics listener is a separate one)',
	path: ['METRICS_PORT'],
}).refine((c) => (c.TRIBUNE_WEBHOOK_URL === undefined) === (c.TRIBUNE_WEBHOOK_SECRET === undefined), {
	message: 'TRIBUNE_WEBHOOK_URL and TRIBUNE_WEBHOOK_SECRET go together: receivers verify every webhook with the secret',
	path: ['TRIBUNE_WEBHOOK_SECRET'],
}).refine((c) => c.TRIBUNE_WEBHOOK_SECRET_PREVIOUS === undefined || c.TRIBUNE_WEBHOOK_SECRET !== undefined, {
	message: 'TRIBUNE_WEBHOOK_SECRET_PREVIOUS is the secret being replaced: set TRIBUNE_WEBHOOK_SECRET (the new one) with it',
	path: ['TRIBUNE_WEBHOOK_SECRET_PREVIOUS'],
});

const launcherSchema = z.object({
	/** Unset: the launcher runs a private redis-server (unix socket under the data dir) and stops it on exit. */
	REDIS_URL: redisUrlEnv().optional(),
	/** Transcoder processes the launcher runs. */
	TRANSCODER_PROCESSES: envValue.positiveInt().max(16, 'expected at most 16').default(1),
	/** redis-server binary for the private Redis. */
	REDIS_SERVER_PATH: z.string().min(1).default('redis-server'),
	TRIBUNE_DATA_DIR: z.string().min(1).default(defaultDataDir),
	LOG_LEVEL: envValue.logLevel().default('info'),
	/** The launcher runs Debian's coturn (`turnserver`) with TURN_SECRET, for the servers TURN_URLS names on this machine. */
	TURN_EMBEDDED: envValue.boolean().default(false),
	/** coturn's binary. */
	TURNSERVER_PATH: z.string().min(1).default('turnserver'),
	/** Address coturn listens on; unset: every address. */
	TURN_LISTEN_IP: ipAddress().optional(),
	/** coturn's plain port (UDP and TCP). */
	TURN_PORT: envValue.port().default(3478),
	/** coturn's TLS port (TURN over TLS: 443 passes most firewalls); unset: no TLS listener. */
	TURN_TLS_PORT: envValue.port().optional(),
	/** Certificate and key of the TLS listener; default TLS_CERT_FILE and TLS_KEY_FILE. */
	TURN_TLS_CERT_FILE: z.string().min(1).optional(),
	TURN_TLS_KEY_FILE: z.string().min(1).optional(),
	TLS_CERT_FILE: z.string().min(1).optional(),
	TLS_KEY_FILE: z.string().min(1).optional(),
	/** UDP ports coturn relays from (one per allocation); kept apart from mediasoup's 40000-49999. */
	TURN_RELAY_MIN_PORT: envValue.port().default(50000),
	TURN_RELAY_MAX_PORT: envValue.port().default(59999),
	/** The public address of a server behind 1:1 NAT (coturn `external-ip`); unset: none. */
	TURN_EXTERNAL_IP: ipAddress().optional(),
	/**
	 * The only peers coturn relays to (comma-separated IPs): the media servers. Default MEDIASOUP_ANNOUNCED_IP (when
	 * an IP) and MEDIASOUP_LISTEN_IP. Everything else is denied, so the relay is no way into the server's network.
	 */
	TURN_PEER_IPS: z.string().transform(parsedWith(parseIpList)).optional(),
	/** coturn's realm (it appears in its replies and logs). */
	TURN_REALM: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'expected a domain-like name').default('tribune'),
	/** Relay allocations one credential (one participant) holds at once. */
	TURN_USER_QUOTA: envValue.positiveInt().max(1000, 'expected at most 1000').default(12),
	/** Relay allocations the server holds at once. */
	TURN_TOTAL_QUOTA: envValue.positiveInt().max(100_000, 'expected at most 100000').default(1000),
	/** Bandwidth one relayed session may use, bytes per second. */
	TURN_MAX_BPS: envValue.positiveInt().max(100_000_000, 'expected at most 100000000').default(1_000_000),
}).refine((c) => c.TURN_RELAY_MIN_PORT < c.TURN_RELAY_MAX_PORT, {
	message: 'TURN_RELAY_MIN_PORT must be below TURN_RELAY_MAX_PORT',
	path: ['TURN_RELAY_MIN_PORT'],
}).refine((c) => c.TURN_TLS_PORT === undefined || (c.TURN_TLS_CERT_FILE ?? c.TLS_CERT_FILE) !== undefined, {
	message: 'TURN over TLS needs a certificate: TURN_TLS_CERT_FILE and TURN_TLS_KEY_FILE (or TLS_CERT_FILE and TLS_KEY_FILE)',
	path: ['TURN_TLS_PORT'],
}).refine((c) => (c.TURN_TLS_CERT_FILE === undefined) === (c.TURN_TLS_KEY_FILE === undefined), {
	message: 'TURN_TLS_CERT_FILE and TURN_TLS_KEY_FILE go together',
	path: ['TURN_TLS_KEY_FILE'],
}).refine((c) => c.TURN_TLS_PORT === undefined || c.TURN_TLS_PORT !== c.TURN_PORT, {
	message: 'must differ from TURN_PORT',
	path: ['TURN_TLS_PORT'],
});

function ipAddress() {
	return z.string().refine((value) => net.isIP(value) !== 0, 'expected an IP address');
}

/** Comma-separated IP addresses; throws naming the entry that is not one. */
function parseIpList(value: string): string[] {
	const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
	if (entries.length === 0) throw new Error('expected at least one IP address');
	for (const entry of entries) if (net.isIP(entry) === 0) throw new Error(`"${entry}" is not an IP address`);
	return entries;
}

export type LogLevel = z.output<typeof apiSchema>['LOG_LEVEL'];

/** The API process's configuration. */
export interface ApiConfig {
	port: number;
	host: string;
	redisUrl: string;
	playerDir: string;
	dataDir: string;
	logLevel: LogLevel;
	/** Unset: generated and kept under dataDir. */
	tokenSecret: string | undefined;
	tokenTtlS: number;
	/** Maximum session age, s: no token is issued or accepted past it. */
	tokenMaxSessionS: number;
	/** The captioner WebSocket takes `?token=` too (off: subprotocol or bearer header only). */
	captionerUrlTokens: boolean;
	maxSpeakersLimit: number;
	syntheticSpeakers: boolean;
	/** Segments in a live media playlist served by the origin. */
	hlsWindowSegments: number;
	/** This node's capacity for audience WebSockets and joins, and the per-space and per-address caps. */
	admission: AdmissionLimits;
	/** When live spaces end on their own, and how long idle listeners' records and absent owners' hands stay. */
	lifecycle: LifecycleLimits;
	/** Who may frame the embed. */
	embedOrigins: EmbedOrigins;
	/** Where /metrics is served, and the token it needs. */
	metrics: MetricsAccess;
	/** Peers whose X-Forwarded-For is believed (Express's req.ip and the connection caps). */
	trustedProxies: TrustedProxies;
	/** HTTPS on PORT: certificate and key files, how often they are checked, and the optional redirect listener. */
	tls: Readonly<{ certFile: string; keyFile: string; reloadCheckS: number; redirectPort: number | undefined }> | undefined;
	/** TURN servers and their shared secret; undefined: none. */
	turn: Readonly<TurnConfig> | undefined;
	connections: ConnectionLimits;
	/** Anyone may create spaces (`TRIBUNE_OPEN_HOSTING`). */
	openHosting: boolean;
	/** Live spaces, creations, participants, hands, unstarted spaces' lifetime. */
	spaceLimits: Readonly<SpaceLimits>;
	/** Where webhooks go and the key they are signed with; undefined: none are sent. */
	webhooks: Readonly<{ url: URL; secret: string; previousSecret?: string; maxBacklog: number }> | undefined;
	/** The operator's key (TRIBUNE_ADMIN_KEY); unset: generated and kept under dataDir. */
	adminKey: string | undefined;
	/** Lifetime of a host identity and its credential, s. */
	hostCredentialTtlS: number;
}

/** The one-machine launcher's configuration (`npm start`). */
export interface LauncherConfig {
	redisUrl: string | undefined;
	transcoderProcesses: number;
	redisServerPath: string;
	dataDir: string;
	logLevel: LogLevel;
	/** The coturn the launcher runs (TURN_EMBEDDED); undefined: none. Its secret is the API's TURN_SECRET. */
	turnServer: Readonly<EmbeddedTurnConfig> | undefined;
}

/** How the launcher's coturn listens, relays and limits (the secret comes from the API's configuration). */
export interface EmbeddedTurnConfig {
	serverPath: string;
	listenIp: string | undefined;
	port: number;
	/** TLS listener: port, certificate and key files; undefined: none. */
	tls: Readonly<{ port: number; certFile: string; keyFile: string }> | undefined;
	relayMinPort: number;
	relayMaxPort: number;
	externalIp: string | undefined;
	/** The only peers relayed to; undefined: the media servers' addresses (MEDIASOUP_ANNOUNCED_IP, MEDIASOUP_LISTEN_IP). */
	peerIps: readonly string[] | undefined;
	realm: string;
	userQuota: number;
	totalQuota: number;
	maxBps: number;
}

export function loadApiConfig(env: Record<string, string | undefined>): Readonly<ApiConfig> {
	const c = parseEnv(apiSchema, env, 'api');
	return Object.freeze({
		port: c.PORT,
		host: c.HOST,
		redisUrl: c.REDIS_URL,
		playerDir: path.resolve(c.PLAYER_DIR),
		dataDir: path.resolve(c.TRIBUNE_DATA_DIR),
		logLevel: c.LOG_LEVEL,
		tokenSecret: c.TRIBUNE_TOKEN_SECRET,
		tokenTtlS: c.TOKEN_TTL_S,
		tokenMaxSessionS: c.TOKEN_MAX_SESSION_S,
		captionerUrlTokens: c.CAPTIONER_URL_TOKENS,
		maxSpeakersLimit: c.SPACE_MAX_SPEAKERS_LIMIT,
		syntheticSpeakers: c.SYNTHETIC_SPEAKERS,
		hlsWindowSegments: c.HLS_WINDOW_SEGMENTS,
		admission: Object.freeze({
			maxAudience: c.NODE_MAX_AUDIENCE,
			maxJoinsPerS: c.NODE_MAX_JOINS_PER_S,
			retryAfterS: c.NODE_FULL_RETRY_AFTER_S,
			maxSpaceAudience: c.SPACE_MAX_AUDIENCE,
			maxAddressConnections: c.ADDRESS_MAX_CONNECTIONS,
		}),
		lifecycle: Object.freeze({ idleEndS: c.SPACE_IDLE_END_S, maxLiveS: c.SPACE_MAX_LIVE_S, participantIdleTtlS: c.PARTICIPANT_IDLE_TTL_S, handDisconnectLowerS: c.HAND_DISCONNECT_LOWER_S }),
		embedOrigins: c.TRIBUNE_EMBED_ORIGINS,
		metrics: Object.freeze({ token: c.TRIBUNE_METRICS_TOKEN, listen: c.METRICS_PORT === undefined ? undefined : Object.freeze({ host: c.METRICS_HOST, port: c.METRICS_PORT }) }),
		trustedProxies: c.TRIBUNE_TRUSTED_PROXIES,
		tls: c.TLS_CERT_FILE && c.TLS_KEY_FILE
			? Object.freeze({ certFile: path.resolve(c.TLS_CERT_FILE), keyFile: path.resolve(c.TLS_KEY_FILE), reloadCheckS: c.TLS_RELOAD_CHECK_S, redirectPort: c.HTTP_REDIRECT_PORT })
			: undefined,
		turn: c.TURN_URLS && c.TURN_SECRET ? Object.freeze({ urls: Object.freeze(c.TURN_URLS), secret: c.TURN_SECRET, credentialTtlS: c.TURN_CREDENTIAL_TTL_S }) : undefined,
		connections: Object.freeze({ maxConnections: c.HTTP_MAX_CONNECTIONS, maxPerAddress: c.HTTP_MAX_CONNECTIONS_PER_ADDRESS }),
		openHosting: c.TRIBUNE_OPEN_HOSTING,
		spaceLimits: Object.freeze({
			liveSpacesMax: c.LIVE_SPACES_MAX,
			liveSpacesPerHost: c.LIVE_SPACES_PER_HOST,
			createsPerMinPerIdentity: c.CREATES_PER_MIN_PER_IDENTITY,
			createsPerMinPerAddress: c.CREATES_PER_MIN_PER_ADDRESS,
			joinsPerMinPerAddress: c.JOINS_PER_MIN_PER_ADDRESS,
			joinsPerMinPerAddressInSpace: c.JOINS_PER_MIN_PER_ADDRESS_IN_SPACE,
			unconnectedParticipantTtlS: c.UNCONNECTED_PARTICIPANT_TTL_S,
			maxParticipants: c.SPACE_MAX_PARTICIPANTS,
			maxHands: c.SPACE_MAX_HANDS,
			unstartedTtlS: c.SPACE_UNSTARTED_TTL_S,
		}),
		webhooks: c.TRIBUNE_WEBHOOK_URL && c.TRIBUNE_WEBHOOK_SECRET ? Object.freeze({ url: c.TRIBUNE_WEBHOOK_URL, secret: c.TRIBUNE_WEBHOOK_SECRET, ...(c.TRIBUNE_WEBHOOK_SECRET_PREVIOUS && { previousSecret: c.TRIBUNE_WEBHOOK_SECRET_PREVIOUS }), maxBacklog: c.WEBHOOK_MAX_BACKLOG }) : undefined,
		adminKey: c.TRIBUNE_ADMIN_KEY,
		hostCredentialTtlS: c.HOST_CREDENTIAL_TTL_S,
	});
}

export function loadLauncherConfig(env: Record<string, string | undefined>): Readonly<LauncherConfig> {
	const c = parseEnv(launcherSchema, env, 'launcher');
	return Object.freeze({
		redisUrl: c.REDIS_URL,
		transcoderProcesses: c.TRANSCODER_PROCESSES,
		redisServerPath: c.REDIS_SERVER_PATH,
		dataDir: path.resolve(c.TRIBUNE_DATA_DIR),
		logLevel: c.LOG_LEVEL,
		turnServer: c.TURN_EMBEDDED ? Object.freeze(embeddedTurn(c)) : undefined,
	});
}

function embeddedTurn(c: z.output<typeof launcherSchema>): EmbeddedTurnConfig {
	const certFile = c.TURN_TLS_CERT_FILE ?? c.TLS_CERT_FILE;
	const keyFile = c.TURN_TLS_KEY_FILE ?? c.TLS_KEY_FILE;
	return {
		serverPath: c.TURNSERVER_PATH,
		listenIp: c.TURN_LISTEN_IP,
		port: c.TURN_PORT,
		tls: c.TURN_TLS_PORT !== undefined && certFile && keyFile ? Object.freeze({ port: c.TURN_TLS_PORT, certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) }) : undefined,
		relayMinPort: c.TURN_RELAY_MIN_PORT,
		relayMaxPort: c.TURN_RELAY_MAX_PORT,
		externalIp: c.TURN_EXTERNAL_IP,
		peerIps: c.TURN_PEER_IPS && Object.freeze(c.TURN_PEER_IPS),
		realm: c.TURN_REALM,
		userQuota: c.TURN_USER_QUOTA,
		totalQuota: c.TURN_TOTAL_QUOTA,
		maxBps: c.TURN_MAX_BPS,
	};
}

/** A webhook receiver's URL: absolute http(s), with a host; credentials belong in the receiver's checks, not the URL. */
function parseWebhookUrl(value: string): URL {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw new Error('expected an absolute http:// or https:// URL');
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('expected an http:// or https:// URL');
	if (!url.hostname) throw new Error('expected a host');
	if (url.username || url.password) throw new Error('expected no user or password in the URL (the signature authenticates webhooks)');
	if (url.hash) throw new Error('expected no #fragment');
	return url;
}
