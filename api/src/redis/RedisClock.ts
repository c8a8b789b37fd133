import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisClockOptions {
	/** How often the offset is measured again, ms. Default 10 s. */
	refreshMs: number;
	/** A reading whose round trip took longer than this is not trusted, ms. Default 250. */
	maxRoundTripMs: number;
	logger?: Logger;
}

export const redisClockDefaults: Readonly<RedisClockOptions> = Object.freeze({ refreshMs: 10_000, maxRoundTripMs: 250 });

/**
 * This process's idea of Redis's clock: the offset between its monotonic clock and Redis's `TIME`, measured at start,
 * after every reconnect and every `refreshMs` (to within a round trip, erring early). It lets a request stamp its
 * writes with a deadline in Redis's own time, which the store's scripts check before applying anything: a command
 * written to a Redis that froze (paused, swapping, a long fork) and answered after its caller was told 503 must not
 * take effect when Redis thaws. Measuring the offset rather than trusting `Date.now()` keeps a node whose clock is off
 * by seconds, or is stepped, from refusing every write.
 */
export class RedisClock {
	readonly #redis: Redis;
	readonly #options: RedisClockOptions;
	/** Redis time − `performance.now()`, ms; undefined until a reading succeeded. */
	#offsetMs: number | undefined;
	#timer: NodeJS.Timeout | undefined;
	/** The reading in flight: callers at the same time share it. */
	#measuring: Promise<boolean> | undefined;

	constructor(redis: Redis, options: Partial<RedisClockOptions> = {}) {
		this.#redis = redis;
		this.#options = { ...redisClockDefaults, ...options };
		if (!(this.#options.refreshMs >= 1000)) throw new Error(`refreshMs must be at least 1000, got ${this.#options.refreshMs}`);
	}

	/**
	 * Takes the first reading once the connection is ready (waiting up to `readyTimeoutMs`), and another after every
	 * reconnect. An unreachable Redis is not an error: deadlines stay off until a reading succeeds.
	 */
	async start(readyTimeoutMs = 5000): Promise<void> {
		if (this.#timer) return;
		this.#timer = setInterval(() => void this.measure(), this.#options.refreshMs).unref();
		this.#redis.on('ready', this.#onReady);
		if (this.#redis.status !== 'ready') {
			await new Promise<void>((resolve) => {
				const done = (): void => {
					clearTimeout(timer);
					this.#redis.off('ready', done);
					resolve();
				};
				const timer = setTimeout(done, readyTimeoutMs).unref();
				this.#redis.once('ready', done);
			});
		}
		await this.measure();
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
		this.#redis.off('ready', this.#onReady);
	}

	readonly #onReady = (): void => void this.measure();

	/** Redis time − `performance.now()`, ms, once measured. */
	get offsetMs(): number | undefined {
		return this.#offsetMs;
	}

	/**
	 * Reads Redis's `TIME` once; returns whether the reading was taken. Also called when a script refused a change
	 * whose answer came back in time, which means the offset went stale (Redis's clock was stepped).
	 */
	measure(): Promise<boolean> {
		this.#measuring ??= this.#measure().finally(() => (this.#measuring = undefined));
		return this.#measuring;
	}

	async #measure(): Promise<boolean> {
		const sentMs = performance.now();
		let reply: unknown[];
		try {
			reply = await this.#redis.time();
		} catch (error) {
			this.#options.logger?.debug({ err: error }, 'Redis clock reading failed; keeping the last offset');
			this.#unmeasured('Redis did not answer TIME');
			return false;
		}
		const receivedMs = performance.now();
		if (receivedMs - sentMs > this.#options.maxRoundTripMs) {
			this.#unmeasured(`round trip ${Math.round(receivedMs - sentMs)} ms`);
			return false;
		}
		const redisMs = Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
		if (!Number.isFinite(redisMs) || redisMs <= 0) {
			this.#unmeasured('TIME answered no time');
			return false;
		}
		// Redis read its clock somewhere in the round trip; taking its end makes the offset (and every deadline) err
		// early, never late: a deadline may refuse a change by up to a round trip too soon, never admit one too late.
		this.#offsetMs = redisMs - receivedMs;
		return true;
	}

	/** A reading failed while no offset is known: changes carry no deadline yet, which an operator should know. */
	#unmeasured(reason: string): void {
		if (this.#offsetMs === undefined) this.#options.logger?.warn({ reason }, 'Redis clock not measured yet; space-store changes carry no deadline');
	}

	/**
	 * A deadline `budgetMs` from now in Redis's time (ms since the epoch), or 0 when the offset is not known yet (the
	 * scripts read 0 as "no deadline"). Counted on the monotonic clock: a step of this machine's wall clock does not
	 * move it.
	 */
	deadlineMs(budgetMs: number): number {
		return this.#offsetMs === undefined ? 0 : Math.round(performance.now() + this.#offsetMs + budgetMs);
	}
}
