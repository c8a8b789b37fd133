interface Waiter {
	isReady: () => boolean;
	settle: (outcome: 'ready' | 'timeout') => void;
	deadlineMs: number;
	done: boolean;
}

/**
 * Requests held until something exists (a playlist with part N, the preload-hinted part). A waiter is a closure in
 * an array; {@link notify} runs after each change and releases the ready ones. One timer per instance, armed for the
 * earliest deadline, times them out: no timer and no polling per client.
 */
export class BlockingWaiters {
	#waiters: Waiter[] = [];
	#timer: NodeJS.Timeout | undefined;
	#timerAtMs = Number.POSITIVE_INFINITY;

	get size(): number {
		return this.#waiters.length;
	}

	/**
	 * Calls `settle('ready')` once `isReady()` is true (checked now and after each notify), or `settle('timeout')`
	 * after `timeoutMs`. Returns a cancel function (for a client that went away).
	 */
	wait(isReady: () => boolean, timeoutMs: number, settle: (outcome: 'ready' | 'timeout') => void): () => void {
		if (isReady()) {
			settle('ready');
			return () => {};
		}
		const waiter: Waiter = { isReady, settle, deadlineMs: Date.now() + timeoutMs, done: false };
		this.#waiters.push(waiter);
		this.#arm(waiter.deadlineMs);
		return () => {
			waiter.done = true;
		};
	}

	/** Something changed: release every waiter that is now ready. */
	notify(): void {
		const waiting: Waiter[] = [];
		const ready: Waiter[] = [];
		for (const waiter of this.#waiters) {
			if (waiter.done) continue;
			(waiter.isReady() ? ready : waiting).push(waiter);
		}
		this.#waiters = waiting;
		for (const waiter of ready) this.#finish(waiter, 'ready');
	}

	/** Times out every waiter now (the stream is going away). */
	close(): void {
		const all = this.#waiters;
		this.#waiters = [];
		clearTimeout(this.#timer);
		this.#timer = undefined;
		for (const waiter of all) if (!waiter.done) this.#finish(waiter, 'timeout');
	}

	#finish(waiter: Waiter, outcome: 'ready' | 'timeout'): void {
		waiter.done = true;
		waiter.settle(outcome);
	}

	#arm(atMs: number): void {
		if (this.#timer && atMs >= this.#timerAtMs) return;
		clearTimeout(this.#timer);
		this.#timerAtMs = atMs;
		this.#timer = setTimeout(() => this.#expire(), Math.max(0, atMs - Date.now()));
		this.#timer.unref();
	}

	#expire(): void {
		this.#timer = undefined;
		this.#timerAtMs = Number.POSITIVE_INFINITY;
		const now = Date.now();
		const waiting: Waiter[] = [];
		const expired: Waiter[] = [];
		for (const waiter of this.#waiters) {
			if (waiter.done) continue;
			(waiter.deadlineMs <= now ? expired : waiting).push(waiter);
		}
		this.#waiters = waiting;
		for (const waiter of expired) this.#finish(waiter, 'timeout');
		const next = Math.min(...waiting.map((w) => w.deadlineMs));
		if (Number.isFinite(next)) this.#arm(next);
	}
}
