import { exportJobId, exportQueueName, replayMp4Name, type ExportQueue } from '@tribune/transcoder';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { asSpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import type { WebhookQueue } from './WebhookQueue.js';

export interface RecordingReadyWatcherOptions {
	redis: Redis;
	prefix: string;
	exports: Pick<ExportQueue, 'state'>;
	/** For the space's title, while its record lasts. */
	service: Pick<SpaceService, 'getSpace'>;
	queue: Pick<WebhookQueue, 'send'>;
	logger: Logger;
}

/** Redis key (string) holding the id of the last export event a node turned into a webhook. */
export const recordingCursorKey = (prefix: string): string => `${prefix}:webhook:exports:cursor`;

/**
 * Sends `recording.ready` when a replay's MP4 export completes. Exports run on transcoders, which know nothing of
 * webhooks; their completions are in the export queue's BullMQ event stream, which every API node reads. The event's
 * stream id is the same for every reader, so the webhook's key (`recording.ready:<job>:<stream id>`) is too and the
 * receiver gets it once however many nodes run. The last id handled is kept in Redis: a node starting reads on from
 * there, so an export finished while no API node ran is still announced.
 */
export class RecordingReadyWatcher {
	readonly #events: QueueEvents;
	readonly #options: RecordingReadyWatcherOptions;
	#closed = false;

	private constructor(options: RecordingReadyWatcherOptions, lastEventId: string) {
		this.#options = options;
		this.#events = new QueueEvents(exportQueueName, { connection: options.redis.duplicate(), prefix: options.prefix, lastEventId });
		this.#events.on('completed', ({ jobId }, id) => void this.#onCompleted(jobId, id));
		this.#events.on('error', (error) => options.logger.warn({ err: error }, 'export events: reading failed'));
	}

	static async start(options: RecordingReadyWatcherOptions): Promise<RecordingReadyWatcher> {
		const cursor = await options.redis.get(recordingCursorKey(options.prefix));
		const watcher = new RecordingReadyWatcher(options, cursor ?? '$');
		await watcher.#events.waitUntilReady();
		return watcher;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#events.close();
	}

	async #onCompleted(jobId: string, streamId: string): Promise<void> {
		const { exports, service, queue, redis, prefix, logger } = this.#options;
		const spaceId = /^export-([A-Za-z0-9_-]{1,64})$/.exec(jobId)?.[1];
		if (!spaceId || exportJobId(spaceId) !== jobId) return;
		try {
			const [state, space] = await Promise.all([exports.state(spaceId), service.getSpace(asSpaceId(spaceId)).catch(() => undefined)]);
			const progress = state.progress;
			await queue.send(
				'recording.ready',
				{
					spaceId,
					...(space && { title: space.title }),
					path: `/api/spaces/${spaceId}/${replayMp4Name}`,
					...(progress?.bytes !== undefined && { bytes: progress.bytes }),
					...(progress?.durationS !== undefined && { durationS: progress.durationS }),
				},
				{ key: `recording.ready:${jobId}:${streamId}` },
			);
			await redis.set(recordingCursorKey(prefix), streamId);
		} catch (error) {
			logger.error({ err: error, spaceId, jobId }, 'recording.ready webhook not queued');
		}
	}
}
