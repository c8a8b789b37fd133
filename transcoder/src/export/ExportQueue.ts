import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { exportJobDataSchema, exportJobId, exportProgressSchema, exportQueueName, type ExportJobData, type ExportProgress } from './exportJob.js';

/** How long finished export jobs stay readable, seconds (the MP4 on disk outlives them: it is what says `ready`). */
const keepFinishedS = 7 * 24 * 3600;

/** An export job as the API sees it. `completed`: the job succeeded (whether the MP4 is still on disk is the API's to check). */
export interface ExportState {
	state: 'queued' | 'waiting' | 'running' | 'completed' | 'failed' | 'none';
	/** 0–100. */
	percent: number;
	progress?: ExportProgress;
	/** Why the last attempt failed. */
	error?: string;
}

export interface ExportRetryOptions {
	/** Attempts per export job, the first included. Default 4. */
	attempts?: number;
	/** Backoff before the first retry, ms, doubling after each. Default 10000. */
	backoffMs?: number;
}

/**
 * The API's side of replay exports: queue a space's export when its recorded broadcast ends (one job per space,
 * whichever transcoder takes it), queue it again after a failure, and read its state.
 */
export class ExportQueue {
	readonly #queue: Queue<ExportJobData>;
	readonly #retry: Required<ExportRetryOptions>;
	#closed = false;

	/** @param redis A connection whose options BullMQ copies for its own. */
	constructor(redis: Redis, prefix: string, retry: ExportRetryOptions = {}) {
		this.#queue = new Queue<ExportJobData>(exportQueueName, { connection: redis.duplicate(), prefix });
		// An attempt waits up to a minute for the replay; a few more cover a broadcast slow to end and passing trouble.
		this.#retry = { attempts: retry.attempts ?? 4, backoffMs: retry.backoffMs ?? 10_000 };
	}

	/**
	 * Queues the export of a space's replay. While a job for the space is queued or running this returns false and
	 * changes nothing; a finished one (failed, or completed: a host asking again) is replaced. Throws a zod error for
	 * invalid data.
	 */
	async request(data: ExportJobData): Promise<boolean> {
		this.#assertOpen();
		const valid = exportJobDataSchema.parse(data);
		const jobId = exportJobId(valid.spaceId);
		const existing = await this.#queue.getJob(jobId);
		if (existing) {
			const state = await existing.getState();
			if (state !== 'completed' && state !== 'failed') return false;
			await existing.remove();
		}
		// Two requests racing here both add: BullMQ keeps the first job with the id and ignores the second.
		await this.#queue.add('export', valid, {
			jobId,
			attempts: this.#retry.attempts,
			backoff: { type: 'exponential', delay: this.#retry.backoffMs },
			removeOnComplete: { age: keepFinishedS },
			removeOnFail: { age: keepFinishedS },
		});
		return true;
	}

	async state(spaceId: string): Promise<ExportState> {
		this.#assertOpen();
		let job = await this.#queue.getJob(exportJobId(spaceId));
		if (!job) return { state: 'none', percent: 0 };
		const state = await job.getState();
		// The job was read before its state: one that finished in between is read again for its reason and progress.
		if (state === 'failed' || state === 'completed') job = (await this.#queue.getJob(exportJobId(spaceId))) ?? job;
		const parsed = exportProgressSchema.safeParse(job.progress);
		const progress = parsed.success ? parsed.data : undefined;
		const withProgress = progress ? { progress } : {};
		switch (state) {
			case 'active':
				// A job just taken has no progress yet: its first step is waiting for the replay to be complete (said
				// 'running' there, players loaded the replay before it was written).
				return { state: !progress || progress.state === 'waiting' ? 'waiting' : 'running', percent: progress?.percent ?? 0, ...withProgress };
			case 'completed':
				return { state: 'completed', percent: 100, ...withProgress };
			case 'failed':
				return { state: 'failed', percent: 0, error: job.failedReason || 'export failed', ...withProgress };
			case 'unknown':
				return { state: 'none', percent: 0 };
			default:
				// waiting, prioritized, delayed (a retry's backoff), waiting-children.
				return { state: 'queued', percent: 0, ...(job.failedReason && { error: job.failedReason }) };
		}
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#queue.close();
	}

	#assertOpen(): void {
		if (this.#closed) throw new Error('ExportQueue is closed');
	}
}
