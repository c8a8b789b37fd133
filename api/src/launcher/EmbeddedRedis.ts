import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedRedisOptions {
	/** Directory for the socket, pid file and append-only file; created with mode 0700. */
	dir: string;
	/** redis-server binary. Default `redis-server`. */
	serverPath?: string;
	logger: Logger;
}

/** How long redis-server gets to answer PING after start, and to exit after SIGTERM. */
const timing = { readyMs: 10_000, stopMs: 10_000, pollMs: 50 };

/**
 * A private redis-server for one-machine installs: reachable only through a unix socket with mode 0700 (no TCP
 * port), logging to `redis.log` beside it, append-only persistence so acknowledged state survives restarts, started before and stopped after every
 * other Tribune process. Its own process group keeps a terminal's Ctrl-C from stopping it before its clients.
 */
export class EmbeddedRedis {
	readonly #process: ChildProcess;
	readonly #socketPath: string;
	readonly #logger: Logger;
	#exited: Promise<void>;

	private constructor(child: ChildProcess, socketPath: string, logger: Logger) {
		this.#process = child;
		this.#socketPath = socketPath;
		this.#logger = logger;
		this.#exited = new Promise((resolve) => {
			if (child.exitCode !== null || child.signalCode !== null) resolve();
			else child.once('exit', () => resolve());
		});
	}

	static async start(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
		const dir = path.resolve(options.dir);
		fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
		const socketPath = path.join(dir, 'redis.sock');
		const pidFile = path.join(dir, 'redis.pid');
		await stopStale(pidFile, options.logger);
		fs.rmSync(socketPath, { force: true });
		const child = spawn(
			options.serverPath ?? 'redis-server',
			[
				'--port', '0',
				'--unixsocket', socketPath,
				'--unixsocketperm', '700',
				'--dir', dir,
				'--pidfile', pidFile,
				'--daemonize', 'no',
				'--appendonly', 'yes',
				'--appendfsync', 'everysec',
				'--save', '',
				'--loglevel', 'warning',
				// Its startup banner and kernel-tuning warnings go to a file, not into Tribune's JSON log stream.
				'--logfile', path.join(dir, 'redis.log'),
			],
			{ detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
		);
		const redis = new EmbeddedRedis(child, socketPath, options.logger);
		const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
		const exited = redis.#exited.then(() => {
			throw new Error(`redis-server exited during startup (code ${child.exitCode ?? child.signalCode})`);
		});
		try {
			await Promise.race([waitForPing(socketPath), spawnError, exited]);
		} catch (error) {
			child.kill('SIGKILL');
			throw error;
		}
		options.logger.info({ redisPid: child.pid, socketPath }, 'private redis-server started');
		return redis;
	}

	/** `unix://` URL of the socket, for REDIS_URL. */
	get url(): string {
		return `unix://${this.#socketPath}`;
	}

	get pid(): number | undefined {
		return this.#process.pid;
	}

	/** Asks redis-server to persist and exit (SIGTERM), then kills it if it has not within 10 s. Idempotent. */
	async stop(): Promise<void> {
		if (this.#process.exitCode === null && this.#process.signalCode === null) {
			this.#process.kill('SIGTERM');
			const timer = setTimeout(() => this.#process.kill('SIGKILL'), timing.stopMs);
			await this.#exited;
			clearTimeout(timer);
			this.#logger.info('private redis-server stopped');
		}
	}
}

/** A launcher killed with -9 leaves its redis-server running; the next start finds it by pid file and stops it. */
async function stopStale(pidFile: string, logger: Logger): Promise<void> {
	let pid: number;
	try {
		pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
	} catch {
		return;
	}
	if (!Number.isInteger(pid) || pid <= 1) return;
	let cmdline: string;
	try {
		cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
	} catch {
		return; // not running
	}
	if (!cmdline.includes('redis-server')) return;
	logger.warn({ redisPid: pid }, 'stopping a private redis-server left over from an earlier run');
	process.kill(pid, 'SIGTERM');
	const deadline = Date.now() + timing.stopMs;
	while (Date.now() < deadline && fs.existsSync(`/proc/${pid}`)) await sleep(timing.pollMs);
	if (fs.existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
}

async function waitForPing(socketPath: string): Promise<void> {
	const deadline = Date.now() + timing.readyMs;
	let lastError: unknown;
	while (Date.now() < deadline) {
		try {
			await ping(socketPath);
			return;
		} catch (error) {
			lastError = error;
			await sleep(timing.pollMs);
		}
	}
	throw new Error(`redis-server did not answer on ${socketPath} within ${timing.readyMs} ms: ${String(lastError)}`);
}

function ping(socketPath: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const socket = net.connect(socketPath);
		socket.setTimeout(1000, () => socket.destroy(new Error('PING timed out')));
		socket.once('error', reject);
		socket.once('connect', () => socket.write('PING\r\n'));
		socket.once('data', (data) => {
			socket.destroy();
			if (data.toString().startsWith('+PONG')) resolve();
			else reject(new Error(`unexpected reply ${JSON.stringify(data.toString().slice(0, 80))}`));
		});
	});
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
