import { describe, expect, it } from 'vitest';
import { wallClockToMediaS, wallClockToTimelineS } from './mediaTimeMapping.js';

describe('wallClockToMediaS()', () => {
	it('maps a wall-clock instant through the segment program-date-time to its run media time', () => {
		expect(wallClockToMediaS(1_700_000_012_500, { startMediaS: 40, pdtMs: 1_700_000_012_000 })).toBe(40.5);
	});

	it('maps instants before the segment start to earlier media time (a cue that began in an earlier segment)', () => {
		expect(wallClockToMediaS(1_000, { startMediaS: 10, pdtMs: 3_000 })).toBe(8);
	});

	it('maps the same instant to different media times in segments of different runs', () => {
		const instant = 100_500;
		// Run 0's segment ended at wall 101 s at media 51 s; run 1 restarted its clock at media 0 from wall 100.8 s.
		expect(wallClockToMediaS(instant, { startMediaS: 50, pdtMs: 100_000 })).toBe(50.5);
		expect(wallClockToMediaS(instant, { startMediaS: 0, pdtMs: 100_800 })).toBeCloseTo(-0.3, 9);
	});
});

describe('wallClockToTimelineS()', () => {
	const segments = [
		{ pdtMs: 10_000, durationS: 1 },
		{ pdtMs: 11_000, durationS: 1 },
		// Discontinuity: 3 s of wall time lost to a restart.
		{ pdtMs: 15_000, durationS: 1 },
		{ pdtMs: 16_000, durationS: 0.5 },
	];

	it('maps instants inside segments to their place on the back-to-back timeline', () => {
		expect(wallClockToTimelineS(10_000, segments)).toBe(0);
		expect(wallClockToTimelineS(11_250, segments)).toBe(1.25);
		expect(wallClockToTimelineS(15_500, segments)).toBe(2.5);
		expect(wallClockToTimelineS(16_400, segments)).toBeCloseTo(3.4, 9);
	});

	it('maps an instant in a discontinuity gap to the start of the next segment', () => {
		expect(wallClockToTimelineS(13_000, segments)).toBe(2);
	});

	it('keeps the real offset of instants before the first and after the last segment (negative, past the end)', () => {
		expect(wallClockToTimelineS(5_000, segments)).toBe(-5);
		expect(wallClockToTimelineS(99_000, segments)).toBeCloseTo(3.5 + 82.5, 9);
		expect(wallClockToTimelineS(5_000, [])).toBe(0);
	});

	it('never goes back when the wall clock of a later run restarts earlier (takeover on a skewed clock)', () => {
		const skewed = [{ pdtMs: 20_000, durationS: 2 }, { pdtMs: 19_000, durationS: 2 }];
		expect(wallClockToTimelineS(19_500, skewed)).toBe(-0.5);
		expect(wallClockToTimelineS(21_500, skewed)).toBe(1.5);
	});
});
