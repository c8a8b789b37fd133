import os from 'node:os';
import path from 'node:path';
import { envValue, parseEnv } from '@tribune/ingest';
import { z } from 'zod';
import { isRedisUrl } from './redisConnection.js';

const redisUrlForms = 'redis://host:port, rediss://… or unix:///path.sock';

/** REDIS_URL as every Tribune process reads it. */
export const redisUrlEnv = () => z.string({ message: `required: ${redisUrlForms}` }).refine(isRedisUrl, `expected ${redisUrlForms}`);

const schema = z.object({
	/** Redis shared with the API; BullMQ's queues live there. Required: the launcher sets it for its private Redis. */
	REDIS_URL: redisUrlEnv(),
	/** Where the packager writes segments and replays. */
	TRIBUNE_DATA_DIR: z.string().min(1).default(path.join(os.homedir(), '.local', 'share', 'tribune')),
	/** ffmpeg and ffprobe binaries. */
	FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
	FFPROBE_PATH: z.string().min(1).default('ffprobe'),
	/** Broadcast jobs one transcoder process runs at once. */
	TRANSCODER_CONCURRENCY: envValue.positiveInt().max(32, 'expected at most 32').default(2),
	LOG_LEVEL: envValue.logLevel().default('info'),
});

/** The transcoder's configuration, in the units its names say. */
export interface TranscoderConfig {
	redisUrl: string;
	dataDir: string;
	ffmpegPath: string;
	ffprobePath: string;
	concurrency: number;
	logLevel: z.output<typeof schema>['LOG_LEVEL'];
}

export function loadTranscoderConfig(env: Record<string, string | undefined>): Readonly<TranscoderConfig> {
	const c = parseEnv(schema, env, 'transcoder');
	return Object.freeze({
		redisUrl: c.REDIS_URL,
		dataDir: path.resolve(c.TRIBUNE_DATA_DIR),
		ffmpegPath: c.FFMPEG_PATH,
		ffprobePath: c.FFPROBE_PATH,
		concurrency: c.TRANSCODER_CONCURRENCY,
		logLevel: c.LOG_LEVEL,
	});
}
