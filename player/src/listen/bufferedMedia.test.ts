import { describe, expect, it } from 'vitest';
import { bufferedAheadS, holeEndS, overlapsGap, planHoleSkip } from './bufferedMedia.js';

const ranges = (...r: [number, number][]) => ({ length: r.length, start: (i: number) => r[i]![0], end: (i: number) => r[i]![1] }) as TimeRanges;

describe('buffered media around the playhead', () => {
	it('measures what is buffered from a time on, without a hole', () => {
		expect(bufferedAheadS(ranges([0, 4], [5, 9]), 2.5)).toBe(1.5);
		expect(bufferedAheadS(ranges([0, 4], [5, 9]), 4.5)).toBe(0);
		expect(bufferedAheadS(ranges([0, 4], [5, 9]), 5)).toBe(4);
		expect(bufferedAheadS(ranges(), 1)).toBe(0);
	});

	it('finds the media after a hole at the playhead, within a bound', () => {
		expect(holeEndS(ranges([0, 8.34], [9.2, 14]), 8.34, 5)).toBe(9.2);
		// At the very end of a range (less than 0.1 s left) is in the hole already.
		expect(holeEndS(ranges([0, 8.4], [9.2, 14]), 8.34, 5)).toBe(9.2);
		// Playing well inside a range, waiting for the network (nothing past), or a hole too long: none.
		expect(holeEndS(ranges([0, 8.34], [9.2, 14]), 7, 5)).toBeUndefined();
		expect(holeEndS(ranges([0, 8.34]), 8.34, 5)).toBeUndefined();
		expect(holeEndS(ranges([0, 8.34], [20, 24]), 8.34, 5)).toBeUndefined();
	});

	it('tells a hole the playlists mark as a gap', () => {
		const spans = [{ start: 8, duration: 1 }, { start: 9, duration: 1, gap: true }, { start: 10, duration: 1 }];
		expect(overlapsGap(spans, 8.34, 9.2)).toBe(true);
		expect(overlapsGap(spans, 8.2, 8.9)).toBe(false);
		expect(overlapsGap(spans, 10.1, 10.5)).toBe(false);
	});

	it('steps over a gap at once, over another hole only after a while, never with nothing past it', () => {
		const holed = ranges([0, 8.34], [9.2, 14]);
		expect(planHoleSkip(holed, 8.34, 100, () => true)).toBeUndefined();
		expect(planHoleSkip(holed, 8.34, 300, () => true)).toBeCloseTo(9.25, 6);
		expect(planHoleSkip(holed, 8.34, 1000, () => false)).toBeUndefined();
		expect(planHoleSkip(holed, 8.34, 1600, () => false)).toBeCloseTo(9.25, 6);
		expect(planHoleSkip(ranges([0, 8.34]), 8.34, 10_000, () => true)).toBeUndefined();
	});
});
