import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { asParticipantId, asSpaceId, identityPattern, roles, type ParticipantId, type Role, type SpaceId } from '../spaces/Space.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';

/** What a participant token says. The role is the role when issued; handlers read the current role from the store. */
export interface TokenClaims {
	spaceId: SpaceId;
	participantId: ParticipantId;
	/** `idn`: the identity the participant is (their id is derived from it and the space). */
	identity: string;
	role: Role;
	/** Epoch seconds. */
	expiresAt: number;
	/** `jti`: random per token, so one token can be named (logs, the rotation that keeps its own connection). */
	tokenId: string;
	/**
	 * The participant's token generation at issue (`SpaceStore.revokeTokens`): a token is valid only while it is the
	 * participant's current one, so moving it on revokes every token issued before.
	 */
	generation: number;
	/** When the session began (create or first join), epoch seconds; renewed tokens carry it on. */
	sessionStartedAt: number;
}

/** What a new token is issued for: a participant, and the session it continues (absent: a session starting now). */
export interface TokenRequest {
	spaceId: SpaceId;
	participantId: ParticipantId;
	identity: string;
	role: Role;
	generation: number;
	sessionStartedAt?: number;
}

/**
 * Why a token was refused: `session_expired` is a token past the maximum session age, which no renewal can help;
 * `revoked`: the participant's token generation moved on past it (revoked by a moderator, or rotated).
 */
export type TokenRefusal = 'expired' | 'invalid' | 'session_expired' | 'revoked';

/** An `unauthorized` refusal of a participant token, with the reason for callers that treat them apart. */
export class TokenRefusedError extends TribuneError {
	readonly reason: TokenRefusal;

	constructor(reason: TokenRefusal, message: string) {
		super('unauthorized', message);
		this.reason = reason;
	}
}

const claimsSchema = z.object({
	sub: z.string().min(1).max(64),
	spc: z.string().min(1).max(64),
	idn: z.string().max(128).regex(identityPattern),
	role: z.enum(roles as [Role, ...Role[]]),
	exp: z.number().int(),
	jti: z.string().min(1).max(64),
	gen: z.number().int().min(0),
	sst: z.number().int().min(0),
});

const audience = 'tribune-space';

export interface TokenLifetimes {
	/** Lifetime of one token, s (`TOKEN_TTL_S`). */
	ttlS: number;
	/** Renewals stop this long after the session began, s (`TOKEN_MAX_SESSION_S`); no token outlives it. */
	maxSessionS: number;
}

/** Signs and verifies participant tokens (JWT, HS256). Issued on create, join, renewal, rotation and role changes. */
export class TokenIssuer {
	readonly #key: Uint8Array;
	readonly lifetimes: Readonly<TokenLifetimes>;
	readonly #nowS: () => number;

	constructor(key: Uint8Array, lifetimes: TokenLifetimes, nowMs: () => number = Date.now) {
		this.#key = key;
		this.lifetimes = Object.freeze({ ...lifetimes });
		this.#nowS = () => Math.floor(nowMs() / 1000);
	}

	/**
	 * How long a revocation record must be kept, s. Every token of a participant belongs to their one session (a
	 * renewal carries its start; a visit without a valid token is a new participant), so none outlives the maximum
	 * session age after the revocation: neither those it revoked nor the rotated ones carrying the new generation.
	 */
	get revocationKeepS(): number {
		return this.lifetimes.maxSessionS;
	}

	/**
	 * A token for `request`, expiring after the token lifetime or at the end of the session, whichever is first.
	 * Refused (`session_expired`) once the session is as old as the maximum: the client must join again.
	 */
	async issue(request: TokenRequest): Promise<{ token: string; claims: TokenClaims }> {
		const now = this.#nowS();
		const sessionStartedAt = request.sessionStartedAt ?? now;
		const sessionEnd = sessionStartedAt + this.lifetimes.maxSessionS;
		if (now >= sessionEnd) throw new TokenRefusedError('session_expired', 'session expired; join again');
		const expiresAt = Math.min(now + this.lifetimes.ttlS, sessionEnd);
		const tokenId = randomBytes(12).toString('base64url');
		const token = await signHs256(this.#key, {
			audience,
			subject: request.participantId,
			claims: { spc: request.spaceId, idn: request.identity, role: request.role, jti: tokenId, gen: request.generation, sst: sessionStartedAt },
			expiresAt,
		});
		return {
			token,
			claims: { spaceId: request.spaceId, participantId: request.participantId, identity: request.identity, role: request.role, expiresAt, tokenId, generation: request.generation, sessionStartedAt },
		};
	}

	/**
	 * Verifies signature, algorithm, issuer, audience, expiry and the session's age; throws `TokenRefusedError`
	 * (`unauthorized`) otherwise. Revocation is the caller's to check against the store (`generation`).
	 */
	async verify(token: string): Promise<TokenClaims> {
		let c: z.output<typeof claimsSchema>;
		try {
			c = await verifyHs256(this.#key, token, audience, claimsSchema, { expired: 'token expired', invalid: 'invalid token' });
		} catch (error) {
			const message = error instanceof Error ? error.message : 'invalid token';
			throw new TokenRefusedError(message === 'token expired' ? 'expired' : 'invalid', message);
		}
		// Tokens are capped at the session's end when issued; this also holds when the maximum was lowered since.
		if (this.#nowS() >= c.sst + this.lifetimes.maxSessionS) throw new TokenRefusedError('session_expired', 'session expired; join again');
		return {
			spaceId: asSpaceId(c.spc),
			participantId: asParticipantId(c.sub),
			identity: c.idn,
			role: c.role,
			expiresAt: c.exp,
			tokenId: c.jti,
			generation: c.gen,
			sessionStartedAt: c.sst,
		};
	}
}
