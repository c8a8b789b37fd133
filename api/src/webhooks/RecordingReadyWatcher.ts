import { setTimeout as sleep } from 'node:timers/promises';
import { exportJobId, exportQueueName, replayMp4Name, type ExportQueue } from '@tribune/transcoder';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { asSpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import type { WebhookDropCounter } from './webhookDrops.js';
import { WebhookBacklogFullError, type WebhookQueue } from './WebhookQueue.js';

export interface RecordingReadyWatcherOptions {
	redis: Redis;
	prefix: string;
	exports: Pick<ExportQueue, 'state'>;
	/** For the space's title, while its record lasts. */
	service: Pick<SpaceService, 'getSpace'>;
	queue: Pick<WebhookQueue, 'send'>;
	logger: Logger;
	/** Counts events dropped because the backlog was full. */
	dropped: WebhookDropCounter;
	/** Wait before trying a failed event again, ms, doubling up to 30 s. Default 1000. */
	retryMs?: number;
}

/** Redis key (string) holding the id of the last export event a node turned into a webhook. */
export const recordingCursorKey = (prefix: string): string => `${prefix}:webhook:exports:cursor`;

/**
 * Moves the cursor (KEYS[1]) to the stream id ARGV[1] only if that is later than where it stands, so nodes and
 * handlers finishing out of order never move it back. Stream ids are `<ms>-<seq>`: compared as numbers, ms first.
 * Returns 1 if it moved.
 */
const advanceCursorScript = `
local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
if not nm then return redis.error_reply('not a stream id') end
local current = redis.call('GET', KEYS[1])
if current then
  local cm, cs = string.match(current, '^(%d+)-(%d+)$')
  if cm and (tonumber(nm) < tonumber(cm) or (tonumber(nm) == tonumber(cm) and tonumber(ns) <= tonumber(cs))) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** Longest wait between tries of one event, ms. */
const maxRetryMs = 30_000;

/**
 * Sends `recording.ready` when a replay's MP4 export completes. Exports run on transcoders, which know nothing of
 * webhooks; their completions are in the export queue's BullMQ event stream, which every API node reads. The event's
 * stream id is the same for every reader, so the webhook's key (`recording.ready:<job>:<stream id>`) is too and the
 * receiver gets it once however many nodes run. A node handles the stream's events one at a time, in order: an event
 * whose webhook cannot be queued is tried again (backing off) before the next, and only once it is queued does the
 * shared cursor move to it (forward only: `advanceCursorScript`). A node starting reads on from the cursor, so an
 * export finished while no API node ran, or while the only one could not queue it, is still announced.
 */
export class RecordingReadyWatcher {
	readonly #events: QueueEvents;
	readonly #options: RecordingReadyWatcherOptions;
	/** The events this node still has to handle, in stream order. */
	#line: Promise<void> = Promise.resolve();
	/** Ends a wait between tries when the watcher closes. */
	readonly #closing = new AbortController();
	#closed = false;

	private constructor(options: RecordingReadyWatcherOptions, lastEventId: string) {
		this.#options = options;
		this.#events = new QueueEvents(exportQueueName, { connection: options.redis.duplicate(), prefix: options.prefix, lastEventId });
		this.#events.on('completed', ({ jobId }, id) => {
			this.#line = this.#line.then(() => this.#handle(jobId, id));
		});
		this.#events.on('error', (error) => options.logger.warn({ err: error }, 'export events: reading failed'));
	}

	static async start(options: RecordingReadyWatcherOptions): Promise<RecordingReadyWatcher> {
		const cursor = await options.redis.get(recordingCursorKey(options.prefix));
		const watcher = new RecordingReadyWatcher(options, cursor ?? '$');
		await watcher.#events.waitUntilReady();
		return watcher;
	}

	/** Stops reading; an event not yet queued is left to the next node reading from the cursor. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#closing.abort();
		await this.#events.close();
		await this.#line;
	}

	/** Queues one event's webhook and moves the cursor to it, trying again until it is done or the watcher closes. */
	async #handle(jobId: string, streamId: string): Promise<void> {
		const { logger, dropped } = this.#options;
		const spaceId = /^export-([A-Za-z0-9_-]{1,64})$/.exec(jobId)?.[1];
		if (!spaceId || exportJobId(spaceId) !== jobId) return;
		for (let attempt = 1; !this.#closed; attempt++) {
			try {
				await this.#send(spaceId, jobId, streamId).catch((error: unknown) => {
					if (!(error instanceof WebhookBacklogFullError)) throw error;
					logger.error({ err: error, spaceId, jobId }, 'recording.ready webhook dropped: too many wait for the receiver');
					dropped.inc({ reason: 'backlog_full' });
				});
				await this.#options.redis.eval(advanceCursorScript, 1, recordingCursorKey(this.#options.prefix), streamId);
				return;
			} catch (error) {
				logger.error({ err: error, spaceId, jobId, attempt }, 'recording.ready webhook not queued; trying again');
				// Aborted by close(): the loop ends, and the cursor stays before this event for the next reader.
				await sleep(Math.min(maxRetryMs, (this.#options.retryMs ?? 1000) * 2 ** (attempt - 1)), undefined, { signal: this.#closing.signal }).catch(() => {});
			}
		}
	}

	async #send(spaceId: string, jobId: string, streamId: string): Promise<void> {
		const { exports, service, queue } = this.#options;
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
	}
}
