import type { Redis } from 'ioredis';
import type { SpaceId } from '../spaces/Space.js';
import { captionerTokenTtl } from './CaptionerTokens.js';

/** The Redis key of a space's captioner generation (in the space's hash slot). */
export const captionerGenerationKey = (prefix: string, spaceId: SpaceId): string => `${prefix}:space:{${spaceId}}:captioner-generation`;

/**
 * Revoking a space's captioner tokens: each token carries the space's captioner generation when it was issued, and a
 * push is taken only while that is still the space's generation; a host or co-host revokes every token issued so far
 * by moving the generation on (a leaked token, or one issued by a co-host since removed). The counter outlives the
 * longest token, so it cannot fall back to a generation some live token still carries.
 */
export class CaptionerRevocations {
	readonly #redis: Redis;
	readonly #prefix: string;
	/** Longest token plus an hour, s. */
	readonly #keepS = captionerTokenTtl.maxS + 3600;

	constructor(options: { redis: Redis; prefix: string }) {
		this.#redis = options.redis;
		this.#prefix = options.prefix;
	}

	/** The space's generation now (0 before any revocation). */
	async current(spaceId: SpaceId): Promise<number> {
		return Number((await this.#redis.get(captionerGenerationKey(this.#prefix, spaceId))) ?? 0);
	}

	/** The generation a token issued now carries; keeps the counter until a token of `ttlS` has expired. */
	async forIssue(spaceId: SpaceId, ttlS: number): Promise<number> {
		const key = captionerGenerationKey(this.#prefix, spaceId);
		const results = await this.#redis.multi().get(key).expire(key, ttlS + 3600, 'GT').exec();
		const failed = results?.find(([error]) => error);
		if (failed?.[0]) throw failed[0];
		return Number((results?.[0]?.[1] as string | null) ?? 0);
	}

	/** Revokes every token of the space issued so far; returns the new generation. */
	async revokeAll(spaceId: SpaceId): Promise<number> {
		const key = captionerGenerationKey(this.#prefix, spaceId);
		const results = await this.#redis.multi().incr(key).expire(key, this.#keepS, 'NX').expire(key, this.#keepS, 'GT').exec();
		const failed = results?.find(([error]) => error);
		if (failed?.[0]) throw failed[0];
		return Number(results?.[0]?.[1]);
	}
}
