import os from 'node:os';
import path from 'node:path';
import { envValue, parseEnv } from '@tribune/ingest';
import { z } from 'zod';
import { resolveSherpaModelFiles, sherpaModelProblems, sherpaOnnxPackageProblem, type SherpaModelFiles } from './captions/sherpaOnnxModel.js';
import { isRedisUrl } from './redisConnection.js';
import { cachedSherpaModel, sha256Pattern, tribuneCacheDir } from './sherpaModelCache.js';

const redisUrlForms = 'redis://host:port, rediss://…, unix:///path.sock or redis+sentinel://host:port,host:port/<master name>';

/** REDIS_URL as every Tribune process reads it. */
export const redisUrlEnv = () => z.string({ message: `required: ${redisUrlForms}` }).refine(isRedisUrl, `expected ${redisUrlForms}`);

const schema = z.object({
	/** Redis shared with the API; BullMQ's queues live there. Required: the launcher sets it for its private Redis. */
	REDIS_URL: redisUrlEnv(),
	/** Address this transcoder receives stage RTP on (the API nodes send to it): on a machine of its own, its address on the network the API nodes reach. */
	TRANSCODER_RTP_IP: z.ipv4({ message: 'expected an IP address' }).or(z.ipv6({ message: 'expected an IP address' })).default('127.0.0.1'),
	/** Where the packager writes segments and replays. */
	TRIBUNE_DATA_DIR: z.string().min(1).default(path.join(os.homedir(), '.local', 'share', 'tribune')),
	/** ffmpeg and ffprobe binaries. */
	FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
	FFPROBE_PATH: z.string().min(1).default('ffprobe'),
	/**
	 * Idle CPU (cores, counting niced processes' time as free) the machine needs when a broadcast starts for its first
	 * encoder run to encode every rendition; with less it starts with work shed (see EncoderDegradation). 0: always
	 * start with everything.
	 */
	TRIBUNE_BROADCAST_START_IDLE_CORES: z.coerce.number({ message: 'expected a number of cores' }).min(0, 'expected 0 or more').max(1024, 'expected at most 1024').default(1),
	/**
	 * How many levels of work a broadcast may shed to keep up with real time (see `planEncodeLevels`: 720p, frame rate,
	 * preset, lower frame rate). 0: never shed (a busy machine's broadcast then falls behind live instead).
	 */
	TRIBUNE_BROADCAST_MAX_SHED: z.coerce.number({ message: 'expected a whole number 0-4' }).int('expected a whole number 0-4').min(0, 'expected a whole number 0-4').max(4, 'expected a whole number 0-4').default(4),
	/** Broadcast jobs one transcoder process runs at once. */
	TRANSCODER_CONCURRENCY: envValue.positiveInt().max(32, 'expected at most 32').default(2),
	/** LL-HLS part target, milliseconds (EXT-X-PART-INF:PART-TARGET); 200–333. */
	HLS_PART_TARGET_MS: envValue.positiveInt().min(200, 'expected 200-333').max(333, 'expected 200-333').default(200),
	/** LL-HLS segment target, milliseconds: one GOP per segment. */
	HLS_SEGMENT_TARGET_MS: envValue.positiveInt().min(1000, 'expected 1000-6000').max(6000, 'expected 1000-6000').default(1000),
	/** Days a finished broadcast's replay stays on disk; 0 keeps replays forever. */
	HLS_REPLAY_RETENTION_DAYS: z.coerce.number({ message: 'expected a number of days' }).min(0, 'expected 0 or more').default(7),
	/** TrueType font for names and initials on the broadcast composite. */
	BROADCAST_FONT_FILE: z.string().regex(/^[A-Za-z0-9_./-]+$/, 'expected a path of [A-Za-z0-9_./-]').default('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'),
	LOG_LEVEL: envValue.logLevel().default('info'),
	/**
	 * Caption engine for every speaker: PocketSphinx (Debian's model, built in) or sherpa-onnx with a model the user
	 * supplies. Unset: sherpa-onnx when TRIBUNE_SHERPA_MODEL_URL/_SHA256 name a model `npm run setup` put in the cache,
	 * else PocketSphinx.
	 */
	TRIBUNE_CAPTION_ENGINE: z.enum(['pocketsphinx', 'sherpa-onnx'], { message: 'expected pocketsphinx or sherpa-onnx' }).optional(),
	/** A streaming sherpa-onnx transducer model directory (tokens.txt, encoder/decoder/joiner .onnx). */
	TRIBUNE_SHERPA_MODEL_DIR: z.string().optional(),
	/** A streaming transducer `.tar.bz2` that `npm run setup` downloads into the cache (with its SHA-256). */
	TRIBUNE_SHERPA_MODEL_URL: z.string().trim().refine((v) => /^https?:\/\/\S+$/.test(v), 'expected an https:// (or http://) URL').optional(),
	/** The archive's SHA-256 (64 hex digits); it names the model in the cache. */
	TRIBUNE_SHERPA_MODEL_SHA256: z.string().trim().toLowerCase().regex(sha256Pattern, 'expected the archive\'s SHA-256: 64 hex digits').optional(),
	/** Where setup caches the mediasoup worker build and downloaded models. Default ~/.cache/tribune. */
	TRIBUNE_CACHE_DIR: z.string().optional(),
}).superRefine((c, ctx) => {
	if ((c.TRIBUNE_SHERPA_MODEL_URL === undefined) !== (c.TRIBUNE_SHERPA_MODEL_SHA256 === undefined)) {
		ctx.addIssue({ code: 'custom', path: [c.TRIBUNE_SHERPA_MODEL_URL === undefined ? 'TRIBUNE_SHERPA_MODEL_URL' : 'TRIBUNE_SHERPA_MODEL_SHA256'], message: 'TRIBUNE_SHERPA_MODEL_URL and TRIBUNE_SHERPA_MODEL_SHA256 go together' });
	}
	// Files are checked here, at startup, so the launcher refuses to start with a model that is not there; a model
	// that is there but does not load is caught by the transcoder's startup probe (probeSherpaOnnxEngine).
	if (c.TRIBUNE_CAPTION_ENGINE !== 'sherpa-onnx') return;
	const packageProblem = sherpaOnnxPackageProblem();
	if (packageProblem) ctx.addIssue({ code: 'custom', path: ['TRIBUNE_CAPTION_ENGINE'], message: packageProblem });
	if (c.TRIBUNE_SHERPA_MODEL_DIR === undefined) {
		if (c.TRIBUNE_SHERPA_MODEL_SHA256 === undefined) {
			ctx.addIssue({ code: 'custom', path: ['TRIBUNE_SHERPA_MODEL_DIR'], message: 'required with TRIBUNE_CAPTION_ENGINE=sherpa-onnx: a streaming transducer model directory (or TRIBUNE_SHERPA_MODEL_URL and _SHA256 with npm run setup)' });
		} else if (!cachedSherpaModel(tribuneCacheDir(c), c.TRIBUNE_SHERPA_MODEL_SHA256)) {
			ctx.addIssue({ code: 'custom', path: ['TRIBUNE_SHERPA_MODEL_SHA256'], message: `no model with this SHA-256 in ${tribuneCacheDir(c)}: run npm run setup with TRIBUNE_SHERPA_MODEL_URL and _SHA256 set` });
		}
		return;
	}
	for (const problem of sherpaModelProblems(c.TRIBUNE_SHERPA_MODEL_DIR)) ctx.addIssue({ code: 'custom', path: ['TRIBUNE_SHERPA_MODEL_DIR'], message: problem });
});

