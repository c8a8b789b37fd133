import type { Redis } from 'ioredis';
import type { RateLimit } from '../signaling/TokenBucket.js';

/**
 * KEYS: the bucket. ARGV: burst, refill per second. A token bucket kept on Redis and timed by Redis's own clock
 * (TIME), so every API node draws from one bucket and the nodes' clocks need not agree. The key expires once the
 * bucket would be full again. Returns 0 when one token was taken, else the ms until one will be there.
 */
const takeLua = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local wait = 0
if tokens >= 1 then
	tokens = tokens - 1
else
	wait = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return wait`;

const scriptName = 'tribuneTakeTokenBucket';
type Runner = (key: string, burst: number, perSecond: number) => Promise<number>;

/**
 * Takes one token from the bucket at `key` (one atomic script): 0 when taken, else how many ms until one will be
 * there (a `Retry-After`). Redis errors reach the caller.
 */
export async function takeRedisTokenBucket(redis: Redis, key: string, limit: RateLimit): Promise<number> {
	if (!(limit.burst >= 1) || !(limit.perSecond > 0)) throw new RangeError('a token bucket needs burst >= 1 and perSecond > 0');
	if (!(scriptName in redis)) redis.defineCommand(scriptName, { numberOfKeys: 1, lua: takeLua });
	const run = (redis as unknown as Record<typeof scriptName, Runner>)[scriptName];
	return Number(await run.call(redis, key, limit.burst, limit.perSecond));
}
