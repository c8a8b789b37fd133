import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { broadcastJobDataSchema, broadcastJobId, broadcastProgressSchema, broadcastQueueName, broadcastStopChannel, broadcastStoppedKey, type BroadcastJobData, type BroadcastProgress } from './broadcastJob.js';
import { fairPriorities, fairPriority } from './fairPriorities.js';

/** How long a stop request is remembered for a job that has not started yet. */
const stopMemoryS = 3600;

export interface BroadcastState {
	state: 'waiting' | 'active' | 'delayed' | 'none';
	/** While waiting: the job's place in the order transcoders take jobs, 1 = next. */
	position?: number;
	progress?: BroadcastProgress;
}

/**
 * The API's side of broadcasting: queue a space's broadcast when it goes live (at most one job per space, whichever
 * transcoder takes it, scheduled fairly between owners: `fairPriority`), ask for it to stop when the space ends, and
 * read its state and, while it waits, its position. Waiting jobs' priorities are brought up to date
 * (`fairPriorities`) when a space ends here and, with `rebalanceOnFinish()`, when any broadcast job completes or fails.
 */
export class BroadcastQueue {
	readonly #queue: Queue<BroadcastJobData>;
	readonly #redis: Redis;
	readonly #prefix: string;
	#events: QueueEvents | undefined;
	/** The rebalance under way, and whether another was asked for meanwhile (one runs at a time). */
	#rebalancing: Promise<void> | undefined;
	#rebalanceAgain = false;
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
		// The stop stands whatever happens here; priorities are brought up to date again at the next stop or finish.
		await this.#rebalance(jobId).catch(() => {});
	}

	/**
	 * Also brings waiting jobs' priorities up to date whenever a broadcast job completes or fails (on any transcoder:
	 * this reads the queue's events), so an owner whose broadcast ended without a stop here moves up then. Resolves
	 * once reading; idempotent. Each rebalance reads the queue once and changes at most the waiting jobs (at most the
	 * cluster's live spaces); finishes arriving during one are served by one more.
	 */
	async rebalanceOnFinish(): Promise<void> {
		this.#assertOpen();
		if (this.#events) return this.#events.waitUntilReady().then(() => undefined);
		const events = new QueueEvents(broadcastQueueName, { connection: this.#redis.duplicate(), prefix: this.#prefix });
		this.#events = events;
		const rebalance = (): void => void this.#rebalanceSoon();
		events.on('completed', rebalance);
		events.on('failed', rebalance);
		// Reading resumes by itself; meanwhile priorities wait for the next stop or finish.
		events.on('error', () => {});
		await events.waitUntilReady();
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
		await this.#events?.close();
		await this.#rebalancing;
		await this.#queue.close();
	}

	/** Broadcasts of one owner that run or wait. The queue holds at most the cluster's live spaces. */
	async #ownerJobs(owner: string): Promise<number> {
		const jobs = await this.#queue.getJobs(['active', 'waiting', 'prioritized', 'delayed']);
		return jobs.filter((job: Job<BroadcastJobData> | undefined) => job?.data?.owner === owner).length;
	}

	/** A rebalance after the one under way, if any; errors are dropped (the next finish or stop tries again). */
	async #rebalanceSoon(): Promise<void> {
		if (this.#closed) return;
		if (this.#rebalancing) {
			this.#rebalanceAgain = true;
			return;
		}
		this.#rebalancing = (async () => {
			do {
				this.#rebalanceAgain = false;
				// Priorities only order waiting jobs: one not brought up to date (Redis away) is, at the next finish or stop.
				await this.#rebalance().catch(() => {});
			} while (this.#rebalanceAgain && !this.#closed);
		})();
		await this.#rebalancing;
		this.#rebalancing = undefined;
	}

	/**
	 * Gives each waiting job the priority it would get if queued now behind its owner's earlier ones
	 * (`fairPriorities`), so an owner whose broadcasts ended moves up. A raised job goes behind the jobs already
	 * waiting at its new priority (BullMQ's `changePriority`), ahead of those queued later: its owner's broadcast has
	 * just ended, so owners who waited meanwhile go first — turns, not queue times — and a transcoder freed at that
	 * moment takes the same job whether it asks before the rebalance or after. `leaving`: the job of a space that
	 * ended (it counts no more, though it stays active until its transcoder lets go).
	 */
	async #rebalance(leaving?: string): Promise<void> {
		const [running, waiting] = await Promise.all([this.#queue.getJobs(['active', 'delayed']), this.#queue.getJobs(['prioritized'])]);
		const present = (jobs: (Job<BroadcastJobData> | undefined)[]) => jobs.filter((job): job is Job<BroadcastJobData> => job?.id !== undefined);
		const lined = new Map(present(waiting).map((job) => [job.id!, job]));
		const planned = fairPriorities(
			present(running)
				.filter((job) => job.id !== leaving)
				.map((job) => ({ ...(job.data?.owner !== undefined && { owner: job.data.owner }) })),
			[...lined.values()].map((job) => ({ id: job.id!, queuedAt: job.timestamp, ...(job.data?.owner !== undefined && { owner: job.data.owner }) })),
		);
		for (const { id, priority } of planned) {
			const job = lined.get(id)!;
			// A job taken or removed meanwhile is not waiting any more: nothing to change.
			if (job.priority !== priority) await job.changePriority({ priority }).catch(() => {});
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
