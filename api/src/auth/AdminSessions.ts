import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';
import { operatorKeyMatches, type OperatorKey } from './OperatorKey.js';

const audience = 'tribune-admin';
const subject = 'operator';

/** How long an admin session token lasts, s. */
export const adminSessionTtlS = 12 * 3600;

/** How long a one-time sign-in code may be redeemed, s. */
export const signInCodeTtlS = 3600;

/** A sign-in code: 32 random bytes, base64url. */
export const signInCodeSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected a sign-in code');

const claimsSchema = z.object({ sub: z.literal(subject) });

/** What a sign-in answers: a bearer token for `/api/server/*` and when it stops working (epoch seconds). */
export interface AdminSession {
	token: string;
	expiresAt: number;
}

/**
 * The operator's sessions. `/api/server/*` takes the operator's key itself (`Authorization: Bearer <key>`) or an
 * admin session token: an HS256 JWT (audience `tribune-admin`, 12 h) signed with a key derived from the operator's
 * key, so changing the operator's key ends every session.
 *
 * A one-time sign-in code is what the admin page trades for a session when the operator was never told the key (it
 * was generated into the data dir): only its HMAC-SHA256 under a key derived from the operator's key is kept, in
 * `<prefix>:admin:signin:<hex>` for an hour (so Redis neither holds the code nor can be handed one), and redeeming
 * it deletes it (GETDEL), so it works once.
 */
export class AdminSessions {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #operatorKey: OperatorKey;
	readonly #signingKey: Uint8Array;
	readonly #signInHmacKey: Uint8Array;

	constructor(options: { redis: Redis; prefix: string; operatorKey: OperatorKey }) {
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#operatorKey = options.operatorKey;
		this.#signingKey = createHmac('sha256', options.operatorKey.key).update('tribune admin sessions').digest();
		this.#signInHmacKey = createHmac('sha256', options.operatorKey.key).update('tribune admin sign-in codes').digest();
	}

	/** Keyed by an HMAC (the operator's key's), so a code written into Redis by anyone else names no key here. */
	#signInKey(code: string): string {
		return `${this.#prefix}:admin:signin:${createHmac('sha256', this.#signInHmacKey).update(code).digest('hex')}`;
	}

	/** A new one-time sign-in code, redeemable for `signInCodeTtlS`. The caller shows it once and keeps it nowhere. */
	async createSignInCode(): Promise<string> {
		const code = randomBytes(32).toString('base64url');
		await this.#redis.set(this.#signInKey(code), '1', 'EX', signInCodeTtlS);
		return code;
	}

	/** Trades a sign-in code for a session; the code is gone after the first try that finds it. */
	async redeemSignInCode(code: string): Promise<AdminSession> {
		const found = await this.#redis.getdel(this.#signInKey(code));
		if (found === null) throw new TribuneError('unauthorized', 'this sign-in link was used already or has expired; restart Tribune for a new one, or sign in with the admin key');
		return this.issue();
	}

	/** A new session token. */
	async issue(): Promise<AdminSession> {
		const expiresAt = Math.floor(Date.now() / 1000) + adminSessionTtlS;
		const token = await signHs256(this.#signingKey, { audience, subject, claims: {}, expiresAt });
		return { token, expiresAt };
	}

	/** Whether an `Authorization` header carries the operator's key itself. */
	isOperatorKey(authorization: string | undefined): boolean {
		return operatorKeyMatches(authorization, this.#operatorKey);
	}

	/**
	 * Passes an `Authorization` header that carries the operator's key or a valid admin session token; throws
	 * `unauthorized` otherwise.
	 */
	async authorize(authorization: string | undefined): Promise<void> {
		if (this.isOperatorKey(authorization)) return;
		const token = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
		if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <admin key or admin session token>');
		await verifyHs256(this.#signingKey, token, audience, claimsSchema, { expired: 'admin session expired; sign in again', invalid: 'not the admin key or an admin session token' });
	}
}
