import { z } from 'zod';
import { plainLine } from '../validation/plainLine.js';
import type { SpaceId } from './Space.js';

/**
 * A space's words for its caption recognisers: the host's list (names, products, jargon), kept with the space's title
 * and description, which the transcoder reads when captions start and again when a host changes the list. Only
 * hosts and co-hosts read or change it (grant `manage_captions`).
 */

/** Bounds on the host's list: entries (a word or a short name such as "Siobhan O'Neill") and their length. */
export const vocabularyListLimits = Object.freeze({ maxEntries: 100, maxEntryChars: 40 });

/** One entry: a plain line (no control characters, bidi overrides or invisible format characters), not empty. */
export const vocabularyEntrySchema = plainLine(vocabularyListLimits.maxEntryChars).min(1, 'an entry may not be empty');

/** The host's list as sent: entries in the order given; repeats (ignoring case) are kept once. */
export const vocabularyListSchema = z
	.array(vocabularyEntrySchema)
	.max(vocabularyListLimits.maxEntries, `at most ${vocabularyListLimits.maxEntries} entries`)
	.transform((entries) => {
		const seen = new Set<string>();
		return entries.filter((entry) => {
			const key = entry.toLowerCase();
			if (seen.has(key)) return false;
			seen.add(key);
			return true;
		});
	});

/** What is stored for the transcoder (`storedVocabularySchema` on its side). */
export interface SpaceVocabulary {
	words: string[];
	title: string;
	description: string;
}

/** Where the vocabulary is kept: Redis for a deployment (`RedisCaptionVocabulary`), memory for one process. */
export interface VocabularyStore {
	read(spaceId: SpaceId): Promise<SpaceVocabulary | undefined>;
	/** Replaces the space's vocabulary and tells a transcoder captioning it. */
	write(spaceId: SpaceId, vocabulary: SpaceVocabulary): Promise<void>;
}

/** One process's store (tests, a service without Redis). Bounded by the spaces it is asked about. */
export class MemoryVocabularyStore implements VocabularyStore {
	readonly #byId = new Map<SpaceId, SpaceVocabulary>();

	read(spaceId: SpaceId): Promise<SpaceVocabulary | undefined> {
		const v = this.#byId.get(spaceId);
		return Promise.resolve(v && { ...v, words: [...v.words] });
	}

	write(spaceId: SpaceId, vocabulary: SpaceVocabulary): Promise<void> {
		this.#byId.set(spaceId, { ...vocabulary, words: [...vocabulary.words] });
		return Promise.resolve();
	}
}
