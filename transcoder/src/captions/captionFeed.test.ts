import { describe, expect, it } from 'vitest';
import { captionChannel, captionCueSchema, captionLogKey, captionModeHasBurnedIn, captionModeHasSidecar, parseCaptionCue } from './captionFeed.js';

const cue = { spaceId: 'sp1', id: 'p1-3', speakerId: 'p1', speakerName: 'Ada', text: ' hello world ', final: true, startMs: 1000, endMs: 2500, source: 'asr' as const };

describe('captionCueSchema', () => {
	it('accepts a cue and trims its text', () => {
		expect(captionCueSchema.parse(cue)).toEqual({ ...cue, text: 'hello world' });
	});

	it('accepts a captioner cue without a speaker id', () => {
		const { speakerId: _, ...anonymous } = cue;
		expect(captionCueSchema.parse({ ...anonymous, source: 'captioner' }).speakerId).toBeUndefined();
	});

	it.each([
		['blank text', { text: '   ' }],
		['text over 500 characters', { text: 'a'.repeat(501) }],
		['a name over 200 characters', { speakerName: 'n'.repeat(201) }],
		['an id over 64 characters', { id: 'i'.repeat(65) }],
		['a space id outside [A-Za-z0-9_-]', { spaceId: '../x' }],
		['an end before the start', { endMs: 999 }],
		['an unknown source', { source: 'robot' }],
		['an unknown field', { colour: 'red' }],
		['a non-finite time', { startMs: Infinity }],
	])('rejects %s', (_, change) => {
		expect(captionCueSchema.safeParse({ ...cue, ...change }).success).toBe(false);
	});
});

describe('parseCaptionCue()', () => {
	it('returns the cue of the expected space', () => {
		expect(parseCaptionCue(JSON.stringify(cue), 'sp1')).toMatchObject({ id: 'p1-3', text: 'hello world' });
	});

	it.each([['not JSON', '{'], ['another space', JSON.stringify({ ...cue, spaceId: 'sp2' })], ['not a cue', '[1,2]']])('drops %s', (_, message) => {
		expect(parseCaptionCue(message, 'sp1')).toBeUndefined();
	});
});

describe('caption keys and modes', () => {
	it('names the channel and the log under the key prefix, the log in the space hash slot', () => {
		expect(captionChannel('tribune', 'sp1')).toBe('tribune:captions:sp1');
		expect(captionLogKey('tribune', 'sp1')).toBe('tribune:space:{sp1}:captions');
	});

	it('tells which modes show the sidecar track and which draw on the picture', () => {
		expect((['off', 'sidecar', 'burned-in', 'both'] as const).map((m) => [captionModeHasSidecar(m), captionModeHasBurnedIn(m)])).toEqual([
			[false, false], [true, false], [false, true], [true, true],
		]);
	});
});
