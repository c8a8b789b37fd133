import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { hostingKeys, listIndexed, maxHosts, newHostId, type HostRecord } from './HostIdentities.js';

/** Invites a server holds at once (used, expired and revoked ones drop out); more are refused. */
export const maxInvites = 10_000;

/** An invite's lifetime and number of uses, as the operator may set them. */
export const inviteLimits = { minExpiresInS: 60, maxExpiresInS: 30 * 24 * 3600, defaultExpiresInS: 7 * 24 * 3600, maxUses: 1000 } as const;

/** An invite code: 32 random bytes, base64url. */
export const inviteCodeSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected an invite code');

/** An invite's id: derived from its code, so the code itself is kept nowhere. */
export const inviteIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'expected an invite id');

/** A host invite, as `<prefix>:host-invite:<id>` keeps it (JSON) and the server API shows it. */
export interface HostInvite {
	id: string;
	label: string;
	maxUses: number;
	uses: number;
	/** Epoch ms. */
	createdAt: number;
	expiresAt: number;
}

/** Redis's time in ms, for scripts: invites and hosts expire by one clock whichever node wrote them. */
const nowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** For scripts: `prune` drops an index's expired members; `expireWithLast` has the index expire with its last one. */
const pruneLua = `
local function prune(idx)
	redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
end
local function expireWithLast(idx)
	local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
	if last[2] then redis.call('PEXPIREAT', idx, last[2]) end
end`;

const scripts = {
	/**
	 * KEYS: invite, invites index. ARGV: id, label, maxUses, ttlS, cap. Adds an invite unless the index holds `cap`
	 * unexpired ones. Returns its JSON, or false when full.
	 */
	tribuneCreateHostInvite: {
		keys: 2,
		lua: `${nowLua}${pruneLua}
prune(KEYS[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return false end
local ttlMs = tonumber(ARGV[4]) * 1000
local invite = { id = ARGV[1], label = ARGV[2], maxUses = tonumber(ARGV[3]), uses = 0, createdAt = now, expiresAt = now + ttlMs }
local json = cjson.encode(invite)
redis.call('SET', KEYS[1], json, 'PX', ttlMs)
redis.call('ZADD', KEYS[2], invite.expiresAt, ARGV[1])
expireWithLast(KEYS[2])
return json`,
	},
	/**
	 * KEYS: invite, new host, hosts index. ARGV: hostId, name the redeemer gives ('' for none), hostTtlS, hostCap. One use of
	 * an invite that exists (not revoked), has not expired and has uses left makes a host identity, in one step: two
	 * redeeming the last use at once get one host between them. Returns {'ok', hostJson} or {reason}.
	 */
	tribuneRedeemHostInvite: {
		keys: 3,
		lua: `${nowLua}${pruneLua}
local raw = redis.call('GET', KEYS[1])
if not raw then return {'not_found'} end
local invite = cjson.decode(raw)
if invite.expiresAt <= now then return {'not_found'} end
if invite.uses >= invite.maxUses then return {'used'} end
prune(KEYS[3])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'hosts_full'} end
invite.uses = invite.uses + 1
redis.call('SET', KEYS[1], cjson.encode(invite), 'KEEPTTL')
local label = invite.label
if label == '' then label = 'Host' end
local ttlMs = tonumber(ARGV[3]) * 1000
local host = { id = ARGV[1], label = label, inviteId = invite.id, createdAt = now, expiresAt = now + ttlMs }
if ARGV[2] ~= '' then host.name = ARGV[2] end
local json = cjson.encode(host)
redis.call('SET', KEYS[2], json, 'PX', ttlMs)
redis.call('ZADD', KEYS[3], host.expiresAt, ARGV[1])
expireWithLast(KEYS[3])
return {'ok', json}`,
	},
} as const;

type ScriptName = keyof typeof scripts;
type Runner = (...args: (string | number)[]) => Promise<unknown>;

