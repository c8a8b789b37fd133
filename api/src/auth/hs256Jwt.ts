import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { type z } from 'zod';
import { TribuneError } from '../errors.js';

/**
 * The one JWT core behind Tribune's tokens: HS256 only, issuer `tribune`, and an audience per kind of token so that
 * one kind never verifies as another even where they share the key. The kinds:
 *   tribune-space      participant tokens (`TokenIssuer`)                    the participant token key
 *   tribune-captioner  captioner tokens (`CaptionerTokens`)                   the participant token key
 *   tribune-identity   anonymous identity credentials (`IdentityCredentials`) the participant token key
 *   tribune-host       host credentials (`HostIdentities`)                    the participant token key
 *   tribune-admin      admin session tokens (`AdminSessions`)                 a key derived from the operator's key
 */
const issuer = 'tribune';

export interface Hs256Token {
	audience: string;
	subject: string;
	/** Private claims, besides the registered ones set here. */
	claims: JWTPayload;
	/** Epoch seconds, or a `jose` duration such as `'3600s'` from now. */
	expiresAt: number | string;
}

export function signHs256(key: Uint8Array, token: Hs256Token): Promise<string> {
	return new SignJWT(token.claims)
		.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
		.setSubject(token.subject)
		.setIssuer(issuer)
		.setAudience(token.audience)
		.setIssuedAt()
		.setExpirationTime(token.expiresAt)
		.sign(key);
}

/**
 * Verifies signature, algorithm, issuer, audience and expiry, then parses the payload with `schema`; throws
 * `unauthorized` with `messages.expired` for an expired token and `messages.invalid` for anything else.
 */
export async function verifyHs256<T>(
	key: Uint8Array,
	token: string,
	audience: string,
	schema: z.ZodType<T>,
	messages: { expired: string; invalid: string },
): Promise<T> {
	try {
		const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer, audience });
		return schema.parse(payload);
	} catch (error) {
		if (error instanceof joseErrors.JWTExpired) throw new TribuneError('unauthorized', messages.expired);
		throw new TribuneError('unauthorized', messages.invalid);
	}
}
