import type { Redis } from 'ioredis';
import type { SpaceId } from '../spaces/Space.js';

/**
 * `<prefix>:space:{id}:listeners`, a hash: nodeId → "<listeners>:<expiresAtMs>:<moderators>". Each API node writes
 * its counts in a space (listener connections, and host and co-host connections) and reads the sums of every node's
 * unexpired counts in the same atomic step; a node that dies stops refreshing and its counts drop out after `ttlMs`.
 * Time is Redis's (TIME), so node clocks do not matter.
 *
 * KEYS[1] the hash. ARGV: nodeId, listeners, ttlMs, moderators; nodeId '' only reads. Counts of 0 remove the node's
 * field. Returns {listeners, moderators} over every node.
 */
const reportLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
if ARGV[1] ~= '' then
	if tonumber(ARGV[2]) > 0 or tonumber(ARGV[4]) > 0 then
		redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + ttl) .. ':' .. ARGV[4])
	else
		redis.call('HDEL', KEYS[1], ARGV[1])
	end
end
local all = redis.call('HGETALL', KEYS[1])
local sum, moderators = 0, 0
for i = 1, #all, 2 do
	local count, expires, mods = string.match(all[i + 1], '^(%d+):(%d+):?(%d*)$')
	if count and tonumber(expires) > now then
		sum = sum + tonumber(count)
		moderators = moderators + (tonumber(mods) or 0)
	elseif ARGV[1] ~= '' then
		redis.call('HDEL', KEYS[1], all[i])
	end
end
if #all > 0 and ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
return {sum, moderators}
`;

type WithReport = Redis & { tribuneReportTally(key: string, node: string, count: number, ttlMs: number, moderators: number): Promise<[number, number]> };

/** A space's connections over every node: listeners (the audience cap, the count shown) and hosts and co-hosts. */
export interface TallyTotals {
	listeners: number;
	moderators: number;
}

/** Listener (and moderator) counts that add up over every API node serving a space (see the script above). */
export class ListenerTally {
	readonly #redis: WithReport;
	readonly #prefix: string;
	readonly #nodeId: string;
	readonly #ttlMs: number;

	/** `ttlMs`: how long a node's count stands without a refresh. */
	constructor(redis: Redis, prefix: string, nodeId: string, ttlMs: number) {
		if (!('tribuneReportTally' in redis)) redis.defineCommand('tribuneReportTally', { numberOfKeys: 1, lua: reportLua });
		this.#redis = redis as WithReport;
		this.#prefix = prefix;
		this.#nodeId = nodeId;
		this.#ttlMs = ttlMs;
	}

	/** Writes this node's counts and returns the space's totals over every live node. */
	async report(spaceId: SpaceId, listeners: number, moderators = 0): Promise<TallyTotals> {
		return this.#call(spaceId, this.#nodeId, listeners, moderators);
	}

	/** The space's totals over every live node, without writing. */
	async read(spaceId: SpaceId): Promise<TallyTotals> {
		return this.#call(spaceId, '', 0, 0);
	}

	async #call(spaceId: SpaceId, node: string, listeners: number, moderators: number): Promise<TallyTotals> {
		const [sum, mods] = await this.#redis.tribuneReportTally(`${this.#prefix}:space:{${spaceId}}:listeners`, node, listeners, this.#ttlMs, moderators);
		return { listeners: Number(sum), moderators: Number(mods) };
	}
}
