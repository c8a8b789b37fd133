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
		const now = this.#now();
		this.#tokens = Math.min(this.#limit.burst, this.#tokens + ((now - this.#at) / 1000) * this.#limit.perSecond);
		this.#at = now;
		if (this.#tokens < 1) return false;
		this.#tokens -= 1;
		return true;
	}
}
