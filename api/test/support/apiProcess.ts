import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { EmbeddedRedis } from '../../src/launcher/EmbeddedRedis.js';
import { freePort } from './processes.js';

const mainScript = path.resolve(import.meta.dirname, '../../dist/main.js');

/**
 * A real API node process (`api/dist/main.js`: build first) on a loopback port, as one of several on one Redis.
 * It can be killed and started again on the same port.
 */
export class ApiProcess {
	readonly port: number;
	readonly #env: NodeJS.ProcessEnv;
	#child: ChildProcess | undefined;
	#output = '';

	private constructor(port: number, env: NodeJS.ProcessEnv) {
		this.port = port;
		this.#env = env;
	}

	/** `shared`: what every node of one cluster has in common (Redis, token secret). `extraEnv`: undefined unsets. */
	static async start(shared: { redisUrl: string; tokenSecret: string; dataDir: string }, extraEnv: Record<string, string | undefined> = {}): Promise<ApiProcess> {
		if (!fs.existsSync(mainScript)) throw new Error(`${mainScript} is missing: run npx tsc -b ingest transcoder api`);
		const port = await freePort();
		const env: NodeJS.ProcessEnv = {
			...process.env,
			PORT: String(port),
			HOST: '127.0.0.1',
			REDIS_URL: shared.redisUrl,
			TRIBUNE_TOKEN_SECRET: shared.tokenSecret,
			TRIBUNE_DATA_DIR: shared.dataDir,
			PLAYER_DIR: '/nonexistent',
			MEDIASOUP_NUM_WORKERS: '1',
			LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
			// Tests create spaces anonymously unless they ask for the closed default (TRIBUNE_OPEN_HOSTING=false).
			TRIBUNE_OPEN_HOSTING: process.env.TRIBUNE_OPEN_HOSTING ?? 'true',
			// Tests join from loopback far faster than a network of people does (spaceLimits.test.ts tests the rates).
			JOINS_PER_MIN_PER_ADDRESS: '1000000',
			JOINS_PER_MIN_PER_ADDRESS_IN_SPACE: '1000000',
			...extraEnv,
		};
		for (const [name, value] of Object.entries(extraEnv)) if (value === undefined) delete env[name];
		const node = new ApiProcess(port, env);
		await node.restart();
		return node;
	}

	get baseUrl(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get wsUrl(): string {
		return `ws://127.0.0.1:${this.port}/ws`;
	}

	get pid(): number | undefined {
		return this.#child?.pid;
	}

	output(): string {
		return this.#output;
	}

	/** Starts the process (again, on the same port) and waits until /healthz answers ok. */
	async restart(timeoutMs = 30_000): Promise<void> {
		const child = spawn(process.execPath, [mainScript], { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
		this.#child = child;
		const append = (chunk: Buffer) => (this.#output = (this.#output + chunk.toString()).slice(-200_000));
		child.stdout!.on('data', append);
		child.stderr!.on('data', append);
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (child.exitCode !== null) throw new Error(`API node exited (${child.exitCode}):\n${this.#output.slice(-3000)}`);
			const ok = await fetch(`${this.baseUrl}/healthz`).then((r) => r.ok, () => false);
			if (ok) return;
			if (Date.now() > deadline) throw new Error(`API node not healthy in ${timeoutMs} ms:\n${this.#output.slice(-3000)}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	/** Kills the process with `signal` and waits for it to exit (and its mediasoup worker with it). */
	async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
		const child = this.#child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise((resolve) => child.once('exit', resolve));
		child.kill(signal);
		await exited;
	}
}

/** A private Redis, a shared token secret and data dir for a cluster of API processes in one test file. */
export async function startCluster(): Promise<{ redisUrl: string; tokenSecret: string; dataDir: string; stop(): Promise<void> }> {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-cluster-'));
	const redis = await EmbeddedRedis.start({ dir: path.join(dataDir, 'redis'), logger: pino({ level: 'warn' }) });
	return {
		redisUrl: redis.url,
		tokenSecret: randomUUID() + randomUUID(),
		dataDir,
		async stop() {
			await redis.stop();
			fs.rmSync(dataDir, { recursive: true, force: true });
		},
	};
}
