import { z } from 'zod';

/**
 * Control characters (a name or a cue is one line), lone surrogates, and the bidi embeddings, overrides and isolates
 * U+202A–U+202E and U+2066–U+2069, which reorder whatever follows them on screen: "Alice\u202Etsoh" shows as
 * "Alicehost", and a name could pass for another's or spill into the text after it.
 */
const plain = /^[^\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]*$/u;

/** The one rule for every human-visible line from outside (display names, titles, captioner names, caption text). */
export const plainLine = (max: number) =>
	z
		.string()
		.trim()
		.max(max)
		.regex(plain, 'no control characters or bidi overrides');
