import { describe, expect, it } from 'vitest';
import { EdgeWaits } from './edgeWaits.js';

describe('EdgeWaits', () => {
	it('measures the time between loads whose live edge moved, per kind of playlist', () => {
		const w = new EdgeWaits();
		expect(w.loaded('main', 0, 1000, 10.2)).toBe(0);
		expect(w.loaded('audio', 0, 1050, 10.2)).toBe(0);
		expect(w.loaded('main', 0, 1200, 10.4)).toBeCloseTo(0.2, 6);
		// A reload that brought nothing new (a timed-out blocking reload asked again) does not end the wait.
		expect(w.loaded('main', 0, 1800, 10.4)).toBe(0);
		expect(w.loaded('main', 0, 2100, 11.2)).toBeCloseTo(0.9, 6);
		expect(w.loaded('audio', 0, 2150, 11.2)).toBeCloseTo(1.1, 6);
	});

	it('starts over on another rendition and after a reset', () => {
		const w = new EdgeWaits();
		w.loaded('main', 0, 0, 10);
		expect(w.loaded('main', 1, 5000, 15)).toBe(0);
		expect(w.loaded('main', 1, 5200, 15.2)).toBeCloseTo(0.2, 6);
		w.reset();
		expect(w.loaded('main', 1, 9000, 19)).toBe(0);
		expect(w.loaded('main', 1, 9200, 19.2)).toBeCloseTo(0.2, 6);
	});
});
