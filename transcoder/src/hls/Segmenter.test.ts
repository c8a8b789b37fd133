import { describe, expect, it } from 'vitest';
import { Segmenter } from './Segmenter.js';

const summary = (p: { seq: number; msn: number; partIndex: number; discontinuity: boolean }): string =>
	`${p.seq}:${p.msn}.${p.partIndex}${p.discontinuity ? '!' : ''}`;

describe('Segmenter', () => {
	it('starts a segment at the first independent part on the segment grid', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		const placed = Array.from({ length: 11 }, (_, i) => segmenter.place({ startS: 5 + i * 0.2, durationS: 0.2, independent: i % 5 === 0 }));
		expect(placed.map(summary).join(' ')).toBe('0:0.0 1:0.1 2:0.2 3:0.3 4:0.4 5:1.0 6:1.1 7:1.2 8:1.3 9:1.4 10:2.0');
		expect(placed.filter((p) => p.startsSegment).map((p) => p.seq)).toEqual([0, 5, 10]);
	});

	it('follows a new run\'s GOP grid from its first frame, wherever in its first segment it went on air', () => {
		// A run began at media time 0: every part of its first second is independent, then one keyframe a second.
		const independentAt = (i: number) => i <= 5 || i % 5 === 0;
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		segmenter.restart(7);
		segmenter.alignTo(0);
		// It went on air at its part 1 (0.2 s): the first segment ends at 1.0 s with the run's own keyframes, not at 2.0.
		const placed = Array.from({ length: 14 }, (_, k) => k + 1).map((i) => segmenter.place({ startS: i * 0.2, durationS: 0.2, independent: independentAt(i) }));
		expect(placed.filter((p) => p.startsSegment).map((p) => p.seq)).toEqual([0, 4, 9]);
		expect(placed.map((p) => p.msn)).toEqual([7, 7, 7, 7, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9]);
		// Without the run's origin, its grid would start at the part it went on air at: a keyframe at 1.0 s falls short
		// of the boundary (1.2 s), and the first segment runs to 2.0 s.
		const unaligned = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		const wrong = Array.from({ length: 14 }, (_, k) => k + 1).map((i) => unaligned.place({ startS: i * 0.2, durationS: 0.2, independent: independentAt(i) }));
		expect(wrong.filter((p) => p.startsSegment).map((p) => p.seq)).toEqual([0, 9]);
	});

	it('extends a segment until an independent part arrives', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		const independent = [true, false, false, false, false, false, true, false];
		const placed = independent.map((flag, i) => segmenter.place({ startS: i * 0.2, durationS: 0.2, independent: flag }));
		expect(placed.map(summary).join(' ')).toBe('0:0.0 1:0.1 2:0.2 3:0.3 4:0.4 5:0.5 6:1.0 7:1.1');
	});

	it('keeps audio-only parts of whole AAC frames on the same segment grid as video', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		const frameS = 1024 / 48000;
		const starts = Array.from({ length: 16 }, (_, i) => i * 9 * frameS);
		const msns = starts.map((startS) => segmenter.place({ startS, durationS: 9 * frameS, independent: true }).msn);
		// Segment k starts at the first part within half a part of k seconds: msn tracks media time, no drift.
		starts.forEach((startS, i) => expect(msns[i]).toBe(Math.floor((startS + 0.1) / 1)));
	});

	it('opens a new segment after a discontinuity when the encoder restarts', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		segmenter.place({ startS: 0, durationS: 0.2, independent: true });
		segmenter.place({ startS: 0.2, durationS: 0.2, independent: false });
		segmenter.restart();
		const placed = [0, 0.2].map((startS, i) => segmenter.place({ startS, durationS: 0.2, independent: i === 0 }));
		expect(placed.map(summary)).toEqual(['2:1.0!', '3:1.1']);
	});

	it('opens the segment number it is given on a restart, so renditions switching together stay aligned', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1 });
		segmenter.place({ startS: 0, durationS: 0.2, independent: true });
		segmenter.restart(5);
		expect(summary(segmenter.place({ startS: 0, durationS: 0.2, independent: true }))).toBe('1:5.0!');
		expect(segmenter.msn).toBe(5);
	});

	it('continues the numbers of a stream another packager left', () => {
		const segmenter = new Segmenter({ partTargetS: 0.2, segmentTargetS: 1, resumeAfter: { lastSeq: 41, lastMsn: 8 } });
		expect(summary(segmenter.place({ startS: 0, durationS: 0.2, independent: true }))).toBe('42:9.0!');
	});
});
