import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { broadcastJobDataSchema, broadcastJobId, broadcastProgressSchema, broadcastQueueName, broadcastStopChannel, broadcastStoppedKey, type BroadcastJobData, type BroadcastProgress } from './broadcastJob.js';

/** How long a stop request is remembered for a job that has not started yet. */
const stopMemoryS = 3600;

export interface BroadcastState {
	state: 'waiting' | 'active' | 'delayed' | 'none';
	/** While waiting: the job's place in the order transcoders take jobs, 1 = next. */
	position?: number;
	progress?: BroadcastProgress;
}

/** BullMQ's highest priority number (the lowest priority). */
const lowestPriority = 2_097_152;

/**
 * The BullMQ priority of a new broadcast whose owner already has `ownerJobs` broadcasts running or waiting: 1 for an
 * owner's first, 2 for their second, and so on. Transcoders take lower numbers first, and jobs of equal number in
 * the order they were queued, so an owner's second broadcast waits behind every other owner's first.
 */
export function fairPriority(ownerJobs: number): number {
	return Math.min(lowestPriority, 1 + Math.max(0, Math.floor(ownerJobs)));
}

/**
 * The API's side of broadcasting: queue a space's broadcast when it goes live (at most one job per space, whichever
 * transcoder takes it, scheduled fairly between owners: `fairPriority`), ask for it to stop when the space ends, and
 * read its state and, while it waits, its position.
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
		// Two starts of one owner racing here may get the same priority: a tie, taken in queue order.
		const priority = fairPriority(valid.owner === undefined ? 0 : await this.#ownerJobs(valid.owner));
		await this.#queue.add('broadcast', valid, {
			jobId,
			priority,
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
		const state = await job?.getState();
		// A job being taken meanwhile cannot be removed; the stop message and key end it instead.
		if (job && (state === 'waiting' || state === 'prioritized' || state === 'delayed')) await job.remove().catch(() => {});
		await this.#redis.publish(broadcastStopChannel(this.#prefix), spaceId);
		// The stop stands whatever happens here; priorities are brought up to date again at the next stop.
		await this.#rebalance(jobId).catch(() => {});
	}

	async state(spaceId: string): Promise<BroadcastState> {
		this.#assertOpen();
		const job = await this.#queue.getJob(broadcastJobId(spaceId));
		if (!job) return { state: 'none' };
		const state = await job.getState();
		if (state === 'waiting' || state === 'prioritized') {
			const position = await this.#position(job.id!);
			return position === undefined ? { state: 'waiting' } : { state: 'waiting', position };
		}
		const progress = broadcastProgressSchema.safeParse(job.progress);
		const known = state === 'active' || state === 'delayed' ? state : 'none';
		return progress.success ? { state: known, progress: progress.data } : { state: known };
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#queue.close();
	}

	/** Broadcasts of one owner that run or wait. The queue holds at most the cluster's live spaces. */
	async #ownerJobs(owner: string): Promise<number> {
		const jobs = await this.#queue.getJobs(['active', 'waiting', 'prioritized', 'delayed']);
		return jobs.filter((job: Job<BroadcastJobData> | undefined) => job?.data?.owner === owner).length;
	}

	/**
	 * Gives each waiting job the priority it would get if queued now behind its owner's earlier ones, so an owner whose
	 * broadcasts ended moves up instead of keeping the number it got while they ran. `leaving`: the job of a space
	 * that ended (it counts no more, though it stays active until its transcoder lets go). A job whose priority changes
	 * goes behind those already waiting at its new one.
	 */
	async #rebalance(leaving: string): Promise<void> {
		const [running, waiting] = await Promise.all([this.#queue.getJobs(['active', 'delayed']), this.#queue.getJobs(['prioritized'], 0, -1, true)]);
		const jobs = new Map<string, number>();
		for (const job of running as (Job<BroadcastJobData> | undefined)[]) {
			const owner = job?.data?.owner;
			if (owner !== undefined && job!.id !== leaving) jobs.set(owner, (jobs.get(owner) ?? 0) + 1);
		}
		for (const job of waiting as (Job<BroadcastJobData> | undefined)[]) {
			if (!job) continue;
			const owner = job.data?.owner;
			const ahead = owner === undefined ? 0 : (jobs.get(owner) ?? 0);
			if (owner !== undefined) jobs.set(owner, ahead + 1);
			const priority = fairPriority(ahead);
			if (job.priority !== priority) await job.changePriority({ priority });
		}
	}

	/**
	 * Where a waiting job stands, 1 = next: transcoders take the jobs without a priority first (queued by an older
	 * API), then the prioritized ones by priority and, within one, in queue order.
	 */
	async #position(jobId: string): Promise<number | undefined> {
		const [plain, prioritized] = await Promise.all([this.#queue.getRanges(['waiting'], 0, -1, true), this.#queue.getRanges(['prioritized'], 0, -1, true)]);
		const inPlain = plain.indexOf(jobId);
		if (inPlain >= 0) return inPlain + 1;
		const inPrioritized = prioritized.indexOf(jobId);
		return inPrioritized >= 0 ? plain.length + inPrioritized + 1 : undefined;
	}

	#assertOpen(): void {
		if (this.#closed) throw new Error('BroadcastQueue is closed');
	}
}
