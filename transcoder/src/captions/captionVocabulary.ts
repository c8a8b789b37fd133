import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * The space's own words for its recognisers: its title, description, speakers' names and the host's word list. They
 * arrive as free text (`CaptionVocabulary`) and leave here only as words of one fixed shape, `^[a-z][a-z']*$`, ≤ 24
 * characters: that is all a dictionary line, a language-model line or a hotword line is ever built from, so no user
 * text can add a line, a field, a phone or a path to any of them.
 */

/** Bounds on what a broadcast job carries (the API's own limits are tighter; see `api/src/spaces/SpaceLimits.ts`). */
export const vocabularyLimits = Object.freeze({
	/** Phrases (title, description, one per listed word or name). */
	maxPhrases: 400,
	/** Characters per phrase (a description). */
	maxPhraseChars: 1000,
	/** Distinct words kept after normalising, in the order given (the host's list comes first). */
	maxWords: 300,
	/** Letters per word; longer tokens are not words a recogniser could be helped with. */
	maxWordChars: 24,
});

/**
 * What the API keeps for a space's recognisers (`<prefix>:space:{<id>}:vocabulary`, JSON, written whole at creation
 * and whenever a host changes the word list; a message on `captionVocabularyChannel` follows each change): the
 * host's word list and the space's title and description. Speakers' names come from the stage itself.
 */
export const storedVocabularySchema = z.object({
	words: z.array(z.string().max(100)).max(vocabularyLimits.maxPhrases),
	title: z.string().max(vocabularyLimits.maxPhraseChars),
	description: z.string().max(5000),
});
export type StoredVocabulary = z.output<typeof storedVocabularySchema>;

export const captionVocabularyKey = (prefix: string, spaceId: string): string => `${prefix}:space:{${spaceId}}:vocabulary`;
export const captionVocabularyChannel = (prefix: string, spaceId: string): string => `${prefix}:captions:vocabulary:${spaceId}`;
/** As long as the space's caption log. */
export const captionVocabularyTtlS = 7 * 24 * 3600;

/** Stores a space's vocabulary (validated) and tells the transcoder running its broadcast. */
export async function writeCaptionVocabulary(redis: Redis, prefix: string, spaceId: string, vocabulary: StoredVocabulary): Promise<void> {
	const json = JSON.stringify(storedVocabularySchema.parse(vocabulary));
	await redis
		.multi()
		.set(captionVocabularyKey(prefix, spaceId), json, 'EX', captionVocabularyTtlS)
		.publish(captionVocabularyChannel(prefix, spaceId), '1')
		.exec();
}

/** A space's stored vocabulary; undefined when it has none or what is stored is not valid. */
export async function readCaptionVocabulary(redis: Redis, prefix: string, spaceId: string): Promise<StoredVocabulary | undefined> {
	const raw = await redis.get(captionVocabularyKey(prefix, spaceId));
	if (raw === null) return undefined;
	try {
		const parsed = storedVocabularySchema.safeParse(JSON.parse(raw));
		return parsed.success ? parsed.data : undefined;
	} catch {
		return undefined;
	}
}

