import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { newAnonymousIdentity } from '../spaces/Space.js';
import { signHs256, verifyHs256 } from './hs256Jwt.js';

const audience = 'tribune-identity';

/** How long an anonymous identity credential lasts, s; every join re-issues it, so it slides. */
export const identityCredentialTtlS = 30 * 24 * 3600;

const claimsSchema = z.object({ sub: z.string().regex(/^anon:[A-Za-z0-9_-]{22}$/) });

/**
 * Anonymous identity credentials: what a browser keeps to be the same anonymous person when it comes back (a ban
 * of its identity holds however it rejoins). An HS256 JWT with the participant token key and an audience of its
 * own, so it never verifies as a participant, captioner or host token, nor they as it.
 */
export class IdentityCredentials {
	readonly #key: Uint8Array;

	constructor(key: Uint8Array) {
		this.#key = key;
	}

	/** A credential for `identity` (an `anon:` one; a new one when absent), valid 30 days from now. */
	async issue(identity: string = newAnonymousIdentity()): Promise<{ identity: string; credential: string }> {
		if (!claimsSchema.shape.sub.safeParse(identity).success) throw new TribuneError('bad_request', 'only anonymous identities get identity credentials');
		const credential = await signHs256(this.#key, { audience, subject: identity, claims: {}, expiresAt: `${identityCredentialTtlS}s` });
		return { identity, credential };
	}

	/** The identity a credential names; throws `unauthorized` for anything else (forged, expired, another audience). */
	async verify(credential: string): Promise<string> {
		const claims = await verifyHs256(this.#key, credential, audience, claimsSchema, { expired: 'identity credential expired', invalid: 'invalid identity credential' });
		return claims.sub;
	}
}
