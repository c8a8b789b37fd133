import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envValue, parseEnv } from '@tribune/ingest';
import { redisUrlEnv } from '@tribune/transcoder';
import { z } from 'zod';
import { defaultAdmissionLimits, type AdmissionLimits } from './signaling/Admission.js';

const defaultDataDir = path.join(os.homedir(), '.local', 'share', 'tribune');
const defaultPlayerDir = fileURLToPath(new URL('../../player/dist', import.meta.url));

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
	maxSpeakersLimit: number;
	syntheticSpeakers: boolean;
	/** Segments in a live media playlist served by the origin. */
	hlsWindowSegments: number;
	/** This node's capacity for audience WebSockets and joins. */
	admission: AdmissionLimits;
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
		maxSpeakersLimit: c.SPACE_MAX_SPEAKERS_LIMIT,
		syntheticSpeakers: c.SYNTHETIC_SPEAKERS,
		hlsWindowSegments: c.HLS_WINDOW_SEGMENTS,
		admission: Object.freeze({ maxAudience: c.NODE_MAX_AUDIENCE, maxJoinsPerS: c.NODE_MAX_JOINS_PER_S, retryAfterS: c.NODE_FULL_RETRY_AFTER_S }),
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
