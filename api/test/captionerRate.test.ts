import { randomUUID } from 'node:crypto';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { captionerRateKey, RedisCaptionerRate } from '../src/captions/RedisCaptionerRate.js';

// Real Redis: one captioner token's rate holds over every API node, each with its own connection.
const connections: Redis[] = [];
const connection = (): Redis => {
	const redis = connectRedis(inject('redisUrl'), 'test-captioner-rate');
	connections.push(redis);
	return redis;
};
afterAll(() => {
	for (const r of connections) r.disconnect();
});

describe('RedisCaptionerRate', () => {
	it('two nodes draw from one bucket per captioner: the burst is shared, not doubled', async () => {
		const prefix = `test-${randomUUID()}`;
		// A refill of one push per 100 s: none arrives during the test, however loaded the machine.
		const limit = { burst: 5, perSecond: 0.01 };
		const nodes = [new RedisCaptionerRate({ redis: connection(), prefix, limit }), new RedisCaptionerRate({ redis: connection(), prefix, limit })];
		const taken: boolean[] = [];
		for (let i = 0; i < 12; i++) taken.push(await nodes[i % 2]!.take('c1'));
		expect(taken.filter(Boolean)).toHaveLength(5);
		expect(taken.slice(0, 5).every(Boolean)).toBe(true);
		// Another captioner has its own bucket.
		expect(await nodes[1]!.take('c2')).toBe(true);
		// The bucket expires once it would be full again, so Redis keeps nothing for idle captioners.
		const ttl = await connection().pttl(captionerRateKey(prefix, 'c1'));
		expect(ttl).toBeGreaterThan(0);
		expect(ttl).toBeLessThanOrEqual(501_000);
	});

	it('refills at the rate, by Redis time', async () => {
		const prefix = `test-${randomUUID()}`;
		const rate = new RedisCaptionerRate({ redis: connection(), prefix, limit: { burst: 1, perSecond: 10 } });
		expect(await rate.take('c1')).toBe(true);
		await new Promise((r) => setTimeout(r, 400));
		expect(await rate.take('c1')).toBe(true);
	});

	it('refuses a limit that could never let a push through', () => {
		expect(() => new RedisCaptionerRate({ redis: connection(), prefix: 'x', limit: { burst: 0, perSecond: 1 } })).toThrow(RangeError);
		expect(() => new RedisCaptionerRate({ redis: connection(), prefix: 'x', limit: { burst: 5, perSecond: 0 } })).toThrow(RangeError);
	});
});