/** A word as recognisers receive it. */
export const vocabularyWordPattern = /^[a-z][a-z']{0,23}$/;
export const vocabularyWordSchema = z.string().regex(vocabularyWordPattern);

/**
 * Function words gain nothing from a boost (the language model knows them well) and a boost would make the
 * recogniser insert them; they are left out of the vocabulary.
 */
const stopWords = new Set(
	(
		'a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its ' +
		'me my no not of on or our she so than that the their them then there these they this those to too up us was we were ' +
		"what when where which who why will with would you your i'm it's we're don't let's about all also any just more most " +
		'new now one out over some such very via get got'
	).split(' '),
);

/**
 * The words of `phrases`, normalised for English recognisers: Unicode letters folded to ASCII (NFKD, marks removed),
 * lower case, split at anything that is not a letter or an apostrophe inside a word; words of one letter, stop words,
 * words with digits (said differently from how they are written) and words longer than `maxWordChars` are dropped;
 * the first `maxWords` distinct ones are kept. Pure: never throws on any string.
 */
export function vocabularyWords(phrases: readonly string[], maxWords = vocabularyLimits.maxWords): string[] {
	const words = new Set<string>();
	for (const phrase of phrases.slice(0, vocabularyLimits.maxPhrases)) {
		const folded = phrase.slice(0, vocabularyLimits.maxPhraseChars).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
		// Tokens: runs of letters, digits and apostrophes (typographic ones too); anything else separates.
		for (const token of folded.split(/[^\p{L}\p{N}'’]+/u)) {
			const word = token.replace(/’/g, "'").replace(/^'+|'+$/g, '');
			if (word.length < 2 || word.length > vocabularyLimits.maxWordChars) continue;
			if (!vocabularyWordPattern.test(word) || stopWords.has(word)) continue;
			words.add(word);
			if (words.size >= maxWords) return [...words];
		}
	}
	return [...words];
}

/** Throws unless every word has the one shape files may be built from (a second check at each file's door). */
export function assertVocabularyWords(words: readonly string[]): void {
	for (const word of words) {
		if (!vocabularyWordPattern.test(word)) throw new Error(`not a vocabulary word: ${JSON.stringify(word.slice(0, 40))}`);
	}
}

/**
 * A unigram language model in ARPA format giving each word the same probability, for PocketSphinx to interpolate
 * with its general model (`PocketsphinxDecoder`): `<s>` and `</s>` are required by the format.
 */
export function unigramArpa(words: readonly string[]): string {
	assertVocabularyWords(words);
	const entries = ['<s>', '</s>', ...words];
	const logProb = Math.log10(1 / entries.length).toFixed(4);
	return [
		'\\data\\',
		`ngram 1=${entries.length}`,
		'',
		'\\1-grams:',
		...entries.map((word) => `${word === '<s>' ? '-99.0000' : logProb}\t${word}\t0.0000`),
		'',
		'\\end\\',
		'',
	].join('\n');
}

/** flite's US English phones (cmulex) → PocketSphinx en-us phones (CMUdict's set without stress). */
const flitePhoneMap: Readonly<Record<string, string>> = Object.freeze({
	aa: 'AA', ae: 'AE', ah: 'AH', ao: 'AO', aw: 'AW', ax: 'AH', axr: 'ER', ay: 'AY', b: 'B', ch: 'CH', d: 'D', dh: 'DH',
	eh: 'EH', el: 'AH L', em: 'AH M', en: 'AH N', er: 'ER', ey: 'EY', f: 'F', g: 'G', hh: 'HH', ih: 'IH', ix: 'IH',
	iy: 'IY', jh: 'JH', k: 'K', l: 'L', m: 'M', n: 'N', ng: 'NG', nx: 'N', ow: 'OW', oy: 'OY', p: 'P', r: 'R', s: 'S',
	sh: 'SH', t: 'T', th: 'TH', uh: 'UH', uw: 'UW', v: 'V', w: 'W', y: 'Y', z: 'Z', zh: 'ZH',
});

/**
 * A pronunciation PocketSphinx accepts (`ps_add_word`) from flite's phones for a word (stress digits dropped, pauses
 * skipped); undefined when any phone is not one of the set (nothing unknown reaches the dictionary). At most 40 phones.
 */
export function flitePhonesToPocketsphinx(phones: readonly string[]): string | undefined {
	const out: string[] = [];
	for (const phone of phones) {
		const bare = phone.replace(/[012]$/, '');
		if (bare === 'pau') continue;
		const mapped = Object.hasOwn(flitePhoneMap, bare) ? flitePhoneMap[bare] : undefined;
		if (mapped === undefined) return undefined;
		out.push(mapped);
	}
	if (out.length === 0 || out.length > 40) return undefined;
	return out.join(' ');
}

/**
 * sherpa-onnx hotwords (`hotwordsBuf`): one word per line, in the model's case (`upperCase` for models whose BPE
 * pieces are capitals, as the LibriSpeech/GigaSpeech zipformers'); the per-line score suffix is never used.
 */
export function hotwordsText(words: readonly string[], upperCase: boolean): string {
	assertVocabularyWords(words);
	return words.map((word) => (upperCase ? word.toUpperCase() : word)).join('\n');
}
