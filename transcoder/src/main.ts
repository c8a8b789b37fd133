import { ConfigError, exitCodes } from '@tribune/ingest';
import { loadTranscoderConfig } from './config.js';
import { createLogger } from './logger.js';
import { connectRedis } from './redisConnection.js';
import { TranscoderPresence } from './TranscoderPresence.js';

/**
 * A transcoder process: takes broadcast jobs from Redis and runs their ffmpeg pipelines. Started by the launcher
 * (`npm start`) or on its own on other machines sharing the same Redis.
 */
async function main(): Promise<void> {
	const config = loadTranscoderConfig(process.env);
	const logger = createLogger('transcoder', config.logLevel);
	const redis = connectRedis(config.redisUrl, 'tribune-transcoder');
	redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
	const presence = new TranscoderPresence(redis, 'tribune', config.concurrency);
	await presence.start();
	logger.info({ id: presence.info.id, concurrency: config.concurrency }, 'transcoder ready');

	let stopping = false;
	const stop = async (reason: string): Promise<void> => {
		if (stopping) return;
		stopping = true;
		logger.info({ reason }, 'transcoder stopping');
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
