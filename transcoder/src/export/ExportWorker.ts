import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { JobWorker } from '../JobWorker.js';
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
 * A transcoder's side of replay exports: takes export jobs from BullMQ (a `JobWorker`: validated, aborted when the
 * transcoder stops) and runs them. A failure the runner marks `retryable: false` (a damaged replay, an ffmpeg that
 * lacks something) fails the job at once; anything else is retried with the queue's backoff.
 */
export class ExportWorker {
	readonly #jobs: JobWorker<ExportJobData, Omit<ExportProgress, 'transcoder' | 'updatedAt'>>;

	constructor(options: ExportWorkerOptions) {
		this.#jobs = new JobWorker({
			queueName: exportQueueName,
			kind: 'export',
			schema: exportJobDataSchema,
			redis: options.redis,
			prefix: options.prefix,
			concurrency: options.concurrency ?? 1,
			failedLevel: 'warn',
			process: async (data, context, job) => {
				context.logger.info({ attempt: job.attemptsMade + 1 }, 'export started');
				try {
					await options.run(data, context);
				} catch (error) {
					if ((error as { retryable?: unknown }).retryable === false) throw new UnrecoverableError((error as Error).message);
					throw error;
				}
			},
			logger: options.logger,
		});
	}

	/** Process-wide id reported in job progress, `<host>-<pid>`. */
	get id(): string {
		return this.#jobs.id;
	}

	/** Stops taking jobs and aborts running ones (they are retried later, here or elsewhere). Idempotent. */
	close(): Promise<void> {
		return this.#jobs.close();
	}
}
