import { describe, expect, it } from 'vitest';
import { defaultWatchdogLimits, judgeEncoder, usedNoCpu, type WatchedEncoder } from './encoderWatchdog.js';

const limits = defaultWatchdogLimits;
/** A started encoder at 100 s whose last progress was `quietMs` ago and which used `cpuShare` of a core since. */
function watched(quietMs: number, cpuShare: number | undefined, speed?: number): WatchedEncoder {
	return {
		nowMs: 100_000,
		spawnedAtMs: 0,
		startedAtMs: 1000,
		progressAtMs: 100_000 - quietMs,
		cpuMsOver: (ms) => (cpuShare === undefined ? undefined : ms * cpuShare),
		...(speed !== undefined && { speed }),
	};
}

describe('judgeEncoder()', () => {
	it('is starting until its first stats line, and did not start once its start-up deadline passes', () => {
		expect(judgeEncoder({ nowMs: 29_000, spawnedAtMs: 0, progressAtMs: 0, cpuMsOver: () => 0 }, limits)).toEqual({ health: 'starting' });
		expect(judgeEncoder({ nowMs: 30_000, spawnedAtMs: 0, progressAtMs: 0, cpuMsOver: () => 0 }, limits)).toMatchObject({ health: 'starting', kill: { kind: 'did-not-start' } });
	});

	it('is ok at real time, slow below 0.97', () => {
		expect(judgeEncoder(watched(500, 0.5, 1), limits)).toEqual({ health: 'ok' });
		expect(judgeEncoder(watched(500, 0.5), limits)).toEqual({ health: 'ok' });
		expect(judgeEncoder(watched(500, 0.5, 0.8), limits)).toEqual({ health: 'slow' });
	});

	it('a quiet encoder that works is slow, never killed before the hung bound; one that spins past it is killed as hung', () => {
		expect(judgeEncoder(watched(3000, 0.9), limits)).toEqual({ health: 'slow' });
		// Starved by busier processes: a nice-19 share of a core is still work.
		expect(judgeEncoder(watched(30_000, 0.014), limits)).toEqual({ health: 'slow' });
		expect(judgeEncoder(watched(59_000, 1), limits)).toEqual({ health: 'slow' });
		expect(judgeEncoder(watched(60_000, 1), limits)).toMatchObject({ health: 'slow', kill: { kind: 'stalled', reason: expect.stringContaining('hung') } });
	});

	it('a quiet encoder using no CPU is stuck, and killed once that lasts the stall timeout', () => {
		expect(judgeEncoder(watched(1500, 0), limits)).toEqual({ health: 'ok' });
		expect(judgeEncoder(watched(2500, 0), limits)).toEqual({ health: 'stuck' });
		expect(judgeEncoder(watched(5000, 0.004), limits)).toMatchObject({ health: 'stuck', kill: { kind: 'stalled', reason: expect.stringContaining('stuck') } });
	});

	it('without CPU figures (no /proc), a quiet encoder is never taken for stuck: only the hung bound applies', () => {
		expect(judgeEncoder(watched(10_000, undefined), limits)).toEqual({ health: 'slow' });
		expect(judgeEncoder(watched(60_000, undefined), limits).kill?.reason).toContain('hung');
	});
});

describe('usedNoCpu()', () => {
	it('allows half a percent of a core, 20 ms at least; unknown is not none', () => {
		expect(usedNoCpu(25, 5000)).toBe(true);
		expect(usedNoCpu(30, 5000)).toBe(false);
		expect(usedNoCpu(20, 1000)).toBe(true);
		expect(usedNoCpu(undefined, 5000)).toBe(false);
	});
});