/** The transcoder's configuration, in the units its names say. */
export interface TranscoderConfig {
	redisUrl: string;
	/** Address stage RTP reaches this transcoder on. */
	rtpIp: string;
	dataDir: string;
	ffmpegPath: string;
	ffprobePath: string;
	concurrency: number;
	/** Idle cores a broadcast's first encoder run needs to start with every rendition (see the variable). */
	broadcastStartIdleCores: number;
	/** Levels of work a broadcast may shed (see the variable). */
	broadcastMaxShed: number;
	hlsPartTargetMs: number;
	hlsSegmentTargetMs: number;
	/** 0: keep replays forever. */
	hlsReplayRetentionDays: number;
	fontFile: string;
	logLevel: z.output<typeof schema>['LOG_LEVEL'];
	captionEngine: CaptionEngineConfig;
}

/**
 * Which caption engine the transcoder runs; a sherpa-onnx model's files were found and checked at load. `note`: why
 * PocketSphinx runs although a downloaded model was asked for (to log at startup).
 */
export type CaptionEngineConfig = { kind: 'pocketsphinx'; note?: string } | { kind: 'sherpa-onnx'; model: SherpaModelFiles };

/** The engine the variables select (see TRIBUNE_CAPTION_ENGINE); the schema has checked what an explicit choice needs. */
function captionEngineOf(c: z.output<typeof schema>): CaptionEngineConfig {
	if (c.TRIBUNE_CAPTION_ENGINE === 'pocketsphinx') return { kind: 'pocketsphinx' };
	if (c.TRIBUNE_CAPTION_ENGINE === 'sherpa-onnx' && c.TRIBUNE_SHERPA_MODEL_DIR !== undefined) return { kind: 'sherpa-onnx', model: resolveSherpaModelFiles(c.TRIBUNE_SHERPA_MODEL_DIR) };
	const sha256 = c.TRIBUNE_SHERPA_MODEL_SHA256;
	if (sha256 === undefined) return { kind: 'pocketsphinx' };
	const cacheDir = tribuneCacheDir(c);
	const dir = cachedSherpaModel(cacheDir, sha256);
	if (dir === undefined) return { kind: 'pocketsphinx', note: `TRIBUNE_SHERPA_MODEL_SHA256 names no model in ${cacheDir} (npm run setup downloads it): captions use PocketSphinx` };
	const packageProblem = sherpaOnnxPackageProblem();
	if (packageProblem) return { kind: 'pocketsphinx', note: `${packageProblem}: captions use PocketSphinx` };
	return { kind: 'sherpa-onnx', model: resolveSherpaModelFiles(dir) };
}

