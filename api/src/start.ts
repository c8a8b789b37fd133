import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, exitCodes, loadIngestConfig } from '@tribune/ingest';
import { createLogger, loadTranscoderConfig } from '@tribune/transcoder';
import { z } from 'zod';
import { loadApiConfig, loadLauncherConfig } from './config.js';
import { Coturn } from './launcher/Coturn.js';
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
	if (problems.length === 0 && config.turnServer && loadApiConfig(childEnv).turn === undefined) {
		problems.push('invalid launcher configuration:\n  TURN_EMBEDDED=true: the API mints credentials for the TURN server it runs: set TURN_URLS (its public turn:/turns: URIs) and TURN_SECRET');
	}
	if (problems.length > 0) throw new ConfigError(problems.join('\n'));
	const logger = createLogger('launcher', config.logLevel);
	const redis = config.redisUrl === undefined
		? await EmbeddedRedis.start({ dir: path.join(config.dataDir, 'redis'), serverPath: config.redisServerPath, logger })
		: undefined;
	const turn = config.turnServer ? await startCoturn(config.turnServer, childEnv, config.dataDir, logger).catch(async (error: unknown) => {
		await redis?.stop();
		throw error;
	}) : undefined;
	let stopping = false;
	const stop = async (reason: string, exitCode = 0): Promise<void> => {
		if (stopping) return;
		stopping = true;
		logger.info({ reason }, 'stopping Tribune');
		await supervisor.stop();
		await turn?.stop();
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
		onMessage: (message) => showSignInLink(message, apiConfig, config.dataDir),
	});
	if (config.redisUrl !== undefined && apiConfig.adminKey === undefined) {
		logger.warn('REDIS_URL names a shared Redis but TRIBUNE_ADMIN_KEY is not set: this machine generated its own admin key; every API node of a cluster must be given the same TRIBUNE_ADMIN_KEY');
	}
	const transcoderMain = fileURLToPath(new URL('./main.js', import.meta.resolve('@tribune/transcoder')));
	for (let i = 1; i <= config.transcoderProcesses; i++) {
		supervisor.start({ name: `transcoder-${i}`, script: transcoderMain, env });
	}

	// `systemctl reload tribune`: the API node re-reads its TLS certificate (the launcher itself has nothing to reload).
	process.on('SIGHUP', () => {
		if (!supervisor.signal('api', 'SIGHUP')) logger.warn('SIGHUP: the API node is not running; nothing reloaded');
	});
	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** The launcher's coturn, with the API's secret, relaying only to this machine's media addresses unless told otherwise. */
function startCoturn(turnServer: NonNullable<ReturnType<typeof loadLauncherConfig>['turnServer']>, env: NodeJS.ProcessEnv, dataDir: string, logger: ReturnType<typeof createLogger>): Promise<Coturn> {
	const api = loadApiConfig(env);
	const ingest = loadIngestConfig(env);
	const mediaIps = [ingest.announcedIp, ingest.listenIp].filter((ip): ip is string => ip !== undefined && net.isIP(ip) !== 0 && ip !== '0.0.0.0' && ip !== '::');
	return Coturn.start({ config: turnServer, secret: api.turn!.secret, mediaIps: [...new Set(mediaIps)], dir: path.join(dataDir, 'turn'), logger: logger.child({ module: 'coturn' }) });
}

const signInMessage = z.strictObject({ type: z.literal('admin-sign-in'), path: z.string().regex(/^\/admin#code=[A-Za-z0-9_-]{43}$/) });

/** Where the launcher leaves the admin sign-in link when its stdout is not a terminal. */
const signInLinkFile = 'admin-sign-in';

/**
 * The API node's one-time admin sign-in link (its operator key was generated, so nobody knows it yet), for whoever
 * started Tribune and nobody else: printed when stdout is a terminal; otherwise (systemd, Docker, a pipe: logs that
 * are shipped and kept) written to `<data dir>/admin-sign-in` (0600, replaced whole) and only that path is printed.
 * Never through the logger.
 */
function showSignInLink(message: unknown, api: { host: string; port: number; tls: unknown }, dataDir: string): void {
	const parsed = signInMessage.safeParse(message);
	if (!parsed.success) return;
	const wildcard = api.host === '0.0.0.0' || api.host === '::';
	const host = wildcard ? 'localhost' : api.host.includes(':') ? `[${api.host}]` : api.host;
	const link = `${api.tls ? 'https' : 'http'}://${host}:${api.port}${parsed.data.path}`;
	if (process.stdout.isTTY) {
		process.stdout.write(`Admin sign-in (one-time, 1 h): ${link}\n`);
		return;
	}
	const file = path.join(dataDir, signInLinkFile);
	const temporary = `${file}.${process.pid}.tmp`;
	try {
		fs.rmSync(temporary, { force: true });
		fs.writeFileSync(temporary, `${link}\n`, { mode: 0o600, flag: 'wx' });
		// Readers see the old link or the new one, never half of one.
		fs.renameSync(temporary, file);
		process.stdout.write(`Admin sign-in (one-time, 1 h): the link is in ${file}\n`);
	} catch (error) {
		process.stderr.write(`tribune: could not write ${file} (${(error as Error).message}); sign in with the key in ${path.join(dataDir, 'admin-key')}\n`);
	}
}

main().catch((error: unknown) => {
	process.stderr.write(`tribune: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(error instanceof ConfigError ? exitCodes.config : 1);
});
