import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { broadcastJobDataSchema, broadcastJobId, broadcastProgressSchema, broadcastQueueName, broadcastStopChannel, broadcastStoppedKey, type BroadcastJobData, type BroadcastProgress } from './broadcastJob.js';

/** How long a stop request is remembered for a job that has not started yet. */
const stopMemoryS = 3600;

export interface BroadcastState {
	state: 'waiting' | 'active' | 'delayed' | 'none';
	progress?: BroadcastProgress;
}

/**
 * The API's side of broadcasting: queue a space's broadcast when it goes live (at most one job per space, whichever
 * transcoder takes it), ask for it to stop when the space ends, and read its state.
 */
export class BroadcastQueue {
	readonly #queue: Queue<BroadcastJobData>;
	readonly #redis: Redis;
	readonly #prefix: string;
	#closed = false;

	/** @param redis A connection for commands (BullMQ opens its own from the same options). */
	constructor(redis: Redis, prefix: string) {
		this.#redis = redis;
		this.#prefix = prefix;
		this.#queue = new Queue<BroadcastJobData>(broadcastQueueName, { connection: redis.duplicate(), prefix });
	}

	/**
	 * Queues the broadcast of a space. Idempotent: while a job for the space exists, this returns false and changes
	 * nothing. Throws a zod error for invalid data.
	 */
	async start(data: BroadcastJobData): Promise<boolean> {
		this.#assertOpen();
		const valid = broadcastJobDataSchema.parse(data);
		const jobId = broadcastJobId(valid.spaceId);
		await this.#redis.del(broadcastStoppedKey(this.#prefix, valid.spaceId));
		const existing = await this.#queue.getJob(jobId);
		if (existing && !(await existing.isCompleted()) && !(await existing.isFailed())) return false;
		if (existing) await existing.remove();
		await this.#queue.add('broadcast', valid, {
			jobId,
			// The transcoder restarts ffmpeg itself; BullMQ's attempts cover a job that throws anyway.
			attempts: 5,
			backoff: { type: 'exponential', delay: 500 },
			removeOnComplete: true,
			removeOnFail: { age: 24 * 3600 },
		});
		return true;
	}

	/** Asks whichever transcoder runs the space's job to stop it (the job ends cleanly), or drops a waiting job. */
	async stop(spaceId: string): Promise<void> {
		this.#assertOpen();
		const jobId = broadcastJobId(spaceId);
		await this.#redis.set(broadcastStoppedKey(this.#prefix, spaceId), '1', 'EX', stopMemoryS);
		const job = await this.#queue.getJob(jobId);
		if (job && ((await job.isWaiting()) || (await job.isDelayed()))) await job.remove().catch(() => {});
		await this.#redis.publish(broadcastStopChannel(this.#prefix), spaceId);
	}

	async state(spaceId: string): Promise<BroadcastState> {
		this.#assertOpen();
		const job = await this.#queue.getJob(broadcastJobId(spaceId));
		if (!job) return { state: 'none' };
		const state = await job.getState();
		const progress = broadcastProgressSchema.safeParse(job.progress);
		const known = state === 'waiting' || state === 'active' || state === 'delayed' ? state : 'none';
		return progress.success ? { state: known, progress: progress.data } : { state: known };
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#queue.close();
	}

	#assertOpen(): void {
		if (this.#closed) throw new Error('BroadcastQueue is closed');
	}
}
