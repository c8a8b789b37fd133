import { describe, expect, it } from 'vitest';
import { normaliseWords, wordErrorRate, wordErrors } from './wordErrorRate.js';

describe('normaliseWords', () => {
	it('lowercases, drops punctuation and keeps apostrophes inside words', () => {
		expect(normaliseWords("Thanks, everyone — let's get STARTED!")).toEqual(['thanks', 'everyone', "let's", 'get', 'started']);
	});

	it('treats typographic apostrophes like ASCII ones and strips quotes around words', () => {
		expect(normaliseWords('I’m \'quoted\' well-known')).toEqual(["i'm", 'quoted', 'well', 'known']);
	});

	it('gives no words for blank or punctuation-only text', () => {
		expect(normaliseWords('  ... ?! ')).toEqual([]);
	});
});

describe('wordErrors', () => {
	it('counts nothing for the same words written differently', () => {
		expect(wordErrors('Hello, world.', 'hello world')).toEqual({ errors: 0, referenceWords: 2 });
	});

	it('counts one substitution, one deletion and one insertion', () => {
		expect(wordErrors('a b c d', 'a x c')).toEqual({ errors: 2, referenceWords: 4 });
		expect(wordErrors('a b c', 'a b c d')).toEqual({ errors: 1, referenceWords: 3 });
		expect(wordErrors('a b c', 'x b y c')).toEqual({ errors: 2, referenceWords: 3 });
	});

	it('counts every reference word as deleted when nothing was recognised', () => {
		expect(wordErrors('we will take a short break', '')).toEqual({ errors: 6, referenceWords: 6 });
	});

	it('is the minimum edit, not a position-by-position comparison', () => {
		// Position by position every word differs; one insertion at the front explains it all.
		expect(wordErrors('thanks everyone for joining', 'oh thanks everyone for joining')).toEqual({ errors: 1, referenceWords: 4 });
	});
});

describe('wordErrorRate', () => {
	it('divides total errors by total reference words, so long sentences weigh more', () => {
		const rate = wordErrorRate([
			{ reference: 'one two three four five six seven eight nine ten', hypothesis: 'one two three four five six seven eight nine ten' },
			{ reference: 'yes', hypothesis: 'no' },
		]);
		expect(rate).toBeCloseTo(1 / 11);
	});

	it('is 0 for an empty set and Infinity for insertions against empty references', () => {
		expect(wordErrorRate([])).toBe(0);
		expect(wordErrorRate([{ reference: '', hypothesis: 'noise' }])).toBe(Infinity);
	});
});
