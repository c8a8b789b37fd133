import type { ExportQueue } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SpaceService } from '../spaces/SpaceService.js';
import { RecordingReadyWatcher } from './RecordingReadyWatcher.js';
import { webhookDropCounter, type WebhookDropCounter } from './webhookDrops.js';
import { WebhookNotifier, type WebhookEnqueueRetry } from './WebhookNotifier.js';
import { WebhookQueue, type WebhookRetryOptions } from './WebhookQueue.js';
import { WebhookWorker, type WebhookTarget } from './WebhookWorker.js';

export interface WebhooksOptions extends WebhookTarget {
	redis: Redis;
	prefix: string;
	service: SpaceService;
	exports: Pick<ExportQueue, 'state'>;
	logger: Logger;
	retry?: WebhookRetryOptions;
	/** Events waiting or due for a retry at most (`WEBHOOK_MAX_BACKLOG`). Default 10000. */
	maxBacklog?: number;
	/** Tries to queue one event while Redis refuses (`WebhookNotifier`). */
	enqueue?: WebhookEnqueueRetry;
	/** Counts events dropped before they were queued. Default: a counter no registry exports. */
	dropped?: WebhookDropCounter;
	/** Per delivery, ms. Default 10000. */
	timeoutMs?: number;
}

export interface Webhooks {
	queue: WebhookQueue;
	worker: WebhookWorker;
	close(): Promise<void>;
}

/** An API node's webhooks: the queue its events go to, the worker delivering them, and what feeds the queue. */
export async function startWebhooks(options: WebhooksOptions): Promise<Webhooks> {
	const { redis, prefix, service, exports, logger } = options;
	const queue = new WebhookQueue(redis, prefix, options.retry, options.maxBacklog);
	const dropped = options.dropped ?? webhookDropCounter();
	const worker = new WebhookWorker({ url: options.url, secret: options.secret, ...(options.previousSecret !== undefined && { previousSecret: options.previousSecret }), redis, prefix, logger, ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
	new WebhookNotifier({ service, queue, logger, dropped, ...(options.enqueue && { enqueue: options.enqueue }) });
	const recordings = await RecordingReadyWatcher.start({ redis, prefix, exports, service, queue, logger, dropped });
	await worker.ready();
	logger.info({ receiver: options.url.origin }, 'webhooks on');
	return {
		queue,
		worker,
		async close() {
			await recordings.close();
			await worker.close();
			await queue.close();
		},
	};
}
