import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, exitCodes } from '@tribune/ingest';
import { BroadcastWorker } from './broadcast/BroadcastWorker.js';
import { createBroadcastRunner } from './broadcast/createBroadcastRunner.js';
import { defaultLadder } from './broadcast/ladder.js';
import { SherpaOnnxEngine } from './captions/SherpaOnnxEngine.js';
import { probeSherpaOnnxEngine } from './captions/sherpaOnnxPreflight.js';
import { loadTranscoderConfig } from './config.js';
import { ExportWorker } from './export/ExportWorker.js';
import { createExportRunner } from './export/runExport.js';
import { startReplayPruner } from './hls/pruneReplays.js';
import { createLogger } from './logger.js';
import { connectRedis } from './redisConnection.js';
import { StageLinkClient } from './stageLink/StageLinkClient.js';
import { TranscoderPresence } from './TranscoderPresence.js';

/** Redis key prefix shared by every Tribune process on one Redis. */
const redisPrefix = 'tribune';

/**
 * A transcoder process: takes broadcast jobs from Redis and runs their ffmpeg pipelines. Started by the launcher
 * (`npm start`) or on its own on other machines sharing the same Redis.
 */
async function main(): Promise<void> {
	const config = loadTranscoderConfig(process.env);
	if (!fs.existsSync(config.fontFile)) throw new ConfigError(`BROADCAST_FONT_FILE=${config.fontFile}: no such file (Debian: apt-get install fonts-dejavu-core)`);
	const logger = createLogger('transcoder', config.logLevel);
	const captionEngine = config.captionEngine;
	// Why captions run PocketSphinx when a sherpa-onnx model was asked for (TRIBUNE_SHERPA_MODEL_URL/_SHA256).
	if (captionEngine.kind === 'pocketsphinx' && captionEngine.note) logger.warn(captionEngine.note);
	// A model that does not load stops the transcoder here (ConfigError), before it takes any broadcast.
	if (captionEngine.kind === 'sherpa-onnx') {
		await probeSherpaOnnxEngine(captionEngine.model);
		logger.info({ modelDir: captionEngine.model.dir }, 'sherpa-onnx caption model loaded');
	}
	const redis = connectRedis(config.redisUrl, 'tribune-transcoder');
	redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
	const link = await StageLinkClient.create(redis, redisPrefix);
	const broadcasts = await BroadcastWorker.start({
		redis,
		prefix: redisPrefix,
		concurrency: config.concurrency,
		logger: logger.child({ module: 'broadcast' }),
		run: createBroadcastRunner({
			redis,
			prefix: redisPrefix,
			link,
			ladder: defaultLadder,
			latency: { fps: 25, partTargetMs: config.hlsPartTargetMs, segmentTargetMs: config.hlsSegmentTargetMs },
			canvas: { width: 1280, height: 720 },
			dataDir: config.dataDir,
			ffmpegPath: config.ffmpegPath,
			fontFile: config.fontFile,
			rtpIp: config.rtpIp,
			startIdleCores: config.broadcastStartIdleCores,
			maxShed: config.broadcastMaxShed,
			...(captionEngine.kind === 'sherpa-onnx' && {
				createCaptionEngine: (_, engineLogger) => new SherpaOnnxEngine({ model: captionEngine.model, logger: engineLogger }),
			}),
		}),
	});
	// Replay exports run next to the broadcasts, one at a time and niced: a live broadcast always comes first.
	const exports = new ExportWorker({
		redis,
		prefix: redisPrefix,
		concurrency: 1,
		logger: logger.child({ module: 'export' }),
		run: createExportRunner({ hlsRoot: path.join(config.dataDir, 'hls'), ffmpegPath: config.ffmpegPath }),
	});
	const presence = new TranscoderPresence(redis, redisPrefix, config.concurrency);
	await presence.start();
	logger.info({ id: presence.info.id, concurrency: config.concurrency }, 'transcoder ready');
	const stopPruner = startReplayPruner(
		path.join(config.dataDir, 'hls'),
		config.hlsReplayRetentionDays * 24 * 3600 * 1000,
		3600 * 1000,
		(error) => logger.warn({ err: error }, 'replay pruning failed'),
		(streamIds) => logger.info({ streamIds }, 'replays past retention removed'),
	);

	let stopping = false;
	const stop = async (reason: string): Promise<void> => {
		if (stopping) return;
		stopping = true;
		logger.info({ reason }, 'transcoder stopping');
		stopPruner();
		// Running broadcasts end cleanly (their packagers finish the last segments); BullMQ hands unfinished jobs on.
		await Promise.all([broadcasts.close(), exports.close()]);
		await link.close();
		await presence.close();
		redis.disconnect();
		process.exit(0);
	};
	process.on('SIGTERM', () => void stop('SIGTERM'));
	process.on('SIGINT', () => void stop('SIGINT'));
	// Started by the launcher with an IPC channel: if the launcher dies, so do we.
	process.on('disconnect', () => void stop('launcher gone'));
}

main().catch((error: unknown) => {
	process.stderr.write(`transcoder: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(error instanceof ConfigError ? exitCodes.config : 1);
});
