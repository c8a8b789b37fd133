import { z } from 'zod';
import { asParticipantId, asSpaceId, roles, type ParticipantId, type Role, type SpaceId } from '../spaces/Space.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';

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
		return signHs256(this.#key, {
			audience,
			subject: claims.participantId,
			claims: { spc: claims.spaceId, role: claims.role },
			expiresAt: `${this.#ttlS}s`,
		});
	}

	/** Verifies signature, algorithm, issuer, audience and expiry; throws `unauthorized` otherwise. */
	async verify(token: string): Promise<TokenClaims> {
		const c = await verifyHs256(this.#key, token, audience, claimsSchema, { expired: 'token expired', invalid: 'invalid token' });
		return { spaceId: asSpaceId(c.spc), participantId: asParticipantId(c.sub), role: c.role, expiresAt: c.exp };
	}
}
