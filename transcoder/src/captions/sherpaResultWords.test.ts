import { describe, expect, it } from 'vitest';
import { sherpaResultWords } from './sherpaResultWords.js';

describe('sherpaResultWords', () => {
	it('joins word pieces, lowercases, and times words from start_time plus token timestamps', () => {
		const words = sherpaResultWords(
			{ text: ' THANK YOU SO', tokens: [' TH', 'ANK', ' YOU', ' SO'], timestamps: [0.2, 0.36, 0.6, 1.6], start_time: 10 },
			12,
		);
		expect(words).toEqual([
			{ word: 'thank', startS: 10.2, endS: 10.6 },
			// A word ends at most 0.4 s after its last token, even when the next one starts later.
			{ word: 'you', startS: 10.6, endS: expect.closeTo(11, 6) as number },
			{ word: 'so', startS: 11.6, endS: 12 },
		]);
	});

	it('reads SentencePiece word marks too, and never ends the last word past the audio heard', () => {
		const words = sherpaResultWords({ text: 'HELLO', tokens: ['▁HE', 'LLO'], timestamps: [0.04, 0.12] }, 0.3);
		expect(words).toEqual([{ word: 'hello', startS: 0.04, endS: 0.3 }]);
	});

	it('a result without tokens has no words, and a continuation piece first still makes a word', () => {
		expect(sherpaResultWords({ text: '', tokens: [], timestamps: [] }, 1)).toEqual([]);
		expect(sherpaResultWords({ text: "'S", tokens: ["'S"], timestamps: [0.5] }, 2).map((w) => w.word)).toEqual(["'s"]);
	});
});
