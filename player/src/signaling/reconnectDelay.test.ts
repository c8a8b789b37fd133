import { describe, expect, it } from 'vitest';
import { parseRetryAfter, reconnectDelayMs, retryAfterDelayMs } from './reconnectDelay.js';

describe('reconnectDelayMs', () => {
	it('doubles from the initial delay and stops at the maximum', () => {
		const policy = { initialMs: 500, maxMs: 10_000, jitter: 0 };
		expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => reconnectDelayMs(n, policy))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
	});

	it('spreads clients by the jitter fraction either way', () => {
		const policy = { initialMs: 1000, maxMs: 10_000, jitter: 0.2 };
		expect(reconnectDelayMs(0, policy, 0)).toBe(800);
		expect(reconnectDelayMs(0, policy, 0.5)).toBe(1000);
		expect(reconnectDelayMs(0, policy, 0.999_999)).toBe(1200);
	});

	it('waits at least what a full server asked, later rather than sooner', () => {
		const policy = { initialMs: 500, maxMs: 10_000, jitter: 0.2 };
		expect(retryAfterDelayMs(10, 0, policy, 0)).toBe(10_000);
		expect(retryAfterDelayMs(10, 0, policy, 0.5)).toBe(11_000);
		// After many failures the backoff can be the longer of the two.
		expect(retryAfterDelayMs(1, 10, policy, 0)).toBe(8000);
	});

	it('reads N from a "retry-after=N" close reason and nothing else', () => {
		expect(parseRetryAfter('retry-after=10')).toBe(10);
		expect(parseRetryAfter('retry-after=99999')).toBeUndefined();
		expect(parseRetryAfter('full')).toBeUndefined();
	});
});
