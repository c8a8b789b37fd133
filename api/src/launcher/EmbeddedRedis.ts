import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { terminate } from './childProcesses.js';

export interface EmbeddedRedisOptions {
	/** Directory for the socket, pid file and append-only file; created with mode 0700. */
	dir: string;
	/** redis-server binary. Default `redis-server`. */
	serverPath?: string;
	logger: Logger;
}

/** How long redis-server gets to answer PING after start, and to exit after SIGTERM. */
const timing = { readyMs: 10_000, stopMs: 10_000, pollMs: 50, restartDelayMs: 200 };
/** More unexpected exits than this within a minute: give up restarting (something is wrong with the machine). */
const maxRestartsPerMinute = 10;

/**
 * A private redis-server for one-machine installs: reachable only through a unix socket with mode 0700 (no TCP
 * port), logging to `redis.log` beside it, started before and stopped after every other Tribune process. Its own
 * process group keeps a terminal's Ctrl-C from stopping it before its clients.
 *
 * Persistence: append-only file with `appendfsync everysec`. Redis writes each command to the AOF (write(2)) before
 * it replies, so whatever a client was told is done survives a redis-server crash or kill -9; only a crash of the
 * whole machine can lose the last second (the fsync interval). `always` would fsync before every reply, which costs
 * every HLS part and every join a disk flush for that last second.
 *
 * A redis-server that exits on its own (crash, OOM kill, kill -9) is restarted on the same socket and AOF; clients
 * (ioredis) reconnect by themselves.
 */
export class EmbeddedRedis {
	#process: ChildProcess;
	readonly #socketPath: string;
	readonly #args: string[];
	readonly #serverPath: string;
	readonly #logger: Logger;
	#exited: Promise<void>;
	#stopping = false;
	readonly #restarts: number[] = [];

	private constructor(child: ChildProcess, socketPath: string, args: string[], serverPath: string, logger: Logger) {
		this.#process = child;
		this.#socketPath = socketPath;
		this.#args = args;
		this.#serverPath = serverPath;
		this.#logger = logger;
		this.#exited = this.#watch(child);
	}

	static async start(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
		const dir = path.resolve(options.dir);
		fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
		const socketPath = path.join(dir, 'redis.sock');
		const pidFile = path.join(dir, 'redis.pid');
		await stopStale(pidFile, options.logger);
		fs.rmSync(socketPath, { force: true });
		const args = [
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
		];
		const serverPath = options.serverPath ?? 'redis-server';
		const child = spawnRedis(serverPath, args);
		const redis = new EmbeddedRedis(child, socketPath, args, serverPath, options.logger);
		await redis.#waitReady(child);
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
		this.#stopping = true;
		if (await terminate(this.#process, this.#exited, timing.stopMs)) this.#logger.info('private redis-server stopped');
	}

	async #waitReady(child: ChildProcess): Promise<void> {
		const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
		const exited = new Promise<never>((_, reject) => {
			const fail = (): void => reject(new Error(`redis-server exited during startup (code ${child.exitCode ?? child.signalCode})`));
			if (child.exitCode !== null || child.signalCode !== null) fail();
			else child.once('exit', fail);
		});
		try {
			await Promise.race([waitForPing(this.#socketPath), spawnError, exited]);
		} catch (error) {
			child.kill('SIGKILL');
			throw error;
		}
	}

	/** Resolves when `child` exits; an exit nobody asked for starts a new redis-server. */
	#watch(child: ChildProcess): Promise<void> {
		return new Promise((resolve) => {
			const onExit = (): void => {
				resolve();
				if (!this.#stopping && this.#process === child) void this.#restart(child);
			};
			if (child.exitCode !== null || child.signalCode !== null) onExit();
			else child.once('exit', onExit);
		});
	}

	async #restart(dead: ChildProcess): Promise<void> {
		const now = Date.now();
		this.#restarts.push(now);
		while ((this.#restarts[0] ?? now) < now - 60_000) this.#restarts.shift();
		const reason = { redisPid: dead.pid, code: dead.exitCode, signal: dead.signalCode };
		if (this.#restarts.length > maxRestartsPerMinute) {
			this.#logger.error(reason, `private redis-server exited ${maxRestartsPerMinute} times within a minute; not restarting it`);
			return;
		}
		this.#logger.error(reason, 'private redis-server exited unexpectedly; restarting it on the same socket and append-only file');
		await sleep(timing.restartDelayMs);
		if (this.#stopping) return;
		fs.rmSync(this.#socketPath, { force: true });
		const child = spawnRedis(this.#serverPath, this.#args);
		this.#process = child;
		this.#exited = this.#watch(child);
		try {
			await this.#waitReady(child);
			this.#logger.info({ redisPid: child.pid, downMs: Date.now() - now }, 'private redis-server restarted');
		} catch (error) {
			this.#logger.error({ err: error }, 'private redis-server did not come back');
		}
	}
}

function spawnRedis(serverPath: string, args: string[]): ChildProcess {
	return spawn(serverPath, args, { detached: true, stdio: ['ignore', 'ignore', 'inherit'] });
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
