import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { signHs256, verifyHs256 } from '../auth/hs256Jwt.js';
import { asSpaceId, type SpaceId } from '../spaces/Space.js';

/** What a captioner token says: the one space it may caption, and nothing else. */
export interface CaptionerClaims {
	spaceId: SpaceId;
	/** Random per token: rate limits and utterances are kept per captioner. */
	captionerId: string;
	/** The name cues carry when a push names no speaker. */
	name: string;
	/** Epoch seconds. */
	expiresAt: number;
	/** The space's captioner generation at issue (`CaptionerRevocations`): the token is revoked once it moves on. */
	generation: number;
}

const claimsSchema = z.object({
	sub: z.string().min(1).max(64),
	spc: z.string().min(1).max(64),
	name: z.string().max(50),
	exp: z.number().int(),
	gen: z.number().int().min(0).default(0),
});

/**
 * Not the participants' audience (`tribune-space`): a captioner token fails participant verification (WebSocket
 * signaling, every space route), and a participant token fails here. The captioner grant exists nowhere else.
 */
const audience = 'tribune-captioner';

/** Bounds of a captioner token's lifetime, seconds. */
export const captionerTokenTtl = Object.freeze({ minS: 60, defaultS: 6 * 3600, maxS: 24 * 3600 });

/** Signs and verifies captioner tokens (JWT, HS256, with the key participant tokens use but another audience). */
export class CaptionerTokens {
	readonly #key: Uint8Array;

	constructor(key: Uint8Array) {
		this.#key = key;
	}

	async issue(spaceId: SpaceId, name: string, ttlS: number = captionerTokenTtl.defaultS, generation = 0): Promise<{ token: string; claims: CaptionerClaims }> {
		if (!Number.isInteger(ttlS) || ttlS < captionerTokenTtl.minS || ttlS > captionerTokenTtl.maxS) {
			throw new RangeError(`ttlS must be an integer ${captionerTokenTtl.minS}-${captionerTokenTtl.maxS}`);
		}
		const captionerId = randomBytes(12).toString('base64url');
		const expiresAt = Math.floor(Date.now() / 1000) + ttlS;
		const token = await signHs256(this.#key, { audience, subject: captionerId, claims: { spc: spaceId, name, gen: generation }, expiresAt });
		return { token, claims: { spaceId, captionerId, name, expiresAt, generation } };
	}

	/** Verifies signature, algorithm, issuer, audience and expiry; throws `unauthorized` otherwise. */
	async verify(token: string): Promise<CaptionerClaims> {
		const c = await verifyHs256(this.#key, token, audience, claimsSchema, { expired: 'captioner token expired', invalid: 'not a captioner token' });
		return { spaceId: asSpaceId(c.spc), captionerId: c.sub, name: c.name, expiresAt: c.exp, generation: c.gen };
	}
}
