/** Word errors of one hypothesis against its reference. */
export interface WordErrors {
	/** Substitutions + deletions + insertions (word-level Levenshtein distance). */
	errors: number;
	/** Words in the normalised reference: the denominator of the error rate. */
	referenceWords: number;
}

/**
 * Lowercase words with punctuation removed, as recognisers spell them: apostrophes inside words stay (`let's`),
 * hyphens split words, digits are kept as they are (write references without numerals).
 */
export function normaliseWords(text: string): string[] {
	return text
		.toLowerCase()
		.replace(/[‘’]/g, "'")
		.replace(/[^a-z0-9']+/g, ' ')
		.split(' ')
		.map((word) => word.replace(/^'+|'+$/g, ''))
		.filter((word) => word !== '');
}

/** Word-level edit distance between `reference` and `hypothesis` after normalisation. */
export function wordErrors(reference: string, hypothesis: string): WordErrors {
	const ref = normaliseWords(reference);
	const hyp = normaliseWords(hypothesis);
	// One row of the Levenshtein table at a time: previous[j] is the distance between ref[0..i) and hyp[0..j).
	let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
	for (let i = 1; i <= ref.length; i++) {
		const current = [i];
		for (let j = 1; j <= hyp.length; j++) {
			const substitution = previous[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
			current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
		}
		previous = current;
	}
	return { errors: previous[hyp.length]!, referenceWords: ref.length };
}

/**
 * Word error rate over a set: total errors over total reference words (not the mean of per-sentence rates, which
 * would weigh short sentences more). With no reference words at all it is 0, or Infinity if anything was inserted.
 */
export function wordErrorRate(pairs: readonly { reference: string; hypothesis: string }[]): number {
	let errors = 0;
	let words = 0;
	for (const { reference, hypothesis } of pairs) {
		const e = wordErrors(reference, hypothesis);
		errors += e.errors;
		words += e.referenceWords;
	}
	if (words === 0) return errors === 0 ? 0 : Infinity;
	return errors / words;
}
