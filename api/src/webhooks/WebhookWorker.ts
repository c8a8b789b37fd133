import { TypedEmitter } from '@tribune/ingest';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { deliverWebhook } from './deliverWebhook.js';
import { webhookJobDataSchema, webhookQueueName, type WebhookEventType, type WebhookJobData } from './webhookEvent.js';

/** Where webhooks go: the validated `TRIBUNE_WEBHOOK_URL`, `TRIBUNE_WEBHOOK_SECRET` (and `…_PREVIOUS`). */
export interface WebhookTarget {
	url: URL;
	secret: string;
	/** `TRIBUNE_WEBHOOK_SECRET_PREVIOUS`: while a secret is rotated, deliveries carry a signature with each. */
	previousSecret?: string;
}

export interface WebhookWorkerOptions extends WebhookTarget {
	redis: Redis;
	prefix: string;
	logger: Logger;
	/** Deliveries this node makes at once. Default 4. */
	concurrency?: number;
	/** One delivery's whole request, ms. Default 10000. */
	timeoutMs?: number;
}

export type WebhookWorkerEvents = {
	/** The receiver accepted an event (2xx) at this attempt (1 = first). */
	delivered: [e: { id: string; type: WebhookEventType; attempt: number; status: number }];
	/** An attempt failed; `final`: no attempt is left, the event is dropped. */
	attemptFailed: [e: { id: string; type: WebhookEventType; attempt: number; error: string; final: boolean }];
};

/**
 * An API node's side of webhooks: takes events from the `webhook` queue and delivers them, signed, to the
 * operator's receiver; BullMQ retries a failed delivery with exponential backoff (`WebhookQueue`'s options). The
 * secret and the URL never enter Redis, and only the URL's origin is logged (its path may hold a token).
 */
export class WebhookWorker extends TypedEmitter<WebhookWorkerEvents> {
	readonly #worker: Worker<WebhookJobData>;
	readonly #options: WebhookWorkerOptions;
	#closed = false;

	constructor(options: WebhookWorkerOptions) {
		super();
		this.#options = options;
		this.#worker = new Worker<WebhookJobData>(webhookQueueName, (job) => this.#process(job), {
			connection: options.redis.duplicate(),
			prefix: options.prefix,
			concurrency: options.concurrency ?? 4,
		});
		this.#worker.on('error', (error) => options.logger.warn({ err: error }, 'webhook worker error'));
		this.#worker.on('failed', (job, error) => {
			if (!job) return;
			const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
			const context = { jobId: job.id, type: job.data.type, attempt: job.attemptsMade, receiver: options.url.origin, error: error.message };
			if (final) options.logger.error(context, 'webhook dropped: the receiver did not accept it');
			else options.logger.warn(context, 'webhook delivery failed; retrying');
			this.safeEmit('attemptFailed', { id: job.data.id, type: job.data.type, attempt: job.attemptsMade, error: error.message, final });
		});
	}

	/** Resolves once the worker can take jobs. */
	async ready(): Promise<void> {
		await this.#worker.waitUntilReady();
	}

	/** Stops taking events; a delivery under way finishes (or is retried later, here or elsewhere). Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#worker.close();
	}

	async #process(job: Job<WebhookJobData>): Promise<void> {
		const parsed = webhookJobDataSchema.safeParse(job.data);
		if (!parsed.success) throw new UnrecoverableError('invalid webhook job data');
		const { id, type, body } = parsed.data;
		const { url, secret, previousSecret } = this.#options;
		const status = await deliverWebhook({ url, secret, ...(previousSecret !== undefined && { previousSecret }), id, body, timeoutMs: this.#options.timeoutMs ?? 10_000 });
		this.#options.logger.info({ jobId: job.id, type, attempt: job.attemptsMade + 1, status }, 'webhook delivered');
		this.safeEmit('delivered', { id, type, attempt: job.attemptsMade + 1, status });
	}
}
