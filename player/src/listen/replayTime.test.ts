import { describe, expect, it } from 'vitest';
import { replayTimeOf } from './replayTime.js';

/** A replay of 2 s segments from 1,000,000 ms on the wall clock, with a 3 s hole in its dates after the fourth. */
const fragments = [0, 1, 2, 3, 4, 5].map((i) => ({ start: i * 2, duration: 2, programDateTime: 1_000_000 + i * 2000 + (i >= 4 ? 3000 : 0) }));

describe('replayTimeOf', () => {
	it('finds the moment by its program date-time', () => {
		expect(replayTimeOf(fragments, 12, { dateMs: 1_000_000 + 2500, fromEndS: 99 })).toBeCloseTo(2.5, 6);
		expect(replayTimeOf(fragments, 12, { dateMs: 1_000_000 + 8000 + 3000 + 1200, fromEndS: 99 })).toBeCloseTo(9.2, 6);
	});

	it('goes by the distance from the end when no segment spans the date, or there is none', () => {
		expect(replayTimeOf(fragments, 12, { dateMs: 1_000_000 + 9000, fromEndS: 3 })).toBe(9);
		expect(replayTimeOf(fragments, 12, { dateMs: undefined, fromEndS: 0 })).toBe(12);
		expect(replayTimeOf(fragments.map((f) => ({ ...f, programDateTime: null })), 12, { dateMs: 1_000_000, fromEndS: 20 })).toBe(0);
	});
});
