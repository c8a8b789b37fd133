import type { Redis } from 'ioredis';
import type { RateLimit } from '../signaling/TokenBucket.js';

/**
 * KEYS: the captioner's bucket. ARGV: burst, refill per second. A token bucket kept on Redis and timed by Redis's
 * own clock (TIME), so every API node draws from one bucket and the nodes' clocks need not agree. The key expires
 * once the bucket would be full again. Returns 1 when a push may go, 0 otherwise.
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
local ok = 0
if tokens >= 1 then
	tokens = tokens - 1
	ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return ok`;

const scriptName = 'tribuneTakeCaptionerRate';
type Runner = (key: string, burst: number, perSecond: number) => Promise<number>;

/** The Redis key of a captioner's rate bucket. */
export const captionerRateKey = (prefix: string, captionerId: string): string => `${prefix}:captioner:${captionerId}:rate`;

/**
 * The rate of one captioner token over every API node (REST and WebSocket pushes, wherever a load balancer sends
 * them): one atomic script per push. Redis errors reach the caller.
 */
export class RedisCaptionerRate {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #limit: RateLimit;

	constructor(options: { redis: Redis; prefix: string; limit: RateLimit }) {
		if (!(options.limit.burst >= 1) || !(options.limit.perSecond > 0)) throw new RangeError('a captioner rate needs burst >= 1 and perSecond > 0');
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#limit = options.limit;
		if (!(scriptName in this.#redis)) this.#redis.defineCommand(scriptName, { numberOfKeys: 1, lua: takeLua });
	}

	/** True when the captioner may push now (and one push is counted). */
	async take(captionerId: string): Promise<boolean> {
		const run = (this.#redis as unknown as Record<typeof scriptName, Runner>)[scriptName];
		return (await run.call(this.#redis, captionerRateKey(this.#prefix, captionerId), this.#limit.burst, this.#limit.perSecond)) === 1;
	}
}
