import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BotsJob, BotsReport, CreatesJob, CreatesReport, IdleJob, IdleReport } from './abuseCrowdChild.js';
import { compileLoadWorker } from './compileLoadWorker.js';
import { ForkedWorker } from './ForkedWorker.js';

/**
 * The test's handle on the abusive crowd (`abuseCrowdChild.ts`), one forked process for all of it so its sockets
 * and CPU are not the test's. Each job's answer is awaited within a bound; the process is killed on close.
 */
export class AbuseCrowd {
	readonly #worker: ForkedWorker;
	readonly #script: string;

	private constructor(script: string) {
		this.#script = script;
		this.#worker = new ForkedWorker(script, 'abuse crowd');
	}

	static async start(): Promise<AbuseCrowd> {
		const crowd = new AbuseCrowd(compileLoadWorker(fileURLToPath(new URL('./abuseCrowdChild.ts', import.meta.url))));
		await crowd.#next('ready', 10_000);
		return crowd;
	}

	get pid(): number | undefined {
		return this.#worker.child.pid;
	}

	/** Joins and connects `job.count` listeners in a space and leaves them connected, idle. */
	async idle(job: IdleJob): Promise<IdleReport> {
		this.#worker.send({ type: 'idle', job });
		return this.#next<IdleReport>('idled', job.timeoutMs + 30_000);
	}

	/** Starts the bots; the promise settles when the last one is done (or at the job's deadline plus its steps). */
	bots(job: BotsJob): Promise<BotsReport> {
		this.#worker.send({ type: 'bots', job });
		return this.#next<BotsReport>('botsDone', job.deadlineMs + job.stepTimeoutMs * 6 + 30_000);
	}

	creates(job: CreatesJob, timeoutMs: number): Promise<CreatesReport> {
		this.#worker.send({ type: 'creates', job });
		return this.#next<CreatesReport>('created', timeoutMs);
	}

	/** Closes the idle sockets; their report as they were just before. */
	closeIdle(): Promise<IdleReport> {
		this.#worker.send({ type: 'closeIdle' });
		return this.#next<IdleReport>('idleClosed', 10_000);
	}

	close(): void {
		this.#worker.kill();
		fs.rmSync(this.#script, { force: true });
	}

	/** The report of the next message of `type`, within `timeoutMs`. */
	async #next<T>(type: string, timeoutMs: number): Promise<T> {
		return (await this.#worker.next<{ report?: T }>(type, timeoutMs)).report as T;
	}
}
