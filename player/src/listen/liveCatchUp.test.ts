import { describe, expect, it } from 'vitest';
import { planCatchUp, type CatchUpState } from './liveCatchUp.js';

/** A listener at media time 100 whose target (0.6 s behind the edge) is at `100 + behind`. */
function state(behind: number, more: Partial<CatchUpState> = {}): CatchUpState {
	return {
		latencyS: 0.6 + behind, targetS: 0.6, syncPositionS: 100 + behind, currentTimeS: 100, bufferedEndS: 100 + behind + 0.6,
		partS: 0.2, nowMs: 60_000, lastJumpAtMs: 10_000, jumps: 3, sinceLoadMs: 50_000, ...more,
	};
}

describe('planCatchUp()', () => {
	it('jumps to the target within the buffer in the first seconds after a load, once more than half a part behind', () => {
		const starting = { jumps: 0, lastJumpAtMs: undefined, sinceLoadMs: 2000 };
		expect(planCatchUp(state(0.15, starting))).toEqual({ jumpTo: 100.15 });
		// Not yet two parts buffered beyond the target: wait (catch up by rate meanwhile).
		expect(planCatchUp(state(0.15, { ...starting, bufferedEndS: 100.4 }))).toEqual({ rate: 1.03 });
		expect(planCatchUp(state(0.05, starting))).toEqual({ rate: 1 });
		// Later (a listener who paused a moment), the same distance is caught up by rate, not skipped.
		expect(planCatchUp(state(0.15, { ...starting, sinceLoadMs: 30_000 }))).toEqual({ rate: 1.03 });
	});

	it('plays faster in proportion to the distance, up to 1.1×, while moderately behind', () => {
		expect(planCatchUp(state(0.25))).toEqual({ rate: 1.05 });
		expect(planCatchUp(state(0.5))).toEqual({ rate: 1.1 });
		expect(planCatchUp(state(1.9))).toEqual({ rate: 1.1 });
	});

	it('plays at 1× on target, a little ahead of it, or with too little buffered ahead to speed up safely', () => {
		expect(planCatchUp(state(0.08))).toEqual({ rate: 1 });
		expect(planCatchUp(state(-0.15))).toEqual({ rate: 1 });
		expect(planCatchUp(state(1, { bufferedEndS: 100.25 }))).toEqual({ rate: 1 });
	});

	it('plays at 0.95× further ahead of a target moved back, to buffer the margin before it is needed', () => {
		expect(planCatchUp(state(-0.3))).toEqual({ rate: 0.95 });
		expect(planCatchUp(state(-1.5))).toEqual({ rate: 0.95 });
	});

	it('jumps to live when far behind, however many jumps came before, at most once per interval', () => {
		expect(planCatchUp(state(2.5, { jumps: 12 }))).toEqual({ jumpTo: 102.5 });
		// Unbuffered: hls.js loads from the target.
		expect(planCatchUp(state(6, { bufferedEndS: 101 }))).toEqual({ jumpTo: 106 });
		// A jump 4 s ago: catch up by rate until the interval has passed.
		expect(planCatchUp(state(6, { lastJumpAtMs: 56_000 }))).toEqual({ rate: 1.1 });
		expect(planCatchUp(state(6, { lastJumpAtMs: 50_000 }))).toEqual({ jumpTo: 106 });
	});
});
