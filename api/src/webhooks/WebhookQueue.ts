import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { webhookEventId, webhookJobDataSchema, webhookJobId, webhookQueueName, type WebhookEvent, type WebhookEventData, type WebhookEventType, type WebhookJobData } from './webhookEvent.js';

export interface WebhookRetryOptions {
	/** Attempts per event, the first included. Default 12. */
	attempts?: number;
	/**
	 * Backoff before the first retry, ms, doubling after each. Default 2000: with 12 attempts the last one is made
	 * about 68 minutes after the first, so a receiver down for up to an hour still gets every event.
	 */
	backoffMs?: number;
}

/** The about 68 minutes of `WebhookRetryOptions`' defaults: from the first attempt to the last, ms. */
export function webhookRetryHorizonMs(retry: WebhookRetryOptions = {}): number {
	const attempts = retry.attempts ?? 12;
	const backoffMs = retry.backoffMs ?? 2000;
	return backoffMs * (2 ** Math.max(0, attempts - 1) - 1);
}

/** Events waiting or due for a retry at most, by default (`WEBHOOK_MAX_BACKLOG`). */
export const defaultWebhookMaxBacklog = 10_000;

/** An event not queued because `maxBacklog` events already wait (the receiver is down or slow). Not worth retrying. */
export class WebhookBacklogFullError extends Error {
	override readonly name = 'WebhookBacklogFullError';
}

/** Delivered events stay this long (so a late duplicate finds its id taken), s; failed ones a week, for operators. */
const keepDeliveredS = 24 * 3600;
const keepFailedS = 7 * 24 * 3600;
/** …and at most this many of each. */
const keepCount = 10_000;

/**
 * Where webhook events are queued, one BullMQ job per event; `WebhookWorker`s on the API nodes deliver them. An
 * event given a `key` has a derived id: several nodes queueing it queue one job.
 */
export class WebhookQueue {
	readonly #queue: Queue<WebhookJobData>;
	readonly #retry: Required<WebhookRetryOptions>;
	readonly #maxBacklog: number;
	#closed = false;

	/**
	 * @param redis A connection whose options BullMQ copies for its own.
	 * @param maxBacklog Events waiting or due for a retry at most; a new one beyond is refused. Checked before each
	 *   event is added, so nodes adding at once may pass it by a few.
	 */
	constructor(redis: Redis, prefix: string, retry: WebhookRetryOptions = {}, maxBacklog = defaultWebhookMaxBacklog) {
		this.#queue = new Queue<WebhookJobData>(webhookQueueName, { connection: redis.duplicate(), prefix });
		this.#retry = { attempts: retry.attempts ?? 12, backoffMs: retry.backoffMs ?? 2000 };
		this.#maxBacklog = maxBacklog;
	}

	/**
	 * Queues an event; resolves with it. `key`: what makes two reports the same event (see `webhookEventId`); the same
	 * `key` and `at` make the same event, so sending again after an error queues it at most once. Rejects with
	 * `WebhookBacklogFullError` when `maxBacklog` events wait already.
	 */
	async send<T extends WebhookEventType>(type: T, data: WebhookEventData[T], options: { key?: string; at?: number } = {}): Promise<WebhookEvent<T>> {
		if (this.#closed) throw new Error('WebhookQueue is closed');
		const event: WebhookEvent<T> = { id: webhookEventId(options.key), type, createdAt: new Date(options.at ?? Date.now()).toISOString(), data };
		const job = webhookJobDataSchema.parse({ id: event.id, type, body: JSON.stringify(event) });
		const backlog = await this.#queue.getJobCounts('waiting', 'prioritized', 'delayed');
		if ((backlog.waiting ?? 0) + (backlog.prioritized ?? 0) + (backlog.delayed ?? 0) >= this.#maxBacklog) {
			throw new WebhookBacklogFullError(`${this.#maxBacklog} webhook events wait already (WEBHOOK_MAX_BACKLOG)`);
		}
		// A job with this id already queued (another node's report) is kept, and this one dropped.
		await this.#queue.add(type, job, {
			jobId: webhookJobId(event.id),
			attempts: this.#retry.attempts,
			backoff: { type: 'exponential', delay: this.#retry.backoffMs },
			removeOnComplete: { age: keepDeliveredS, count: keepCount },
			removeOnFail: { age: keepFailedS, count: keepCount },
		});
		return event;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#queue.close();
	}
}
