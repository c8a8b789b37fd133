import { describe, expect, it } from 'vitest';
import { resultFrom, type WallClockResult } from './SpeakerCaptioner.js';

const word = (w: string, startMs: number, endMs: number) => ({ word: w, startMs, endMs });
const final = (startMs: number, words: WallClockResult['words']): WallClockResult => ({
	utteranceId: 1,
	text: words.map((w) => w.word).join(' '),
	final: true,
	startMs,
	endMs: words.at(-1)?.endMs ?? startMs,
	words,
});
const partial = (startMs: number, endMs: number): WallClockResult => ({ utteranceId: 1, text: 'to say', final: false, startMs, endMs, words: [] });

describe('resultFrom(): what a captioner that took over at an instant shows', () => {
	it('shows a partial or a final said from the hand-over on, unchanged', () => {
		const said = final(1000, [word('welcome', 1000, 1400), word('back', 1400, 1600)]);
		expect(resultFrom(said, 1000)).toBe(said);
		const hearing = partial(1000, 1300);
		expect(resultFrom(hearing, 900)).toBe(hearing);
	});

	it('drops a partial begun before it, and a final whose words all lie before it', () => {
		expect(resultFrom(partial(800, 1300), 1000)).toBeUndefined();
		expect(resultFrom(final(200, [word('to', 200, 400), word('say', 400, 700)]), 1000)).toBeUndefined();
	});

	it('keeps of a final begun before it the words whose middle lies after: the same word timed a little apart by two decoders is shown once', () => {
		// The old captioner's last word "is" was 870–1000; the new one heard it 910–1040 (its decoder 40 ms late).
		const straddling = final(500, [word('the', 500, 700), word('is', 910, 1040), word('great', 1040, 1440), word('fun', 1440, 1700)]);
		expect(resultFrom(straddling, 1000)).toEqual({ ...straddling, text: 'great fun', words: straddling.words.slice(2), startMs: 1040 });
		expect(resultFrom(final(500, [word('the', 500, 700), word('show', 990, 1300)]), 1000)).toEqual(final(990, [word('show', 990, 1300)]));
	});

	it('drops a final cut by a crashed recogniser (no words) begun before it', () => {
		expect(resultFrom({ ...partial(800, 1300), final: true }, 1000)).toBeUndefined();
		expect(resultFrom({ ...partial(1200, 1300), final: true }, 1000)).toEqual({ ...partial(1200, 1300), final: true });
	});
});
