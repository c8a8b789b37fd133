/** Rate of one kind of action: `burst` at once, refilled at `perSecond`. */
export interface RateLimit {
	burst: number;
	perSecond: number;
}

/** A token bucket: take() is true while the rate holds. Time comes from `now` (ms) so tests can drive it. */
export class TokenBucket {
	readonly #limit: RateLimit;
	readonly #now: () => number;
	#tokens: number;
	#at: number;

	constructor(limit: RateLimit, now: () => number = performance.now.bind(performance)) {
		this.#limit = limit;
		this.#now = now;
		this.#tokens = limit.burst;
		this.#at = now();
	}

	take(): boolean {
		if (!this.available()) return false;
		this.#tokens -= 1;
		return true;
	}

	/** Whether `take()` would succeed now (nothing is taken). */
	available(): boolean {
		this.#refill();
		return this.#tokens >= 1;
	}

	/** Refilled to its burst: a bucket forgotten now and made again would be the same. */
	full(): boolean {
		this.#refill();
		return this.#tokens >= this.#limit.burst;
	}

	#refill(): void {
		const now = this.#now();
		this.#tokens = Math.min(this.#limit.burst, this.#tokens + ((now - this.#at) / 1000) * this.#limit.perSecond);
		this.#at = now;
	}
}
