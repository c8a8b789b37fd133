import { publishCaption } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { plainLine } from '../validation/plainLine.js';
import type { CaptionCueInfo } from '../signaling/protocol.js';
import type { RateLimit } from '../signaling/TokenBucket.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import { CaptionerRevocations } from './CaptionerRevocations.js';
import type { CaptionerClaims, CaptionerTokens } from './CaptionerTokens.js';
import type { CaptionerUtteranceStore } from './CaptionerUtterances.js';
import { RedisCaptionerRate } from './RedisCaptionerRate.js';
import { RedisCaptionerUtterances } from './RedisCaptionerUtterances.js';

export interface CaptionerPushesOptions {
	service: SpaceService;
	tokens: CaptionerTokens;
	/** Where cues are published (the caption channel and log on the shared Redis). */
	redis: Redis;
	prefix: string;
	/** Pushes per captioner token, REST and WebSocket together, over all API nodes. Default `defaultCaptionerRate`. */
	rate?: RateLimit;
	/** Where open utterances are kept. Default: on `redis` (any API node continues a captioner's utterance). */
	utterances?: CaptionerUtteranceStore;
	now?: () => number;
}

/** A human types a few lines a second at most; a service sends a partial per word or so. */
export const defaultCaptionerRate: Readonly<RateLimit> = Object.freeze({ burst: 20, perSecond: 8 });

/**
 * Caption text and names: trimmed, no control characters (a cue is one line of text), and no bidi embeddings,
 * overrides or isolates, which would let a line reorder what follows it on screen (a name shown as another's).
 */
const line = plainLine;

/** One push: a line of the utterance so far (`final: false`) or all of it (the default). */
export const captionPushSchema = z.strictObject({
	text: line(500).min(1),
	speakerName: line(200).min(1).optional(),
	final: z.boolean().default(true),
});

/**
 * What a captioner's push goes through, over REST or the WebSocket alike: the token (its own audience, for one
 * space, not revoked), a rate per token, the body, the space (live, captions on), then the cue is published like
 * recognised speech. Throws a TribuneError with the reason.
 */
export class CaptionerPushes {
	readonly #options: CaptionerPushesOptions;
	readonly #utterances: CaptionerUtteranceStore;
	readonly #rate: RedisCaptionerRate;
	/** The space's captioner generation: tokens are issued with it, and revoked by moving it on. */
	readonly revocations: CaptionerRevocations;

	constructor(options: CaptionerPushesOptions) {
		this.#options = options;
		this.revocations = new CaptionerRevocations({ redis: options.redis, prefix: options.prefix });
		this.#rate = new RedisCaptionerRate({ redis: options.redis, prefix: options.prefix, limit: options.rate ?? defaultCaptionerRate });
		this.#utterances = options.utterances ?? new RedisCaptionerUtterances({ redis: options.redis, prefix: options.prefix, now: options.now });
	}

	/** The claims of a captioner token, which must be for `spaceId` when one is given. */
	async authenticate(token: string, spaceId?: string): Promise<CaptionerClaims> {
		const claims = await this.#options.tokens.verify(token);
		if (spaceId !== undefined && claims.spaceId !== spaceId) throw new TribuneError('forbidden', 'token is for another space');
		return claims;
	}

	async push(claims: CaptionerClaims, body: unknown): Promise<CaptionCueInfo> {
		if (claims.expiresAt * 1000 <= Date.now()) throw new TribuneError('unauthorized', 'captioner token expired');
		if ((await this.revocations.current(claims.spaceId)) !== claims.generation) throw new TribuneError('unauthorized', 'captioner token revoked');
		if (!(await this.#rate.take(claims.captionerId))) throw new TribuneError('rate_limited', 'too many captions; slow down');
		const parsed = captionPushSchema.safeParse(body);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			throw new TribuneError('bad_request', issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid caption');
		}
		const { text, speakerName, final } = parsed.data;
		const space = await this.#options.service.getSpace(claims.spaceId);
		if (space.state !== 'live') throw new TribuneError(space.state === 'ended' ? 'space_ended' : 'conflict', 'captions go to a live space');
		if (space.settings.captionMode === 'off') throw new TribuneError('conflict', 'captions are off in this space');
		const fields = await this.#utterances.cueOf({ captionerId: claims.captionerId, text, speakerName: speakerName ?? claims.name, final });
		const { spaceId: _space, ...info } = await publishCaption(this.#options.redis, this.#options.prefix, { spaceId: claims.spaceId, source: 'captioner', ...fields });
		return info;
	}
}
