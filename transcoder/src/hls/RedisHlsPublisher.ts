import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { encodeHlsMessage, type HlsMessage } from './HlsEvent.js';
import type { HlsSink } from './Packager.js';

/**
 * Redis keys of one stream's HLS feed:
 * - `channel`: pub/sub, every event with its bytes, for origins already following the stream;
 * - `log`: a Redis stream holding the recent events, from which an origin that joins late rebuilds the window;
 * - `head`: a hash with the stream descriptor (`stream`) and every init section (`init:<rendition>:<index>`),
 *   which must outlive the trimmed log.
 */
export function hlsRedisKeys(prefix: string, streamId: string): { channel: string; log: string; head: string } {
	const base = `${prefix}:hls:${streamId}`;
	return { channel: base, log: `${base}:log`, head: `${base}:head` };
}

export interface RedisHlsPublisherOptions {
	/** Events kept in the log, approximately (default 600: ~40 s of three renditions at 200 ms parts). */
	logMaxLength?: number;
	/** Seconds the log and head outlive the last event (default 3600). */
	ttlS?: number;
	logger: Logger;
}

/** Sends a packager's events to origins through Redis. Each event is one MULTI, so an origin sees it whole. */
export class RedisHlsPublisher implements HlsSink {
	readonly #redis: Redis;
	readonly #keys: ReturnType<typeof hlsRedisKeys>;
	readonly #options: Required<Omit<RedisHlsPublisherOptions, 'logger'>> & { logger: Logger };
	#pending = Promise.resolve();

	constructor(redis: Redis, prefix: string, streamId: string, options: RedisHlsPublisherOptions) {
		this.#redis = redis;
		this.#keys = hlsRedisKeys(prefix, streamId);
		this.#options = { logMaxLength: 600, ttlS: 3600, ...options };
	}

	publish(message: HlsMessage): void {
		const frame = encodeHlsMessage(message);
		const { event } = message;
		const { channel, log, head } = this.#keys;
		const multi = this.#redis.multi();
		if (event.type === 'stream') multi.hset(head, 'stream', frame);
		if (event.type === 'init') multi.hset(head, `init:${event.rendition}:${event.index}`, frame);
		multi.xadd(log, 'MAXLEN', '~', this.#options.logMaxLength, '*', 'm', frame);
		multi.publish(channel, frame);
		multi.expire(log, this.#options.ttlS);
		multi.expire(head, this.#options.ttlS);
		this.#pending = multi.exec().then(
			() => undefined,
			(error: unknown) => this.#options.logger.warn({ err: error, seq: event.seq }, 'HLS event not published'),
		);
	}

	/** Resolves once every event published so far has reached Redis. */
	async flush(): Promise<void> {
		await this.#pending;
	}
}
