import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RetryLaterError } from '../errors.js';
import { takeRedisTokenBucket } from '../redis/RedisTokenBucket.js';
import type { RateLimit } from '../signaling/TokenBucket.js';

/** Failed operator sign-ins one client address may make: a burst, then one a minute. */
export const failedAuthLimit: RateLimit = { burst: 10, perSecond: 1 / 60 };

/**
 * Failed operator authentication (`/api/server/*`, `/api/admin/sessions`), per client address over every API node:
 * each failure is logged (the address's tag and the route, never what was presented) and takes a token from the
 * address's bucket (`RedisTokenBucket`); once it is empty the address is locked out until a token is back, and while
 * locked out its requests are refused 429 `rate_limited` before any credential is looked at, so guessing goes no
 * faster than the bucket refills.
 *
 * Redis keys:
 *   <prefix>:rate:operator-auth:<tag>   hash    the address's bucket of failures
 *   <prefix>:operator-auth-lock:<tag>   string  present while the address is locked out (PX: until a token is back)
 */
export class FailedAuthThrottle {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #tag: (address: string) => string;
	readonly #logger: Logger;
	readonly #limit: RateLimit;

	/** `tag`: what an address is kept and logged as (`clientAddressTag`: an HMAC, never the address). */
	constructor(options: { redis: Redis; prefix: string; tag: (address: string) => string; logger: Logger; limit?: RateLimit }) {
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#tag = options.tag;
		this.#logger = options.logger;
		this.#limit = options.limit ?? failedAuthLimit;
	}

	/** Refuses (429 `rate_limited`, with when to try again) an address that is locked out. */
	async check(address: string | undefined): Promise<void> {
		const ms = await this.#redis.pttl(`${this.#prefix}:operator-auth-lock:${this.#tag(address ?? '')}`);
		if (ms > 0) throw new RetryLaterError('rate_limited', 'too many failed sign-ins from this address; try again later', ms / 1000);
	}

	/**
	 * Counts a failure of `address` on `route`. Past the burst (the bucket empty) the address is locked out, and this
	 * failure is refused as `check` would refuse the next request (429 `rate_limited`).
	 */
	async failed(address: string | undefined, route: string): Promise<void> {
		const tag = this.#tag(address ?? '');
		this.#logger.warn({ addr: tag, route }, 'operator authentication failed');
		const waitMs = await takeRedisTokenBucket(this.#redis, `${this.#prefix}:rate:operator-auth:${tag}`, this.#limit);
		if (waitMs > 0) {
			await this.#redis.set(`${this.#prefix}:operator-auth-lock:${tag}`, '1', 'PX', waitMs);
			this.#logger.warn({ addr: tag, route, lockedForMs: waitMs }, 'operator authentication: address locked out after repeated failures');
			throw new RetryLaterError('rate_limited', 'too many failed sign-ins from this address; try again later', waitMs / 1000);
		}
	}
}
