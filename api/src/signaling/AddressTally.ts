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

const refreshLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
`;

type WithScripts = Redis & {
	tribuneAddressAcquire(nodes: string, own: string, node: string, tag: string, max: number, ttlMs: number, nodePrefix: string): Promise<number>;
	tribuneAddressRelease(own: string, tag: string): Promise<number>;
	tribuneAddressRefresh(nodes: string, own: string, node: string, ttlMs: number): Promise<number>;
};

export class AddressTally {
	readonly #redis: WithScripts;
	readonly #nodeId: string;
	readonly #ttlMs: number;
	readonly #nodes: string;
	readonly #nodePrefix: string;
	readonly #own: string;
	/** This node's counts, to know what to give back (and to refresh only while it holds any). */
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
	 * Undefined when Redis did not answer within `timeoutMs` (an upgrade does not wait on a frozen Redis): nothing is
	 * held then, and a place taken when the answer comes late is given back.
	 */
	async acquire(tag: string, max: number, timeoutMs = 1500): Promise<boolean | undefined> {
		let timedOut = false;
		const taken = this.#redis.tribuneAddressAcquire(this.#nodes, this.#own, this.#nodeId, tag, max, this.#ttlMs, this.#nodePrefix).then((reply) => {
			const ok = reply === 1;
			if (ok) this.#local.set(tag, (this.#local.get(tag) ?? 0) + 1);
			if (ok && timedOut) this.release(tag);
			return ok;
		});
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

	/** Gives back a place taken by `acquire`. */
	release(tag: string): void {
		const n = (this.#local.get(tag) ?? 0) - 1;
		if (n < 0) return;
		if (n === 0) this.#local.delete(tag);
		else this.#local.set(tag, n);
		// Lost only if Redis is away; the node's hash then expires with its entry if it dies, or is corrected by
		// nothing: a count one too high for this address until this node restarts (a refusal at worst, never a hole).
		this.#redis.tribuneAddressRelease(this.#own, tag).catch(() => {});
	}

	/** Keeps this node's counts standing (every ttl/3). */
	async refresh(): Promise<void> {
		if (this.#local.size === 0) return;
		await this.#redis.tribuneAddressRefresh(this.#nodes, this.#own, this.#nodeId, this.#ttlMs);
	}
}
