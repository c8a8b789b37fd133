import { describe, expect, it } from 'vitest';
import { averageSegmentBitRate, peakSegmentBitRate } from './segmentBitRates.js';

describe('peakSegmentBitRate()', () => {
	it('takes the densest run of segments lasting 0.5–1.5 target durations', () => {
		// 1 s target: the 0.2 s segment alone is too short to count, with its neighbour it is a 1.16 s run.
		const segments = [
			{ durationS: 0.96, bytes: 8_000 },
			{ durationS: 0.2, bytes: 5_000 },
			{ durationS: 0.96, bytes: 9_000 },
		];
		expect(peakSegmentBitRate(segments, 1)).toBeCloseTo(((5_000 + 9_000) * 8) / 1.16, 6);
	});

	it('does not run across a gap placeholder, and is 0 when no run is long enough', () => {
		expect(peakSegmentBitRate([{ durationS: 0.3, bytes: 9_000 }, { durationS: 0.001, bytes: 0, gap: true }, { durationS: 0.3, bytes: 9_000 }], 1)).toBe(0);
		expect(peakSegmentBitRate([], 1)).toBe(0);
	});
});

describe('averageSegmentBitRate()', () => {
	it('divides all sizes by all durations, gaps left out', () => {
		expect(averageSegmentBitRate([{ durationS: 1, bytes: 1_000 }, { durationS: 0.001, bytes: 0, gap: true }, { durationS: 1, bytes: 3_000 }])).toBe(16_000);
		expect(averageSegmentBitRate([])).toBe(0);
	});
});
