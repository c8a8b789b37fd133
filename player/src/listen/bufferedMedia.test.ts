import { describe, expect, it } from 'vitest';
import { bufferedAheadS, gapEndS, holeEndS, planHoleSkip } from './bufferedMedia.js';

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

	it('finds where a gap the playlists mark at a time ends, across spans that follow on', () => {
		const spans = [{ start: 8, duration: 1 }, { start: 9, duration: 1, gap: true }, { start: 10, duration: 0.2, gap: true }, { start: 10.2, duration: 1 }];
		expect(gapEndS(spans, 9.0)).toBeCloseTo(10.2, 6);
		// Just before it (the end of what was buffered), in it.
		expect(gapEndS(spans, 8.95)).toBeCloseTo(10.2, 6);
		expect(gapEndS(spans, 9.5)).toBeCloseTo(10.2, 6);
		expect(gapEndS(spans, 8.5)).toBeUndefined();
		expect(gapEndS(spans, 10.5)).toBeUndefined();
	});

	it('steps over a gap soon, media past it or not; over another hole only after a while and to media past it', () => {
		const holed = ranges([0, 8.34], [9.2, 14]);
		expect(planHoleSkip(holed, 8.34, 100, 9.2)).toBeUndefined();
		expect(planHoleSkip(holed, 8.34, 300, 9.2)).toBeCloseTo(9.25, 6);
		expect(planHoleSkip(ranges([0, 8.34]), 8.34, 300, 9.2)).toBeCloseTo(9.25, 6);
		expect(planHoleSkip(holed, 8.34, 1000, undefined)).toBeUndefined();
		expect(planHoleSkip(holed, 8.34, 1600, undefined)).toBeCloseTo(9.25, 6);
		expect(planHoleSkip(ranges([0, 8.34]), 8.34, 10_000, undefined)).toBeUndefined();
		// Media to play where the playhead stands: nothing to step over.
		expect(planHoleSkip(holed, 7, 10_000, 9.2)).toBeUndefined();
	});
});
