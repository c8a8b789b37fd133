import os from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { exportJobDataSchema, exportQueueName, type ExportJobData, type ExportProgress } from './exportJob.js';

/** What turns one space's replay into its MP4 (createExportRunner). Throws to fail the attempt. */
export type ExportRunner = (
	data: ExportJobData,
	context: { signal: AbortSignal; logger: Logger; reportProgress: (progress: Omit<ExportProgress, 'transcoder' | 'updatedAt'>) => Promise<void> },
) => Promise<void>;

export interface ExportWorkerOptions {
	redis: Redis;
	prefix: string;
	run: ExportRunner;
	logger: Logger;
	/**
	 * Exports this process runs at once. Default 1: an export is a disk-bound stream copy that can wait, and the
	 * transcoder's CPU belongs to its live broadcasts (its ffmpeg also runs under `nice`).
	 */
	concurrency?: number;
}

/**
 * A transcoder's side of replay exports: takes export jobs from BullMQ, validates them and runs them. A failure
 * the runner marks `retryable: false` (a damaged replay, an ffmpeg that lacks something) fails the job at once;
 * anything else is retried with the queue's backoff.
 */
export class ExportWorker {
	readonly #worker: Worker<ExportJobData>;
	readonly #options: ExportWorkerOptions;
	readonly #id = `${os.hostname()}-${process.pid}`;
	#closed = false;

	constructor(options: ExportWorkerOptions) {
		this.#options = options;
		this.#worker = new Worker<ExportJobData>(exportQueueName, (job, _token, signal) => this.#process(job, signal), {
			connection: options.redis.duplicate(),
			prefix: options.prefix,
			concurrency: options.concurrency ?? 1,
		});
		this.#worker.on('error', (error) => options.logger.warn({ err: error }, 'export worker error'));
		this.#worker.on('failed', (job, error) => options.logger.warn({ err: error, jobId: job?.id, attempts: job?.attemptsMade }, 'export attempt failed'));
	}

	/** Process-wide id reported in job progress, `<host>-<pid>`. */
	get id(): string {
		return this.#id;
	}

	/** Stops taking jobs and aborts running ones (they are retried later, here or elsewhere). Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#worker.cancelAllJobs('transcoder shutting down');
		await this.#worker.close();
	}

	async #process(job: Job<ExportJobData>, signal: AbortSignal | undefined): Promise<void> {
		const parsed = exportJobDataSchema.safeParse(job.data);
		if (!parsed.success) throw new UnrecoverableError(`invalid export job data: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
		const data = parsed.data;
		const logger = this.#options.logger.child({ jobId: job.id, spaceId: data.spaceId });
		const controller = new AbortController();
		signal?.addEventListener('abort', () => controller.abort(), { once: true });
		if (signal?.aborted) controller.abort();
		logger.info({ attempt: job.attemptsMade + 1 }, 'export started');
		try {
			await this.#options.run(data, {
				signal: controller.signal,
				logger,
				reportProgress: (progress) => job.updateProgress({ ...progress, transcoder: this.#id, updatedAt: Date.now() }),
			});
		} catch (error) {
			if ((error as { retryable?: unknown }).retryable === false) throw new UnrecoverableError((error as Error).message);
			throw error;
		}
	}
}
