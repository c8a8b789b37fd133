import { z } from 'zod';

/**
 * Control characters (a name or a cue is one line), lone surrogates, and the bidi embeddings, overrides and isolates
 * U+202A–U+202E and U+2066–U+2069, which reorder whatever follows them on screen: "Alice\u202Etsoh" shows as
 * "Alicehost", and a name could pass for another's or spill into the text after it.
 */
const plain = /^[^\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]*$/u;

/**
 * The format characters a line may hold where they do their job: a zero-width joiner inside an emoji sequence (👩‍🎤)
 * and a zero-width non-joiner between letters (Persian and Indic spelling needs it). Every other format character
 * (zero-width spaces, soft hyphens, word joiners, bidi marks, tag characters) is invisible or moves text, so that
 * "Hana Host\u200B" could pass for "Hana Host": refused.
 */
const joinerInEmoji = /(?<=\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic})/gu;
const nonJoinerInWord = /(?<=\p{L}\p{M}*)\u200C(?=\p{L})/gu;
const format = /\p{Cf}/u;

function withoutStrayFormat(line: string): boolean {
	return !format.test(line.replace(joinerInEmoji, '').replace(nonJoinerInWord, ''));
}

/** The one rule for every human-visible line from outside (display names, titles, captioner names, caption text). */
export const plainLine = (max: number) =>
	z
		.string()
		.trim()
		.max(max)
		.regex(plain, 'no control characters or bidi overrides')
		.refine(withoutStrayFormat, 'no invisible format characters');
