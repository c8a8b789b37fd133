import { describe, expect, it } from 'vitest';
import { panFor } from './spatialPan.js';

describe('panFor', () => {
	it('spreads speakers left to right across the stage', () => {
		expect([0, 1, 2].map((i) => panFor(i, 3))).toEqual([-0.8, 0, 0.8]);
		expect(panFor(0, 2)).toBe(-0.8);
	});

	it('centres a lone or unknown speaker', () => {
		expect(panFor(0, 1)).toBe(0);
		expect(panFor(-1, 4)).toBe(0);
	});
});
