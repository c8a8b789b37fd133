import { describe, expect, it } from 'vitest';
import { edgeOf, EdgeWaits } from './edgeWaits.js';

describe('EdgeWaits', () => {
	it('measures the time between loads whose live edge moved, per kind of playlist', () => {
		const w = new EdgeWaits();
		expect(w.loaded('main', 0, 1000, 10_001)).toBe(0);
		expect(w.loaded('audio', 0, 1050, 10_001)).toBe(0);
		expect(w.loaded('main', 0, 1200, 10_002)).toBeCloseTo(0.2, 6);
		// A reload that brought nothing new (a timed-out blocking reload asked again) does not end the wait.
		expect(w.loaded('main', 0, 1800, 10_002)).toBe(0);
		expect(w.loaded('main', 0, 2100, 11_001)).toBeCloseTo(0.9, 6);
		expect(w.loaded('audio', 0, 2150, 11_001)).toBeCloseTo(1.1, 6);
	});

	it('starts over on another rendition and after a reset', () => {
		const w = new EdgeWaits();
		w.loaded('main', 0, 0, 10_000);
		expect(w.loaded('main', 1, 5000, 15_000)).toBe(0);
		expect(w.loaded('main', 1, 5200, 15_001)).toBeCloseTo(0.2, 6);
		w.reset();
		expect(w.loaded('main', 1, 9000, 19_000)).toBe(0);
		expect(w.loaded('main', 1, 9200, 19_001)).toBeCloseTo(0.2, 6);
	});
});

describe('edgeOf', () => {
	it('grows with each part, across segments', () => {
		expect(edgeOf({ lastPartSn: 10, lastPartIndex: 4 })).toBeLessThan(edgeOf({ lastPartSn: 11, lastPartIndex: 0 }));
		expect(edgeOf({ lastPartSn: 11, lastPartIndex: 0 })).toBeLessThan(edgeOf({ lastPartSn: 11, lastPartIndex: 1 }));
		// A playlist without parts: its last segment.
		expect(edgeOf({ lastPartSn: 12, lastPartIndex: -1 })).toBe(12_000);
	});
});
