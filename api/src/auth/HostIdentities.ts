import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';

const audience = 'tribune-host';

/** Host identities a server holds at once; redeeming an invite past it is refused. */
export const maxHosts = 10_000;

/** A host identity's id: 16 random bytes, base64url. */
export const hostIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'expected a host id');

/** A host identity, as `<prefix>:host:<hostId>` keeps it (JSON) and the server API shows it. */
export interface HostRecord {
	id: string;
	/** Who the host is to the operator: the invite's label ('Host' when it had none). */
	label: string;
	/** The name the host gave when redeeming the invite, if any: theirs, shown beside the label, never in its place. */
	name?: string;
	/** The invite it was redeemed with. */
	inviteId: string;
	/** Epoch ms. */
	createdAt: number;
	/** Epoch ms: the record and its credential end together. */
	expiresAt: number;
}

/** Who a valid host credential names. */
export interface VerifiedHost {
	/** `host:<hostId>`. */
	identity: string;
	hostId: string;
	label: string;
	/** The record as read for this check. */
	host: HostRecord;
}

/** How long a host found to exist is taken to still exist without asking Redis again, ms (`exists`). */
export const hostExistsCacheMs = 5000;
/** Host ids `exists` remembers at once; past it the memory starts over. */
const hostExistsCacheMax = 10_000;

const claimsSchema = z.object({ sub: z.string().regex(/^host:[A-Za-z0-9_-]{22}$/) });

/**
 * Redis keys of hosting:
 *   <prefix>:host:<hostId>          string  HostRecord JSON, expiring with it; revoking the host deletes it
 *   <prefix>:hosts                  zset    hostId → expiresAt (ms): the count `maxHosts` bounds, and the list
 *   <prefix>:host-invite:<inviteId> string  HostInvite JSON, expiring with it
 *   <prefix>:host-invites           zset    inviteId → expiresAt (ms)
 * Each index drops expired members whenever a script adds to it, and itself expires with its last member.
 */
export function hostingKeys(prefix: string) {
	return {
		host: (hostId: string) => `${prefix}:host:${hostId}`,
		hosts: `${prefix}:hosts`,
		invite: (inviteId: string) => `${prefix}:host-invite:${inviteId}`,
		invites: `${prefix}:host-invites`,
	};
}

export function newHostId(): string {
	return randomBytes(16).toString('base64url');
}

/**
 * Host identities: who may create spaces when hosting is not open (`TRIBUNE_OPEN_HOSTING`). One is made by redeeming
 * a host invite (`HostInvites.redeem`); the browser keeps its credential, an HS256 JWT (the participant token key,
 * audience `tribune-host`, subject `host:<hostId>`) that is valid only while the host's record exists: revoking the
 * host deletes it, and its credential is refused from then on.
 */
export class HostIdentities {
	readonly #redis: Redis;
	readonly #keys: ReturnType<typeof hostingKeys>;
	readonly #key: Uint8Array;
	/** hostId → until when (epoch ms) it is taken to exist. */
	readonly #existsUntil = new Map<string, number>();

	constructor(options: { redis: Redis; prefix: string; tokenKey: Uint8Array }) {
		this.#redis = options.redis;
		this.#keys = hostingKeys(options.prefix);
		this.#key = options.tokenKey;
	}

	/** The credential of a host identity: it expires with the record. */
	credentialFor(host: HostRecord): Promise<string> {
		return signHs256(this.#key, { audience, subject: `host:${host.id}`, claims: {}, expiresAt: Math.floor(host.expiresAt / 1000) });
	}

	/** The host a credential names, while its record exists; throws `unauthorized` otherwise. */
	async verify(credential: string): Promise<VerifiedHost> {
		const { sub } = await verifyHs256(this.#key, credential, audience, claimsSchema, { expired: 'host credential expired; ask the operator for a new invite', invalid: 'invalid host credential' });
		const hostId = sub.slice('host:'.length);
		const host = await this.get(hostId);
		if (!host) throw new TribuneError('unauthorized', 'this host identity was revoked; ask the operator for a new invite');
		return { identity: sub, hostId, label: host.label, host };
	}

	/**
	 * Whether a host identity still exists (not revoked or expired), for every participant token that names it
	 * (`SpaceService` refuses those of a revoked host). A host found is remembered `hostExistsCacheMs`, so a busy host
	 * costs at most one Redis read per that long on a node; a revocation on another node shows here within it.
	 */
	async exists(hostId: string): Promise<boolean> {
		const now = Date.now();
		if ((this.#existsUntil.get(hostId) ?? 0) > now) return true;
		const found = (await this.#redis.exists(this.#keys.host(hostId))) === 1;
		if (found) {
			if (this.#existsUntil.size >= hostExistsCacheMax) this.#existsUntil.clear();
			this.#existsUntil.set(hostId, now + hostExistsCacheMs);
		} else this.#existsUntil.delete(hostId);
		return found;
	}

	async get(hostId: string): Promise<HostRecord | undefined> {
		const raw = await this.#redis.get(this.#keys.host(hostId));
		return raw === null ? undefined : (JSON.parse(raw) as HostRecord);
	}

	/** Host identities, newest expiry first; `cursor` is where the previous page ended. */
	async list(limit: number, cursor = 0): Promise<{ hosts: HostRecord[]; nextCursor: string | null }> {
		const page = await listIndexed<HostRecord>(this.#redis, this.#keys.hosts, this.#keys.host, limit, cursor);
		return { hosts: page.items, nextCursor: page.nextCursor };
	}

	/** Deletes a host identity: its credential is refused from now on. False when there was none. */
	async revoke(hostId: string): Promise<boolean> {
		this.#existsUntil.delete(hostId);
		const [[, deleted] = []] = (await this.#redis.multi().del(this.#keys.host(hostId)).zrem(this.#keys.hosts, hostId).exec()) ?? [];
		return deleted === 1;
	}
}

/** One page of an index (zset of id → expiresAt) and the records it names, newest expiry first. */
export async function listIndexed<T>(redis: Redis, index: string, recordKey: (id: string) => string, limit: number, cursor: number): Promise<{ items: T[]; nextCursor: string | null }> {
	const ids = await redis.zrevrange(index, cursor, cursor + limit);
	const more = ids.length > limit;
	const pageIds = ids.slice(0, limit);
	const raws = pageIds.length === 0 ? [] : await redis.mget(...pageIds.map(recordKey));
	// An expired record's id stays in the index until the next addition prunes it.
	const items = raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as T]));
	return { items, nextCursor: more ? String(cursor + limit) : null };
}
