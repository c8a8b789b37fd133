import { randomUUID } from 'node:crypto';
import { connectRedis } from '@tribune/transcoder';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { captionerGenerationKey, CaptionerRevocations } from '../src/captions/CaptionerRevocations.js';
import { captionerTokenTtl } from '../src/captions/CaptionerTokens.js';
import { asSpaceId } from '../src/spaces/Space.js';

const redis = connectRedis(inject('redisUrl'), 'test-captioner-revocations');
afterAll(() => redis.disconnect());

describe('CaptionerRevocations', () => {
	it('moves the generation on per space, and keeps it at least as long as a token issued since can live', async () => {
		const prefix = `test-${randomUUID()}`;
		const r = new CaptionerRevocations({ redis, prefix });
		const a = asSpaceId('space-a');
		const b = asSpaceId('space-b');
		expect(await r.current(a)).toBe(0);
		expect(await r.forIssue(a, 600)).toBe(0);
		// Nothing stored until a revocation: a space without one costs no key.
		expect(await redis.exists(captionerGenerationKey(prefix, a))).toBe(0);
		expect(await r.revokeAll(a)).toBe(1);
		expect(await r.revokeAll(a)).toBe(2);
		expect(await r.current(a)).toBe(2);
		expect(await r.current(b)).toBe(0);
		const longest = captionerTokenTtl.maxS + 3600;
		const ttl = await redis.ttl(captionerGenerationKey(prefix, a));
		expect(ttl).toBeGreaterThan(longest - 60);
		expect(ttl).toBeLessThanOrEqual(longest);
		// Issuing never shortens it.
		expect(await r.forIssue(a, 60)).toBe(2);
		expect(await redis.ttl(captionerGenerationKey(prefix, a))).toBeGreaterThan(longest - 60);
	});
});
