import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { connectRedis, presenceTiming, TranscoderPresence } from '../src/index.js';

describe('TranscoderPresence', () => {
	const connections: Redis[] = [];
	afterEach(() => {
		for (const redis of connections.splice(0)) redis.disconnect();
	});

	it('announces a transcoder until it closes, under its own key prefix', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		connections.push(redis);
		const prefix = `test-${randomUUID()}`;
		const presence = new TranscoderPresence(redis, prefix, 3);
		expect(await TranscoderPresence.list(redis, prefix)).toEqual([]);

		await presence.start();
		const listed = await TranscoderPresence.list(redis, prefix);
		expect(listed).toEqual([presence.info]);
		expect(listed[0]).toMatchObject({ pid: process.pid, concurrency: 3 });
		// The key expires by itself if the process dies without closing.
		const ttl = await redis.pttl(`${prefix}:transcoders:${presence.info.id}`);
		expect(ttl).toBeGreaterThan(presenceTiming.refreshMs);
		expect(ttl).toBeLessThanOrEqual(presenceTiming.ttlMs);

		await presence.close();
		await presence.close();
		expect(await TranscoderPresence.list(redis, prefix)).toEqual([]);
		await expect(presence.start()).rejects.toThrow(/closed/);
	});
});
