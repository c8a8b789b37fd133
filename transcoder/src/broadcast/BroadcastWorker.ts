import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { JobWorker, type JobContext } from '../JobWorker.js';
import { broadcastJobDataSchema, broadcastJobId, broadcastQueueName, broadcastStopChannel, broadcastStoppedKey, type BroadcastJobData, type BroadcastProgress } from './broadcastJob.js';

/** The reason a broadcast's signal aborts with when its space ended (not when its transcoder stops). */
export const spaceEndedReason = 'space ended';

/** What runs one space's broadcast until `signal` aborts (the space ended) — ffmpeg, the packager, restarts. */
export type BroadcastRunner = (
	data: BroadcastJobData,
	context: { signal: AbortSignal; logger: Logger; reportProgress: (progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>) => Promise<void> },
) => Promise<void>;

export interface BroadcastWorkerOptions {
	redis: Redis;
	prefix: string;
	/** Broadcasts this process runs at once. */
	concurrency: number;
	run: BroadcastRunner;
	logger: Logger;
	/**
	 * How long a job's lock lives without renewal, ms. A worker killed with -9 stops renewing; BullMQ's stalled-job
	 * check hands the job to another worker after at most lockDurationMs + stalledIntervalMs. Defaults 4000 and 2000.
	 */
	lockDurationMs?: number;
	stalledIntervalMs?: number;
}

/**
 * A transcoder's side of broadcasting: takes broadcast jobs from BullMQ (a `JobWorker`: validated, aborted when the
 * transcoder stops), runs them, and aborts a job when the API publishes that its space ended. A job that was
 * recovered from a dead worker simply runs again here (its stage is still live).
 */
export class BroadcastWorker {
	readonly #jobs: JobWorker<BroadcastJobData, Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>>;
	readonly #subscriber: Redis;
	readonly #options: BroadcastWorkerOptions;
	#closed = false;

	private constructor(options: BroadcastWorkerOptions, subscriber: Redis) {
		this.#options = options;
		this.#subscriber = subscriber;
		this.#jobs = new JobWorker({
			queueName: broadcastQueueName,
			kind: 'broadcast',
			schema: broadcastJobDataSchema,
			redis: options.redis,
			prefix: options.prefix,
			concurrency: options.concurrency,
			// A live broadcast must survive many worker deaths; each one counts as a stall.
			locks: { lockDuration: options.lockDurationMs ?? 4000, stalledInterval: options.stalledIntervalMs ?? 2000, maxStalledCount: 100 },
			// A failed attempt interrupts a live broadcast (BullMQ tries again, as its queue says): an error.
			failedLevel: 'error',
			process: (data, context, job) => this.#process(data, context, job.attemptsMade),
			logger: options.logger,
		});
	}

	/** Starts taking jobs once the stop channel is subscribed, so no stop message can be missed. */
	static async start(options: BroadcastWorkerOptions): Promise<BroadcastWorker> {
		const subscriber = options.redis.duplicate();
		await subscriber.subscribe(broadcastStopChannel(options.prefix));
		const worker = new BroadcastWorker(options, subscriber);
		subscriber.on('message', (_channel, spaceId: string) => worker.#onStop(spaceId));
		return worker;
	}

	/** Process-wide id reported in job progress, `<host>-<pid>`. */
	get id(): string {
		return this.#jobs.id;
	}

	/** Stops taking jobs and aborts the running ones; resolves when they ended. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#jobs.close();
		this.#subscriber.disconnect();
	}

	#onStop(spaceId: string): void {
		try {
			if (this.#jobs.cancel(broadcastJobId(spaceId), spaceEndedReason)) this.#options.logger.info({ spaceId }, 'broadcast stop requested');
		} catch {
			// Not a valid space id: nothing of ours.
		}
	}

	async #process(data: BroadcastJobData, context: JobContext<Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>>, attemptsMade: number): Promise<void> {
		const { logger } = context;
		if (await this.#options.redis.exists(broadcastStoppedKey(this.#options.prefix, data.spaceId))) {
			logger.info('space already ended; not broadcasting');
			return;
		}
		logger.info({ attempt: attemptsMade + 1 }, 'broadcast started');
		await this.#options.run(data, context);
		logger.info('broadcast ended');
	}
}
