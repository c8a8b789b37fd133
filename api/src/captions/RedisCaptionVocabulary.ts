import { readCaptionVocabulary, writeCaptionVocabulary } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { SpaceId } from '../spaces/Space.js';
import type { SpaceVocabulary, VocabularyStore } from '../spaces/spaceVocabulary.js';

/**
 * A space's caption vocabulary in Redis, where the transcoder reads it (`<prefix>:space:{<id>}:vocabulary`, a week's
 * TTL renewed on every write); each write is announced on the space's vocabulary channel, so a broadcast in progress
 * gives its recognisers the new words.
 */
export class RedisCaptionVocabulary implements VocabularyStore {
	readonly #redis: Redis;
	readonly #prefix: string;

	constructor(options: { redis: Redis; prefix: string }) {
		this.#redis = options.redis;
		this.#prefix = options.prefix;
	}

	read(spaceId: SpaceId): Promise<SpaceVocabulary | undefined> {
		return readCaptionVocabulary(this.#redis, this.#prefix, spaceId);
	}

	write(spaceId: SpaceId, vocabulary: SpaceVocabulary): Promise<void> {
		return writeCaptionVocabulary(this.#redis, this.#prefix, spaceId, vocabulary);
	}
}
