import type { Redis } from 'ioredis';
import { takeRedisTokenBucket } from '../redis/RedisTokenBucket.js';
import type { RateLimit } from '../signaling/TokenBucket.js';

/** The Redis key of a captioner's rate bucket. */
export const captionerRateKey = (prefix: string, captionerId: string): string => `${prefix}:captioner:${captionerId}:rate`;

/**
 * The rate of one captioner token over every API node (REST and WebSocket pushes, wherever a load balancer sends
 * them): one atomic script per push (`takeRedisTokenBucket`, timed by Redis's clock). Redis errors reach the caller.
 */
export class RedisCaptionerRate {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #limit: RateLimit;

	constructor(options: { redis: Redis; prefix: string; limit: RateLimit }) {
		if (!(options.limit.burst >= 1) || !(options.limit.perSecond > 0)) throw new RangeError('a captioner rate needs burst >= 1 and perSecond > 0');
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#limit = options.limit;
	}

	/** True when the captioner may push now (and one push is counted). */
	async take(captionerId: string): Promise<boolean> {
		return (await takeRedisTokenBucket(this.#redis, captionerRateKey(this.#prefix, captionerId), this.#limit)) === 0;
	}
}
