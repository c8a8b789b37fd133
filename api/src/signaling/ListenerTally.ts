import type { Redis } from 'ioredis';
import type { SpaceId } from '../spaces/Space.js';

/**
 * `<prefix>:space:{id}:listeners`, a hash: nodeId → "<count>:<expiresAtMs>". Each API node writes its own
 * listener count in a space and reads the sum of every node's unexpired count in the same atomic step; a node that
 * dies stops refreshing and its count drops out after `ttlMs`. Time is Redis's (TIME), so node clocks do not matter.
 *
 * KEYS[1] the hash. ARGV: nodeId, count, ttlMs. A count of 0 removes the node's field. Returns the sum.
 */
const reportLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
	redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + ttl))
else
	redis.call('HDEL', KEYS[1], ARGV[1])
end
local all = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #all, 2 do
	local count, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
	if count and tonumber(expires) > now then
		sum = sum + tonumber(count)
	else
		redis.call('HDEL', KEYS[1], all[i])
	end
end
if #all > 0 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
return sum
`;

type WithReport = Redis & { tribuneReportListeners(key: string, node: string, count: number, ttlMs: number): Promise<number> };

/** Listener counts that add up over every API node serving a space (see the script above). */
export class ListenerTally {
	readonly #redis: WithReport;
	readonly #prefix: string;
	readonly #nodeId: string;
	readonly #ttlMs: number;

	/** `ttlMs`: how long a node's count stands without a refresh. */
	constructor(redis: Redis, prefix: string, nodeId: string, ttlMs: number) {
		if (!('tribuneReportListeners' in redis)) redis.defineCommand('tribuneReportListeners', { numberOfKeys: 1, lua: reportLua });
		this.#redis = redis as WithReport;
		this.#prefix = prefix;
		this.#nodeId = nodeId;
		this.#ttlMs = ttlMs;
	}

	/** Writes this node's count and returns the space's total over every live node. */
	async report(spaceId: SpaceId, count: number): Promise<number> {
		return Number(await this.#redis.tribuneReportListeners(`${this.#prefix}:space:{${spaceId}}:listeners`, this.#nodeId, count, this.#ttlMs));
	}
}
