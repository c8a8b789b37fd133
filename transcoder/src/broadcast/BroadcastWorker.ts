import os from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
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
 * A transcoder's side of broadcasting: takes broadcast jobs from BullMQ, validates them, runs them, and aborts a
 * job when the API publishes that its space ended. A job that was recovered from a dead worker simply runs again
 * here (its stage is still live).
 */
export class BroadcastWorker {
	readonly #worker: Worker<BroadcastJobData>;
	readonly #subscriber: Redis;
	readonly #options: BroadcastWorkerOptions;
	readonly #id = `${os.hostname()}-${process.pid}`;
	#closed = false;

	private constructor(options: BroadcastWorkerOptions, subscriber: Redis) {
		this.#options = options;
		this.#subscriber = subscriber;
		this.#worker = new Worker<BroadcastJobData>(broadcastQueueName, (job, _token, signal) => this.#process(job, signal), {
			connection: options.redis.duplicate(),
			prefix: options.prefix,
			concurrency: options.concurrency,
			lockDuration: options.lockDurationMs ?? 4000,
			stalledInterval: options.stalledIntervalMs ?? 2000,
			// A live broadcast must survive many worker deaths; each one counts as a stall.
			maxStalledCount: 100,
		});
		this.#worker.on('error', (error) => options.logger.warn({ err: error }, 'broadcast worker error'));
		this.#worker.on('failed', (job, error) => options.logger.error({ err: error, jobId: job?.id }, 'broadcast job failed'));
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
		return this.#id;
	}

	/** Stops taking jobs and aborts the running ones; resolves when they ended. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#worker.cancelAllJobs('transcoder shutting down');
		await this.#worker.close();
		this.#subscriber.disconnect();
	}

	#onStop(spaceId: string): void {
		try {
			if (this.#worker.cancelJob(broadcastJobId(spaceId), spaceEndedReason)) this.#options.logger.info({ spaceId }, 'broadcast stop requested');
		} catch {
			// Not a valid space id: nothing of ours.
		}
	}

	async #process(job: Job<BroadcastJobData>, signal: AbortSignal | undefined): Promise<void> {
		const parsed = broadcastJobDataSchema.safeParse(job.data);
		if (!parsed.success) throw new UnrecoverableError(`invalid broadcast job data: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
		const data = parsed.data;
		const logger = this.#options.logger.child({ jobId: job.id, spaceId: data.spaceId });
		if (await this.#options.redis.exists(broadcastStoppedKey(this.#options.prefix, data.spaceId))) {
			logger.info('space already ended; not broadcasting');
			return;
		}
		const controller = new AbortController();
		signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
		if (signal?.aborted) controller.abort(signal.reason);
		logger.info({ attempt: job.attemptsMade + 1 }, 'broadcast started');
		await this.#options.run(data, {
			signal: controller.signal,
			logger,
			reportProgress: (progress) => job.updateProgress({ ...progress, transcoder: this.#id, updatedAt: Date.now() }),
		});
		logger.info('broadcast ended');
	}
}
