import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';
import { operatorKeyMatches, type OperatorKey } from './OperatorKey.js';
import { bearerToken } from '../http/bearerToken.js';

const audience = 'tribune-admin';
const subject = 'operator';

/** How long an admin session token lasts, s. */
export const adminSessionTtlS = 12 * 3600;

/** How long a one-time sign-in code may be redeemed, s. */
export const signInCodeTtlS = 3600;

/** A sign-in code: 32 random bytes, base64url. */
export const signInCodeSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected a sign-in code');

const claimsSchema = z.object({ sub: z.literal(subject), gen: z.number().int().nonnegative() });

/** What a sign-in answers: a bearer token for `/api/server/*` and when it stops working (epoch seconds). */
export interface AdminSession {
	token: string;
	expiresAt: number;
}

/**
 * Compare-and-delete of the current sign-in code. KEYS: the code's key, the signed-in marker. ARGV: the presented
 * code's HMAC. A wrong code leaves the current one alone (a guess must not cancel it); of two redeeming the right one
 * at once, one gets it.
 */
const redeemLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1')
return 1`;

const redeemScript = 'tribuneRedeemAdminSignIn';
type RedeemRunner = (codeKey: string, markerKey: string, hmac: string) => Promise<number>;

/**
 * The operator's sessions. `/api/server/*` takes the operator's key itself (`Authorization: Bearer <key>`) or an
 * admin session token: an HS256 JWT (audience `tribune-admin`, 12 h) signed with a key derived from the operator's
 * key, so changing the operator's key ends every session. Each token carries the session generation it was issued
 * in (`gen`); `revokeAll()` moves the generation on and every session issued before stops working.
 *
 * A one-time sign-in code is what the admin page trades for a session when the operator was never told the key (it
 * was generated into the data dir). There is one current code: only its HMAC-SHA256 under a key derived from the
 * operator's key is kept, in one key for an hour (so Redis neither holds the code nor can be handed one); a new code
 * replaces the one before, and redeeming it deletes it, so it works once. Once an admin has signed in with a code,
 * a marker without expiry says so and no node offers another: from then on the key (in `<data dir>/admin-key`) signs in.
 *
 * Redis keys:
 *   <prefix>:{admin}:signin            string  the current sign-in code's HMAC (hex), 1 h
 *   <prefix>:{admin}:signed-in         string  an admin signed in with a code: offer none again
 *   <prefix>:admin:session-generation  string  the admin sessions' generation (0 when absent)
 */
export class AdminSessions {
	readonly #redis: Redis;
	readonly #operatorKey: OperatorKey;
	readonly #signingKey: Uint8Array;
	readonly #signInHmacKey: Uint8Array;
	readonly #keys: { signIn: string; signedIn: string; generation: string };

	constructor(options: { redis: Redis; prefix: string; operatorKey: OperatorKey }) {
		this.#redis = options.redis;
		this.#operatorKey = options.operatorKey;
		this.#signingKey = createHmac('sha256', options.operatorKey.key).update('tribune admin sessions').digest();
		this.#signInHmacKey = createHmac('sha256', options.operatorKey.key).update('tribune admin sign-in codes').digest();
		// The code and the marker share a hash tag: the redeem script touches both (one Redis Cluster slot).
		this.#keys = { signIn: `${options.prefix}:{admin}:signin`, signedIn: `${options.prefix}:{admin}:signed-in`, generation: `${options.prefix}:admin:session-generation` };
		if (!(redeemScript in options.redis)) options.redis.defineCommand(redeemScript, { numberOfKeys: 2, lua: redeemLua });
	}

	/** Keyed by an HMAC (the operator's key's), so a code written into Redis by anyone else matches nothing here. */
	#hmac(code: string): string {
		return createHmac('sha256', this.#signInHmacKey).update(code).digest('hex');
	}

	/** Whether an admin has signed in with a sign-in code: then none is offered again. */
	async signedInWithCode(): Promise<boolean> {
		return (await this.#redis.exists(this.#keys.signedIn)) === 1;
	}

	/**
	 * A new one-time sign-in code, redeemable for `signInCodeTtlS`; it cancels the one before. The caller shows it
	 * once and keeps it nowhere.
	 */
	async createSignInCode(): Promise<string> {
		const code = randomBytes(32).toString('base64url');
		await this.#redis.set(this.#keys.signIn, this.#hmac(code), 'EX', signInCodeTtlS);
		return code;
	}

	/** Trades the current sign-in code for a session; it is gone after the first redeem. */
	async redeemSignInCode(code: string): Promise<AdminSession> {
		const run = (this.#redis as unknown as Record<typeof redeemScript, RedeemRunner>)[redeemScript];
		const redeemed = await run.call(this.#redis, this.#keys.signIn, this.#keys.signedIn, this.#hmac(code));
		if (redeemed !== 1) throw new TribuneError('unauthorized', 'this sign-in link was used already or has expired; sign in with the admin key (in <data dir>/admin-key)');
		return this.issue();
	}

	/** A new session token, in the current generation. */
	async issue(): Promise<AdminSession> {
		const expiresAt = Math.floor(Date.now() / 1000) + adminSessionTtlS;
		const token = await signHs256(this.#signingKey, { audience, subject, claims: { gen: await this.#generation() }, expiresAt });
		return { token, expiresAt };
	}

	/** Signs every admin session out (the operator's key keeps working). */
	async revokeAll(): Promise<void> {
		await this.#redis.incr(this.#keys.generation);
	}

	async #generation(): Promise<number> {
		return Number((await this.#redis.get(this.#keys.generation)) ?? 0);
	}

	/** Whether an `Authorization` header carries the operator's key itself. */
	isOperatorKey(authorization: string | undefined): boolean {
		return operatorKeyMatches(authorization, this.#operatorKey);
	}

	/**
	 * Passes an `Authorization` header that carries the operator's key or a valid admin session token of the current
	 * generation; throws `unauthorized` otherwise.
	 */
	async authorize(authorization: string | undefined): Promise<void> {
		if (this.isOperatorKey(authorization)) return;
		const token = bearerToken(authorization);
		if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <admin key or admin session token>');
		const { gen } = await verifyHs256(this.#signingKey, token, audience, claimsSchema, { expired: 'admin session expired; sign in again', invalid: 'not the admin key or an admin session token' });
		if (gen !== (await this.#generation())) throw new TribuneError('unauthorized', 'admin session signed out; sign in again');
	}
}
