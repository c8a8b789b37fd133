import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@tribune/transcoder';
import { loadLauncherConfig } from './config.js';
import { EmbeddedRedis } from './launcher/EmbeddedRedis.js';
import { Supervisor } from './launcher/Supervisor.js';

/**
 * `npm start`: the whole of Tribune on one machine. Starts a private Redis unless REDIS_URL names one, then the
 * API node (with the stage's mediasoup workers) and the transcoder processes, and stops them all, Redis last, on
 * SIGINT or SIGTERM.
 */
async function main(): Promise<void> {
	const config = loadLauncherConfig(process.env);
	const logger = createLogger('launcher', config.logLevel);
	const redis = config.redisUrl === undefined
		? await EmbeddedRedis.start({ dir: path.join(config.dataDir, 'redis'), serverPath: config.redisServerPath, logger })
		: undefined;
	const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: config.redisUrl ?? redis!.url, TRIBUNE_DATA_DIR: config.dataDir };

	const supervisor = new Supervisor(logger);
	supervisor.start({ name: 'api', script: fileURLToPath(new URL('./main.js', import.meta.url)), env });
	const transcoderMain = fileURLToPath(new URL('./main.js', import.meta.resolve('@tribune/transcoder')));
	for (let i = 1; i <= config.transcoderProcesses; i++) {
		supervisor.start({ name: `transcoder-${i}`, script: transcoderMain, env });
	}

	let stopping = false;
	const stop = async (signal: string): Promise<void> => {
		if (stopping) return;
		stopping = true;
		logger.info({ signal }, 'stopping Tribune');
		await supervisor.stop();
		await redis?.stop();
		logger.info('Tribune stopped');
		process.exit(0);
	};
	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
	process.stderr.write(`tribune: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
});
