import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

/** A Node process the launcher keeps running. */
export interface ChildSpec {
	/** Name in logs, e.g. `api` or `transcoder-1`. */
	name: string;
	/** Path of the compiled entry script. */
	script: string;
	env: NodeJS.ProcessEnv;
	/** Called with each message the child sends over its IPC channel (unvalidated: the receiver parses it). */
	onMessage?: (message: unknown) => void;
}

/** Restart backoff: doubles per consecutive crash up to `maxMs`; a child up for `stableMs` resets it. */
const restartTiming = { initialMs: 500, maxMs: 10_000, stableMs: 30_000 };

interface Managed {
	spec: ChildSpec;
	child: ChildProcess | undefined;
	crashes: number;
	startedAt: number;
	timer: NodeJS.Timeout | undefined;
}

/**
 * Runs Tribune's processes on one machine and restarts any that crash. Each child has an IPC channel to the
 * launcher and exits when it closes, so children never outlive a launcher that was killed outright. `stop()` sends
 * SIGTERM, waits for a clean exit, and kills what is left after the grace period.
 */
export class Supervisor {
	readonly #logger: Logger;
	readonly #onFatal: (name: string, code: number) => void;
	readonly #noRestartExitCodes: readonly number[];
	readonly #managed = new Map<string, Managed>();
	#stopping = false;

	/**
	 * @param options.noRestartExitCodes Exit codes that mean a child cannot start (e.g. invalid configuration):
	 * restarting it would only fail again, so `onFatal` is called instead.
	 */
	constructor(options: { logger: Logger; noRestartExitCodes: readonly number[]; onFatal: (name: string, code: number) => void }) {
		this.#logger = options.logger;
		this.#onFatal = options.onFatal;
		this.#noRestartExitCodes = options.noRestartExitCodes;
	}

	/** Process ids of the running children, by name. */
	get pids(): Record<string, number> {
		const pids: Record<string, number> = {};
		for (const [name, m] of this.#managed) if (m.child?.pid !== undefined && m.child.exitCode === null) pids[name] = m.child.pid;
		return pids;
	}

	start(spec: ChildSpec): void {
		if (this.#stopping) throw new Error('Supervisor is stopping');
		if (this.#managed.has(spec.name)) throw new Error(`Supervisor: ${spec.name} is already running`);
		const managed: Managed = { spec, child: undefined, crashes: 0, startedAt: 0, timer: undefined };
		this.#managed.set(spec.name, managed);
		this.#spawn(managed);
	}

	/** Sends `signal` to the running child named `name`; false when it is not running. */
	signal(name: string, signal: NodeJS.Signals): boolean {
		const child = this.#managed.get(name)?.child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return false;
		return child.kill(signal);
	}

	/** Stops every child: SIGTERM, then SIGKILL after `graceMs`. Resolves when all have exited. Idempotent. */
	async stop(graceMs = 10_000): Promise<void> {
		this.#stopping = true;
		await Promise.all(
			[...this.#managed.values()].map(async (m) => {
				clearTimeout(m.timer);
				const child = m.child;
				if (!child || child.exitCode !== null || child.signalCode !== null) return;
				const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
				child.kill('SIGTERM');
				const killer = setTimeout(() => {
					this.#logger.warn({ child: m.spec.name, childPid: child.pid }, 'child ignored SIGTERM; killing it');
					child.kill('SIGKILL');
				}, graceMs);
				await exited;
				clearTimeout(killer);
			}),
		);
	}

	#spawn(managed: Managed): void {
		const { spec } = managed;
		const child = fork(spec.script, [], { env: spec.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		managed.child = child;
		managed.startedAt = Date.now();
		child.once('error', (error) => this.#logger.error({ err: error, child: spec.name }, 'child process error'));
		if (spec.onMessage) child.on('message', spec.onMessage);
		child.once('exit', (code, signal) => {
			if (this.#stopping) return;
			if (code !== null && this.#noRestartExitCodes.includes(code)) {
				this.#logger.error({ child: spec.name, code }, 'child cannot start; not restarting it');
				this.#onFatal(spec.name, code);
				return;
			}
			if (Date.now() - managed.startedAt > restartTiming.stableMs) managed.crashes = 0;
			managed.crashes++;
			const delayMs = Math.min(restartTiming.initialMs * 2 ** (managed.crashes - 1), restartTiming.maxMs);
			this.#logger.error({ child: spec.name, code, signal, delayMs }, 'child exited; restarting it');
			managed.timer = setTimeout(() => {
				if (!this.#stopping) this.#spawn(managed);
			}, delayMs);
		});
		this.#logger.info({ child: spec.name, childPid: child.pid }, 'child started');
	}
}
