import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envValue, parseEnv } from '@tribune/ingest';
import { redisUrlEnv } from '@tribune/transcoder';
import { z } from 'zod';
import { defaultAdmissionLimits, type AdmissionLimits } from './signaling/Admission.js';
import { defaultConnectionLimits, type ConnectionLimits } from './http/ConnectionPolicy.js';
import type { MetricsAccess } from './http/metricsAccess.js';
import { parseEmbedOrigins, type EmbedOrigins } from './http/securityHeaders.js';
import { parseTrustedProxies, type TrustedProxies } from './http/trustedProxies.js';

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
	/** Sites that may frame /embed/<id>: `*` (any) or a comma-separated list of origins. */
	TRIBUNE_EMBED_ORIGINS: z.string().default('*').transform(parsedWith(parseEmbedOrigins)),
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
}).refine((c) => c.METRICS_PORT === undefined || c.METRICS_PORT !== c.PORT, {
	message: 'must differ from PORT (the metrics listener is a separate one)',
	path: ['METRICS_PORT'],
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
});

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
	/** This node's capacity for audience WebSockets and joins. */
	admission: AdmissionLimits;
	/** Who may frame the embed. */
	embedOrigins: EmbedOrigins;
	/** Where /metrics is served, and the token it needs. */
	metrics: MetricsAccess;
	/** Peers whose X-Forwarded-For is believed (Express's req.ip and the connection caps). */
	trustedProxies: TrustedProxies;
	connections: ConnectionLimits;
}

/** The one-machine launcher's configuration (`npm start`). */
export interface LauncherConfig {
	redisUrl: string | undefined;
	transcoderProcesses: number;
	redisServerPath: string;
	dataDir: string;
	logLevel: LogLevel;
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
		admission: Object.freeze({ maxAudience: c.NODE_MAX_AUDIENCE, maxJoinsPerS: c.NODE_MAX_JOINS_PER_S, retryAfterS: c.NODE_FULL_RETRY_AFTER_S }),
		embedOrigins: c.TRIBUNE_EMBED_ORIGINS,
		metrics: Object.freeze({ token: c.TRIBUNE_METRICS_TOKEN, listen: c.METRICS_PORT === undefined ? undefined : Object.freeze({ host: c.METRICS_HOST, port: c.METRICS_PORT }) }),
		trustedProxies: c.TRIBUNE_TRUSTED_PROXIES,
		connections: Object.freeze({ maxConnections: c.HTTP_MAX_CONNECTIONS, maxPerAddress: c.HTTP_MAX_CONNECTIONS_PER_ADDRESS }),
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
	});
}