/** What a new invite answers: the invite and its code, shown to the operator once. */
export interface NewInvite {
	invite: HostInvite;
	code: string;
}

/**
 * Host invites: links the operator hands out (`/host-invite#code=…`) that make whoever opens them a host identity.
 * Each has an expiry (a Redis TTL) and a number of uses, and can be revoked (deleted) until used up; only the hash
 * of its code is kept (as its id). At most `maxInvites` exist at once.
 */
export class HostInvites {
	readonly #redis: Redis;
	readonly #keys: ReturnType<typeof hostingKeys>;
	readonly #hostTtlS: number;

	/** `hostTtlS`: how long a host identity made by an invite lasts (`HOST_CREDENTIAL_TTL_S`). */
	constructor(options: { redis: Redis; prefix: string; hostTtlS: number }) {
		this.#redis = options.redis;
		this.#keys = hostingKeys(options.prefix);
		this.#hostTtlS = options.hostTtlS;
		for (const [name, script] of Object.entries(scripts)) {
			if (!(name in options.redis)) options.redis.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua });
		}
	}

	#run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
		return (this.#redis as unknown as Record<ScriptName, Runner>)[name].call(this.#redis, ...keys, ...args);
	}

	async create(options: { label: string; expiresInS: number; maxUses: number }): Promise<NewInvite> {
		const code = randomBytes(32).toString('base64url');
		const id = inviteIdOf(code);
		const json = await this.#run('tribuneCreateHostInvite', [this.#keys.invite(id), this.#keys.invites], [id, options.label, options.maxUses, options.expiresInS, maxInvites]);
		if (typeof json !== 'string') throw new TribuneError('limit_reached', `this server holds ${maxInvites} host invites, its most; revoke some or wait for them to expire`);
		return { invite: JSON.parse(json) as HostInvite, code };
	}

	/** Makes a host identity from one use of an invite; refused (`not_found`, `forbidden`, `limit_reached`) otherwise. */
	/** `name`: what the redeemer calls themselves, kept apart from the operator's label. */
	async redeem(code: string, name: string | undefined): Promise<HostRecord> {
		const hostId = newHostId();
		const reply = (await this.#run('tribuneRedeemHostInvite', [this.#keys.invite(inviteIdOf(code)), this.#keys.host(hostId), this.#keys.hosts], [hostId, name ?? '', this.#hostTtlS, maxHosts])) as [string, string?];
		switch (reply[0]) {
			case 'ok':
				return JSON.parse(reply[1]!) as HostRecord;
			case 'used':
				throw new TribuneError('forbidden', 'this host invite has been used as many times as it may be; ask the operator for a new one');
			case 'hosts_full':
				throw new TribuneError('limit_reached', `this server holds ${maxHosts} host identities, its most; ask the operator to revoke some`);
			default:
				throw new TribuneError('not_found', 'no such host invite: it may have expired or been revoked; ask the operator for a new one');
		}
	}

	/** Unexpired invites, newest expiry first; `cursor` is where the previous page ended. */
	async list(limit: number, cursor = 0): Promise<{ invites: HostInvite[]; nextCursor: string | null }> {
		const page = await listIndexed<HostInvite>(this.#redis, this.#keys.invites, this.#keys.invite, limit, cursor);
		return { invites: page.items, nextCursor: page.nextCursor };
	}

	/** Deletes an invite: its link stops working. Hosts made with it stay (revoke them apart). False when there was none. */
	async revoke(inviteId: string): Promise<boolean> {
		const [[, deleted] = []] = (await this.#redis.multi().del(this.#keys.invite(inviteId)).zrem(this.#keys.invites, inviteId).exec()) ?? [];
		return deleted === 1;
	}
}

/** An invite's id: the first 22 characters of base64url(SHA-256(code)) (132 bits). */
export function inviteIdOf(code: string): string {
	return createHash('sha256').update(code).digest('base64url').slice(0, 22);
}
