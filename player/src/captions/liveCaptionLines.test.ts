import { describe, expect, it } from 'vitest';
import type { CaptionCueInfo } from '../../../api/src/signaling/protocol.js';
import { applyCues, expireLines } from './liveCaptionLines.js';

const cue = (id: string, text: string, final: boolean, speakerName = 'Ann'): CaptionCueInfo => ({ id, text, final, speakerName, startMs: 0, endMs: 0, source: 'asr' });

describe('applyCues()', () => {
	it('replaces a partial by the next partial and then by its final, in place', () => {
		let lines = applyCues([], [cue('a', 'Hel', false)], 0);
		lines = applyCues(lines, [cue('b', 'Yes', true, 'Bob')], 10);
		lines = applyCues(lines, [cue('a', 'Hello there', false)], 20);
		expect(lines.map((l) => [l.speakerName, l.text, l.final])).toEqual([['Ann', 'Hello there', false], ['Bob', 'Yes', true]]);
		lines = applyCues(lines, [cue('a', 'Hello there everyone', true)], 30);
		expect(lines.map((l) => [l.text, l.final])).toEqual([['Hello there everyone', true], ['Yes', true]]);
	});

	it('keeps two lines, the newest last', () => {
		const lines = applyCues([], [cue('a', '1', true), cue('b', '2', true), cue('c', '3', false)], 0);
		expect(lines.map((l) => l.text)).toEqual(['2', '3']);
	});

	it('does not take a final back for a late partial of the same utterance', () => {
		const lines = applyCues([], [cue('a', 'Done.', true), cue('a', 'Do', false)], 0);
		expect(lines.map((l) => [l.text, l.final])).toEqual([['Done.', true]]);
	});
});

describe('expireLines()', () => {
	it('drops finals after 7 s and partials after 15 s, and keeps the array when nothing expired', () => {
		const lines = applyCues([], [cue('a', 'final', true), cue('b', 'partial', false)], 1000);
		expect(expireLines(lines, 5000)).toBe(lines);
		expect(expireLines(lines, 8000).map((l) => l.text)).toEqual(['partial']);
		expect(expireLines(lines, 16_000)).toEqual([]);
	});
});
