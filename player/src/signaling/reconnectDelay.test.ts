import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from './reconnectDelay.js';

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
});
