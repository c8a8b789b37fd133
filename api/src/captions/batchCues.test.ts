import { describe, expect, it } from 'vitest';
import type { CaptionCueInfo } from '../signaling/protocol.js';
import { batchCues } from './batchCues.js';

const cue = (id: string, text: string, final: boolean): CaptionCueInfo => ({ id, text, final, speakerName: 'Ann', startMs: 1, endMs: 2, source: 'asr' });

describe('batchCues()', () => {
	it('drops a partial that a later cue of the same utterance replaces in the same tick', () => {
		const out = batchCues([cue('a', 'hel', false), cue('b', 'yes', false), cue('a', 'hello', false), cue('a', 'hello there', true)]);
		expect(out.map((c) => c.text)).toEqual(['yes', 'hello there']);
	});

	it('keeps every final, and the last partial of an utterance still going', () => {
		const out = batchCues([cue('a', 'one', true), cue('b', 'two', false), cue('c', 'three', true)]);
		expect(out.map((c) => c.text)).toEqual(['one', 'two', 'three']);
	});

	it('returns nothing for nothing', () => {
		expect(batchCues([])).toEqual([]);
	});
});
