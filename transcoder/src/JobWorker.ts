import os from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { z } from 'zod';

/** What a job's runner gets besides its data. */
export interface JobContext<P> {
	/** Aborts when the job is cancelled (`JobWorker.cancel`) or the transcoder stops, with the reason given. */
	signal: AbortSignal;
	/** The worker's logger with the job's id and space. */
	logger: Logger;
	/** Publishes the job's progress, stamped with this transcoder's id and the time. */
	reportProgress: (progress: P) => Promise<void>;
}

export interface JobWorkerOptions<D extends { spaceId: string }, P extends object> {
	/** The BullMQ queue the jobs come from. */
	queueName: string;
	/** What the jobs are, in log lines and errors: `broadcast`, `export`. */
	kind: string;
	/** The job's data as it must be; anything else fails the job for good. */
	schema: z.ZodType<D>;
	redis: Redis;
	prefix: string;
	/** Jobs this process runs at once. */
	concurrency: number;
	/** BullMQ's lock and stall checks, when not its defaults (see `BroadcastWorker`). */
	locks?: { lockDuration: number; stalledInterval: number; maxStalledCount: number };
	/** How a failed attempt is logged: `error` where it interrupts something live, `warn` where it can wait. */
	failedLevel: 'error' | 'warn';
	/**
	 * Runs one job with valid data; resolves when it is done, throws to fail the attempt (BullMQ retries it as its
	 * queue says, unless the error is an `UnrecoverableError`).
	 */
	process: (data: D, context: JobContext<P>, job: Job<D>) => Promise<void>;
	logger: Logger;
}

/**
 * A transcoder's side of one BullMQ queue, the same for broadcasts and exports: takes jobs, validates their data at
 * the edge, runs each with a child logger, an abort signal and progress stamped with this process's id, cancels one
 * on request and all of them on `close()`.
 */
export class JobWorker<D extends { spaceId: string }, P extends object> {
	readonly #worker: Worker<D>;
	readonly #options: JobWorkerOptions<D, P>;
	readonly #id = `${os.hostname()}-${process.pid}`;
	#closed = false;

	constructor(options: JobWorkerOptions<D, P>) {
		this.#options = options;
		this.#worker = new Worker<D>(options.queueName, (job, _token, signal) => this.#process(job, signal), {
			connection: options.redis.duplicate(),
			prefix: options.prefix,
			concurrency: options.concurrency,
			...options.locks,
		});
		this.#worker.on('error', (error) => options.logger.warn({ err: error }, `${options.kind} worker error`));
		this.#worker.on('failed', (job, error) => options.logger[options.failedLevel]({ err: error, jobId: job?.id, attempts: job?.attemptsMade }, `${options.kind} attempt failed`));
	}

	/** Process-wide id reported in job progress, `<host>-<pid>`. */
	get id(): string {
		return this.#id;
	}

	/** Aborts job `jobId` if this process runs it, with `reason` as its signal's reason; whether it did. */
	cancel(jobId: string, reason: string): boolean {
		return this.#worker.cancelJob(jobId, reason);
	}

	/** Stops taking jobs and aborts the running ones; resolves when they ended. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#worker.cancelAllJobs('transcoder shutting down');
		await this.#worker.close();
	}

	async #process(job: Job<D>, signal: AbortSignal | undefined): Promise<void> {
		const { kind, schema, logger } = this.#options;
		const parsed = schema.safeParse(job.data);
		if (!parsed.success) throw new UnrecoverableError(`invalid ${kind} job data: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
		const data = parsed.data;
		const controller = new AbortController();
		signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
		if (signal?.aborted) controller.abort(signal.reason);
		await this.#options.process(data, {
			signal: controller.signal,
			logger: logger.child({ jobId: job.id, spaceId: data.spaceId }),
			reportProgress: async (progress) => void (await job.updateProgress({ ...progress, transcoder: this.#id, updatedAt: Date.now() })),
		}, job);
	}
}
