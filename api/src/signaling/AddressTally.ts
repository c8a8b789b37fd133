import type { Redis } from 'ioredis';

/**
 * Signaling WebSockets per client address over every API node (`ADDRESS_MAX_CONNECTIONS`), like `ListenerTally`:
 * each node keeps its own counts and they add up while the node is alive.
 *
 *   <prefix>:{conn}:nodes          zset  nodeId → until when its counts stand (Redis ms); refreshed every ttl/3
 *   <prefix>:{conn}:node:<nodeId>  hash  address tag → this node's connections from it; expires with the node
 *
 * One hash tag for all, so the scripts may read every node's hash (a handful of nodes: the walk is short). A node
 * that dies stops refreshing: its entry lapses from the sum after `ttlMs` and its hash expires. Addresses are kept as
 * tags (an HMAC under the token key), never as themselves.
 */
const acquireLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total = 0
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, 63)) do
	total = total + tonumber(redis.call('HGET', ARGV[5] .. node, ARGV[2]) or '0')
end
if total >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
`;

const releaseLua = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`;

/** Writes the node's counts whole (ARGV[3..]: tag, count, …), so a lost release or a place taken late is set right. */
const refreshLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('DEL', KEYS[2])
if #ARGV > 2 then
	redis.call('HSET', KEYS[2], unpack(ARGV, 3))
	redis.call('PEXPIRE', KEYS[2], ttl * 2)
end
return 1
`;

type WithScripts = Redis & {
	tribuneAddressAcquire(nodes: string, own: string, node: string, tag: string, max: number, ttlMs: number, nodePrefix: string): Promise<number>;
	tribuneAddressRelease(own: string, tag: string): Promise<number>;
	tribuneAddressRefresh(nodes: string, own: string, node: string, ttlMs: number, ...counts: (string | number)[]): Promise<number>;
};

export class AddressTally {
	readonly #redis: WithScripts;
	readonly #nodeId: string;
	readonly #ttlMs: number;
	readonly #nodes: string;
	readonly #nodePrefix: string;
	readonly #own: string;
	/** This node's counts, as they should stand in Redis (each refresh writes them whole). */
	readonly #local = new Map<string, number>();

	constructor(redis: Redis, prefix: string, nodeId: string, ttlMs: number) {
		if (!('tribuneAddressAcquire' in redis)) {
			redis.defineCommand('tribuneAddressAcquire', { numberOfKeys: 2, lua: acquireLua });
			redis.defineCommand('tribuneAddressRelease', { numberOfKeys: 1, lua: releaseLua });
			redis.defineCommand('tribuneAddressRefresh', { numberOfKeys: 2, lua: refreshLua });
		}
		this.#redis = redis as WithScripts;
		this.#nodeId = nodeId;
		this.#ttlMs = ttlMs;
		this.#nodes = `${prefix}:{conn}:nodes`;
		this.#nodePrefix = `${prefix}:{conn}:node:`;
		this.#own = this.#nodePrefix + nodeId;
	}

	/**
	 * Takes a place for one more connection of `tag` if the address holds fewer than `max` over every node.
	 * Undefined when Redis did not answer within `timeoutMs` (an upgrade does not wait on a frozen Redis): the
	 * connection goes in and holds its place all the same (counted here, written by the next refresh; give it back
	 * with `release` like any other).
	 */
	async acquire(tag: string, max: number, timeoutMs = 1500): Promise<boolean | undefined> {
		let timedOut = false;
		// Counted here from the start, so a refresh while the answer is on its way writes it.
		this.#add(tag, 1);
		const taken = this.#redis.tribuneAddressAcquire(this.#nodes, this.#own, this.#nodeId, tag, max, this.#ttlMs, this.#nodePrefix).then(
			(reply) => {
				const ok = reply === 1;
				// Refused in time: not held. Refused late: the connection went in, so it keeps its place here.
				if (!ok && !timedOut) this.#add(tag, -1);
				return ok;
			},
			(error: unknown) => {
				if (!timedOut) this.#add(tag, -1);
				throw error;
			},
		);
		let timer: NodeJS.Timeout | undefined;
		const late = new Promise<undefined>((resolve) => {
			timer = setTimeout(() => {
				timedOut = true;
				resolve(undefined);
			}, timeoutMs);
		});
		try {
			return await Promise.race([taken, late]);
		} finally {
			clearTimeout(timer);
			// A late failure has no one to tell: the connection was let in without a place.
			taken.catch(() => {});
		}
	}

	/** Gives back a place taken by `acquire` (in time or not). */
	release(tag: string): void {
		if ((this.#local.get(tag) ?? 0) <= 0) return;
		this.#add(tag, -1);
		// Lost only if Redis is away: the next refresh writes this node's counts whole.
		this.#redis.tribuneAddressRelease(this.#own, tag).catch(() => {});
	}

	/** Writes this node's counts whole and keeps them standing (every ttl/3), none included. */
	async refresh(): Promise<void> {
		await this.#redis.tribuneAddressRefresh(this.#nodes, this.#own, this.#nodeId, this.#ttlMs, ...[...this.#local].flat());
	}

	#add(tag: string, n: number): void {
		const count = (this.#local.get(tag) ?? 0) + n;
		if (count <= 0) this.#local.delete(tag);
		else this.#local.set(tag, count);
	}
}
