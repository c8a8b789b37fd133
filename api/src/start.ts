import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, exitCodes, loadIngestConfig } from '@tribune/ingest';
import { createLogger, loadTranscoderConfig } from '@tribune/transcoder';
import { z } from 'zod';
import { loadApiConfig, loadLauncherConfig } from './config.js';
import { EmbeddedRedis } from './launcher/EmbeddedRedis.js';
import { Supervisor } from './launcher/Supervisor.js';

/**
 * `npm start`: the whole of Tribune on one machine. Starts a private Redis unless REDIS_URL names one, then the
 * API node (with the stage's mediasoup workers) and the transcoder processes, and stops them all, Redis last, on
 * SIGINT or SIGTERM.
 */
async function main(): Promise<void> {
	const config = loadLauncherConfig(process.env);
	// Check every child's configuration before starting anything: a bad value stops here, with its name, instead of
	// sending a child into a restart loop. The Redis URL is only known once the private Redis runs.
	const childEnv = { ...process.env, REDIS_URL: config.redisUrl ?? 'unix:///not-yet-started.sock' };
	const problems = [loadApiConfig, loadIngestConfig, loadTranscoderConfig].flatMap((load) => {
		try {
			load(childEnv);
			return [];
		} catch (error) {
			if (error instanceof ConfigError) return [error.message];
			throw error;
		}
	});
	if (problems.length > 0) throw new ConfigError(problems.join('\n'));
	const logger = createLogger('launcher', config.logLevel);
	const redis = config.redisUrl === undefined
		? await EmbeddedRedis.start({ dir: path.join(config.dataDir, 'redis'), serverPath: config.redisServerPath, logger })
		: undefined;
	let stopping = false;
	const stop = async (reason: string, exitCode = 0): Promise<void> => {
		if (stopping) return;
		stopping = true;
		logger.info({ reason }, 'stopping Tribune');
		await supervisor.stop();
		await redis?.stop();
		logger.info('Tribune stopped');
		process.exit(exitCode);
	};
	const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: config.redisUrl ?? redis!.url, TRIBUNE_DATA_DIR: config.dataDir };

	const supervisor = new Supervisor({
		logger,
		noRestartExitCodes: [exitCodes.config],
		onFatal: (name) => void stop(`${name} could not start`, exitCodes.config),
	});
	const apiConfig = loadApiConfig(env);
	supervisor.start({
		name: 'api',
		script: fileURLToPath(new URL('./main.js', import.meta.url)),
		env,
		onMessage: (message) => printSignInLink(message, apiConfig),
	});
	const transcoderMain = fileURLToPath(new URL('./main.js', import.meta.resolve('@tribune/transcoder')));
	for (let i = 1; i <= config.transcoderProcesses; i++) {
		supervisor.start({ name: `transcoder-${i}`, script: transcoderMain, env });
	}

	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
}

const signInMessage = z.strictObject({ type: z.literal('admin-sign-in'), path: z.string().regex(/^\/admin#code=[A-Za-z0-9_-]{43}$/) });

/**
 * The API node's one-time admin sign-in link (its operator key was generated, so nobody knows it yet), printed on
 * the launcher's stdout for whoever started Tribune, and nowhere else: not through the logger, whose lines may be
 * shipped and kept.
 */
function printSignInLink(message: unknown, api: { host: string; port: number }): void {
	const parsed = signInMessage.safeParse(message);
	if (!parsed.success) return;
	const wildcard = api.host === '0.0.0.0' || api.host === '::';
	const host = wildcard ? 'localhost' : api.host.includes(':') ? `[${api.host}]` : api.host;
	process.stdout.write(`Admin sign-in (one-time, 1 h): http://${host}:${api.port}${parsed.data.path}\n`);
}

main().catch((error: unknown) => {
	process.stderr.write(`tribune: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(error instanceof ConfigError ? exitCodes.config : 1);
});
