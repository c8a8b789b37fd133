import { describe, expect, it } from 'vitest';
import { clockOf, parseTranscript, speakerTimeline } from './speakerTimeline.js';

describe('speakerTimeline()', () => {
	it('lists speakers in order of first speech, joining cues of one speaker less than 2 s apart into turns', () => {
		const t = speakerTimeline([
			{ startS: 5, endS: 6, speakerId: 'b', speakerName: 'Bob', text: 'Thanks.' },
			{ startS: 0.5, endS: 2, speakerId: 'a', speakerName: 'Ann', text: 'Hello' },
			{ startS: 3, endS: 4.5, speakerId: 'a', speakerName: 'Ann', text: 'everyone.' },
			{ startS: 10, endS: 12, speakerId: 'a', speakerName: 'Ann', text: 'Questions?' },
		]);
		expect(t.endS).toBe(12);
		expect(t.speakers).toEqual([
			{ key: 'a', name: 'Ann', slot: 0, totalS: 6, turns: [{ startS: 0.5, endS: 4.5, text: 'Hello everyone.' }, { startS: 10, endS: 12, text: 'Questions?' }] },
			{ key: 'b', name: 'Bob', slot: 1, totalS: 1, turns: [{ startS: 5, endS: 6, text: 'Thanks.' }] },
		]);
	});

	it('keeps captioners without an id apart by name, and skips broken cues', () => {
		const t = speakerTimeline([
			{ startS: 0, endS: 1, speakerName: 'Cara', text: 'one' },
			{ startS: 2, endS: 1, speakerName: 'Cara', text: 'reversed' },
			{ startS: Number.NaN, endS: 1, speakerName: 'X', text: 'nan' },
			{ startS: 3, endS: 4, speakerName: 'Dan', text: '  ' },
		]);
		expect(t.speakers.map((s) => [s.key, s.turns.length])).toEqual([['name:Cara', 1]]);
	});
});

describe('parseTranscript()', () => {
	it('reads the cues of a transcript.json and refuses anything else', () => {
		expect(parseTranscript({ cues: [{ startS: 1, endS: 2, speakerName: 'Ann', text: 'Hi', speakerId: 'a' }, { startS: 'x' }, null] })).toEqual([
			{ startS: 1, endS: 2, speakerName: 'Ann', text: 'Hi', speakerId: 'a' },
		]);
		expect(parseTranscript({ nope: [] })).toBeUndefined();
		expect(parseTranscript('text')).toBeUndefined();
	});
});

describe('clockOf()', () => {
	it('formats seconds as m:ss or h:mm:ss', () => {
		expect(clockOf(0)).toBe('0:00');
		expect(clockOf(65.9)).toBe('1:05');
		expect(clockOf(3725)).toBe('1:02:05');
	});
});