export function loadTranscoderConfig(env: Record<string, string | undefined>): Readonly<TranscoderConfig> {
	const c = parseEnv(schema, env, 'transcoder');
	return Object.freeze({
		redisUrl: c.REDIS_URL,
		rtpIp: c.TRANSCODER_RTP_IP,
		dataDir: path.resolve(c.TRIBUNE_DATA_DIR),
		ffmpegPath: c.FFMPEG_PATH,
		ffprobePath: c.FFPROBE_PATH,
		concurrency: c.TRANSCODER_CONCURRENCY,
		broadcastStartIdleCores: c.TRIBUNE_BROADCAST_START_IDLE_CORES,
		broadcastMaxShed: c.TRIBUNE_BROADCAST_MAX_SHED,
		hlsPartTargetMs: c.HLS_PART_TARGET_MS,
		hlsSegmentTargetMs: c.HLS_SEGMENT_TARGET_MS,
		hlsReplayRetentionDays: c.HLS_REPLAY_RETENTION_DAYS,
		fontFile: c.BROADCAST_FONT_FILE,
		logLevel: c.LOG_LEVEL,
		captionEngine: deepFreeze(captionEngineOf(c)),
	});
}

function deepFreeze(engine: CaptionEngineConfig): Readonly<CaptionEngineConfig> {
	if (engine.kind === 'sherpa-onnx') Object.freeze(engine.model);
	return Object.freeze(engine);
}
