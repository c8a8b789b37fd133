import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { asParticipantId, asSpaceId, roles, type ParticipantId, type Role, type SpaceId } from '../spaces/Space.js';

/** What a participant token says. The role is the role when issued; handlers read the current role from the store. */
export interface TokenClaims {
	spaceId: SpaceId;
	participantId: ParticipantId;
	role: Role;
	/** Epoch seconds. */
	expiresAt: number;
}

const claimsSchema = z.object({
	sub: z.string().min(1).max(64),
	spc: z.string().min(1).max(64),
	role: z.enum(roles as [Role, ...Role[]]),
	exp: z.number().int(),
});

const issuer = 'tribune';
const audience = 'tribune-space';

/** Signs and verifies participant tokens (JWT, HS256). Issued on create, join, and every role change. */
export class TokenIssuer {
	readonly #key: Uint8Array;
	readonly #ttlS: number;

	/** `ttlS`: lifetime of a token, in seconds. */
	constructor(key: Uint8Array, ttlS: number) {
		this.#key = key;
		this.#ttlS = ttlS;
	}

	async issue(claims: { spaceId: SpaceId; participantId: ParticipantId; role: Role }): Promise<string> {
		return new SignJWT({ spc: claims.spaceId, role: claims.role })
			.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
			.setSubject(claims.participantId)
			.setIssuer(issuer)
			.setAudience(audience)
			.setIssuedAt()
			.setExpirationTime(`${this.#ttlS}s`)
			.sign(this.#key);
	}

	/** Verifies signature, algorithm, issuer, audience and expiry; throws `unauthorized` otherwise. */
	async verify(token: string): Promise<TokenClaims> {
		try {
			const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'], issuer, audience });
			const c = claimsSchema.parse(payload);
			return { spaceId: asSpaceId(c.spc), participantId: asParticipantId(c.sub), role: c.role, expiresAt: c.exp };
		} catch (error) {
			if (error instanceof joseErrors.JWTExpired) throw new TribuneError('unauthorized', 'token expired');
			throw new TribuneError('unauthorized', 'invalid token');
		}
	}
}
