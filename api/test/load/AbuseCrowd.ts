import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BotsJob, BotsReport, CreatesJob, CreatesReport, IdleJob, IdleReport } from './abuseCrowdChild.js';
import { compileLoadWorker } from './compileLoadWorker.js';

/**
 * The test's handle on the abusive crowd (`abuseCrowdChild.ts`), one forked process for all of it so its sockets
 * and CPU are not the test's. Each job's answer is awaited within a bound; the process is killed on close.
 */
export class AbuseCrowd {
	readonly #child: ChildProcess;
	readonly #script: string;
	readonly #messages: { type: string; report?: unknown }[] = [];
	readonly #waiters = new Set<() => void>();

	private constructor(script: string) {
		this.#script = script;
		this.#child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		this.#child.on('message', (message: { type: string }) => {
			this.#messages.push(message);
			for (const waiter of this.#waiters) waiter();
		});
		this.#child.on('exit', () => {
			for (const waiter of this.#waiters) waiter();
		});
	}

	static async start(): Promise<AbuseCrowd> {
		const crowd = new AbuseCrowd(compileLoadWorker(fileURLToPath(new URL('./abuseCrowdChild.ts', import.meta.url))));
		await crowd.#next('ready', 10_000);
		return crowd;
	}

	get pid(): number | undefined {
		return this.#child.pid;
	}

	/** Joins and connects `job.count` listeners in a space and leaves them connected, idle. */
	async idle(job: IdleJob): Promise<IdleReport> {
		this.#child.send({ type: 'idle', job });
		return this.#next<IdleReport>('idled', job.timeoutMs + 30_000);
	}

	/** Starts the bots; the promise settles when the last one is done (or at the job's deadline plus its steps). */
	bots(job: BotsJob): Promise<BotsReport> {
		this.#child.send({ type: 'bots', job });
		return this.#next<BotsReport>('botsDone', job.deadlineMs + job.stepTimeoutMs * 6 + 30_000);
	}

	creates(job: CreatesJob, timeoutMs: number): Promise<CreatesReport> {
		this.#child.send({ type: 'creates', job });
		return this.#next<CreatesReport>('created', timeoutMs);
	}

	/** Closes the idle sockets; their report as they were just before. */
	closeIdle(): Promise<IdleReport> {
		this.#child.send({ type: 'closeIdle' });
		return this.#next<IdleReport>('idleClosed', 10_000);
	}

	close(): void {
		if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
		fs.rmSync(this.#script, { force: true });
	}

	/** The next message of `type` (taken off the queue), within `timeoutMs`; its report. */
	#next<T>(type: string, timeoutMs: number): Promise<T> {
		return new Promise((resolve, reject) => {
			const check = (): boolean => {
				const index = this.#messages.findIndex((m) => m.type === type);
				if (index >= 0) {
					const [message] = this.#messages.splice(index, 1);
					done();
					resolve(message?.report as T);
					return true;
				}
				if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
					done();
					reject(new Error(`abuse crowd exited (${this.#child.exitCode ?? this.#child.signalCode}) before '${type}'`));
					return true;
				}
				return false;
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`abuse crowd sent no '${type}' in ${timeoutMs} ms`));
			}, timeoutMs);
			const waiter = (): void => void check();
			const done = (): void => {
				clearTimeout(timer);
				this.#waiters.delete(waiter);
			};
			if (!check()) this.#waiters.add(waiter);
		});
	}
}
