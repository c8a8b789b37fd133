import type { Redis } from 'ioredis';

export { prng } from '../../../scripts/test/fixtures.js';

/**
 * Every Redis key matching `pattern` (minus those `skip` leaves out) with its content, for a before/after comparison:
 * the state hostile input must not change.
 */
export async function snapshotRedis(redis: Redis, pattern: string, skip: (key: string) => boolean = () => false): Promise<Record<string, unknown>> {
	const out: Record<string, unknown> = {};
	for (const key of (await redis.keys(pattern)).filter((k) => !skip(k)).sort()) {
		const type = await redis.type(key);
		if (type === 'string') out[key] = await redis.get(key);
		else if (type === 'hash') out[key] = await redis.hgetall(key);
		else if (type === 'zset') out[key] = await redis.zrange(key, 0, -1, 'WITHSCORES');
		else if (type === 'list') out[key] = await redis.lrange(key, 0, -1);
		else if (type === 'set') out[key] = (await redis.smembers(key)).sort();
		else out[key] = type;
	}
	return out;
}
