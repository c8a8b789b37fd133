import { describe, expect, it } from 'vitest';
import { TokenBucket } from './TokenBucket.js';

describe('TokenBucket', () => {
	it('allows a burst, then refuses until time refills it at the set rate', () => {
		let now = 0;
		const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, () => now);
		expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
		now = 499;
		expect(bucket.take()).toBe(false);
		now = 501;
		expect(bucket.take()).toBe(true);
		expect(bucket.take()).toBe(false);
		now = 100_000;
		expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
	});
});
