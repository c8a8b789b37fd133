import { describe, expect, it } from 'vitest';
import { EncoderDegradation, startLevel, type DegradationSample } from './EncoderDegradation.js';

/** Four levels: the default ladder's restore costs (720p, fps, preset, fps-low). */
const costs = [0, 1, 0.67, 0.4, 0.5];

/** Feeds one measurement a second from `fromS` to `toS` (inclusive) with `speed`; returns the changes decided. */
function feed(d: EncoderDegradation, fromS: number, toS: number, sample: Omit<DegradationSample, 'atMs'>) {
	const changes = [];
	for (let s = fromS; s <= toS; s++) {
		const change = d.sample({ ...sample, atMs: s * 1000 });
		if (change) changes.push({ atS: s, ...change });
	}
	return changes;
}

describe('EncoderDegradation', () => {
	it('sheds one level when the speed stays below 0.97 for 4 s, and nothing more until that level is on air', () => {
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		// The run's first 5 s on air are not judged (and 0.85× is not clearly slow while settling).
		expect(feed(d, 0, 4, { speed: 0.85 })).toEqual([]);
		const changes = feed(d, 5, 30, { speed: 0.9 });
		expect(changes).toEqual([{ atS: 9, direction: 'shed', from: 0, to: 1, speed: 0.9 }]);
		expect(d.level).toBe(1);
		// Level 1 goes on air at 31 s, still slow: one more level 5 + 4 s later.
		d.onAir(1, 31_000);
		expect(feed(d, 31, 60, { speed: 0.9 })).toEqual([{ atS: 40, direction: 'shed', from: 1, to: 2, speed: 0.9 }]);
	});

	it('sheds at once a run that has all but stopped (below 0.5× for 3 s), though it is still settling', () => {
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		expect(feed(d, 1, 2, { speed: 0.9 })).toEqual([]);
		// At 0.2× not even level 1 (half the cost) would keep up: it sheds two levels at once, the most one shed goes.
		expect(feed(d, 3, 10, { speed: 0.2 })).toEqual([{ atS: 6, direction: 'shed', from: 0, to: 2, speed: 0.2 }]);
		// A dip below 0.5 shorter than 3 s is not a stop.
		const e = new EncoderDegradation(costs);
		e.onAir(0, 0);
		expect(feed(e, 1, 2, { speed: 0.1 })).toEqual([]);
		expect(feed(e, 3, 4, { speed: 1 })).toEqual([]);
	});

	it('counts a settling run\'s clearly slow seconds: shed as soon as it has settled', () => {
		// On air at 0, settled at 5 s, 0.6× from 1 s on: slow for 4 s when it settles.
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		expect(feed(d, 1, 6, { speed: 0.6 })).toEqual([{ atS: 5, direction: 'shed', from: 0, to: 1, speed: 0.6 }]);
		// 0.9× while settling is a start-up burst, not yet slow: judged from 5 s, shed at 9 s.
		const e = new EncoderDegradation(costs);
		e.onAir(0, 0);
		expect(feed(e, 1, 10, { speed: 0.9 })).toEqual([{ atS: 9, direction: 'shed', from: 0, to: 1, speed: 0.9 }]);
	});

	it('sheds nothing for a run waiting on its inputs (main thread neither running nor waiting for a CPU), and sheds a starved one', () => {
		// Stopped for 10 s, its main thread idle: a stalled input, not work it cannot do.
		const waiting = new EncoderDegradation(costs);
		waiting.onAir(0, 0);
		expect(feed(waiting, 5, 15, { speed: 0.05, mediaS: 1, mainThread: { busy: 0.02, waiting: 0.05 }, waitingCores: 0.04 })).toEqual([]);
		// The input flows again: the time it waited is not counted as lag, and the run is judged afresh.
		for (let t = 16; t <= 40; t++) expect(waiting.sample({ atMs: t * 1000, speed: 1, mediaS: 2 + (t - 16), mainThread: { busy: 0.3, waiting: 0.1 }, waitingCores: 0.1 })).toBeUndefined();
		expect(waiting.level).toBe(0);
		// As slow, its main thread waiting for a CPU most of the time: the machine starves it, and shedding helps.
		const starved = new EncoderDegradation(costs);
		starved.onAir(0, 0);
		expect(feed(starved, 5, 15, { speed: 0.05, mainThread: { busy: 0.02, waiting: 0.87 }, waitingCores: 1.2 })).toEqual([{ atS: 8, direction: 'shed', from: 0, to: 2, speed: 0.05 }]);
		// Its main thread asleep, waiting for its own encoder threads, which the machine starves: starved too.
		const threads = new EncoderDegradation(costs);
		threads.onAir(0, 0);
		expect(feed(threads, 5, 15, { speed: 0.05, mainThread: { busy: 0.02, waiting: 0.05 }, waitingCores: 0.9 })).toEqual([{ atS: 8, direction: 'shed', from: 0, to: 2, speed: 0.05 }]);
		// Busy on a CPU all the time and slow: behind on work.
		const busy = new EncoderDegradation(costs);
		busy.onAir(0, 0);
		expect(feed(busy, 5, 15, { speed: 0.9, mainThread: { busy: 0.95, waiting: 0 } })).toEqual([{ atS: 9, direction: 'shed', from: 0, to: 1, speed: 0.9 }]);
	});

	it('sheds as far as the speed says, one level at least', () => {
		// Level 1 costs 0.5 of level 0, level 2 0.3: at 0.6× (× 0.9 margin) level 1 fits, at 0.4× level 2.
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		expect(feed(d, 5, 10, { speed: 0.6 })).toEqual([{ atS: 9, direction: 'shed', from: 0, to: 1, speed: 0.6 }]);
		const e = new EncoderDegradation(costs);
		e.onAir(0, 0);
		expect(feed(e, 5, 10, { speed: 0.4 })).toEqual([{ atS: 8, direction: 'shed', from: 0, to: 2, speed: 0.4 }]);
		// From level 3, only one is left.
		const f = new EncoderDegradation(costs, {}, 3);
		f.onAir(3, 0);
		expect(feed(f, 5, 10, { speed: 0.1 })).toEqual([{ atS: 8, direction: 'shed', from: 3, to: 4, speed: 0.1 }]);
	});

	it('sheds two levels when a run of the level wanted never started, none past the last', () => {
		const d = new EncoderDegradation(costs);
		expect(d.startFailed(30_000)).toEqual({ direction: 'shed', from: 0, to: 2, speed: 0 });
		expect(d.level).toBe(2);
		expect(d.startFailed(60_000)).toMatchObject({ from: 2, to: 4 });
		expect(d.startFailed(90_000)).toBeUndefined();
	});

	it('ignores brief dips below real time', () => {
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		const changes = [];
		for (let s = 5; s < 120; s++) {
			// Three slow seconds in every ten.
			const change = d.sample({ atMs: s * 1000, speed: s % 10 < 3 ? 0.8 : 1 });
			if (change) changes.push(change);
		}
		expect(changes).toEqual([]);
		expect(d.level).toBe(0);
	});

	it('sheds when the output falls 1.5 s behind the wall clock, though each window is above the threshold', () => {
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		const changes = [];
		// 0.98× for a minute: 20 ms lost a second.
		for (let s = 5; s <= 120; s++) {
			const change = d.sample({ atMs: s * 1000, speed: 0.98, mediaS: (s - 5) * 0.98 });
			if (change) changes.push({ atS: s, ...change });
		}
		expect(changes).toEqual([{ atS: 80, direction: 'shed', from: 0, to: 1, speed: 0.98, lagMs: 1500 }]);
	});

	it('sheds an encode that keeps real time on average but reaches the packager in bursts', () => {
		// 1.0× all along, by the encoder's own progress; its parts reach the packager every 4 s, each burst 0.6 s late
		// at best (the encode's latency), the output growing later in between (polled every 250 ms).
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		const changes = [];
		for (let t = 0; t <= 60_000; t += 250) {
			if (t % 1000 === 0) expect(d.sample({ atMs: t, speed: 1, mediaS: t / 1000 })).toBeUndefined();
			const change = d.outputLag({ atMs: t, lagMs: 600 + (t % 4000) });
			if (change) changes.push({ atMs: t, ...change });
		}
		// Judged from 5 s on (settled), when the output was 1.6 s late: 1.5 s later than that at 6.5 s, before its burst
		// (once); again 1.5 s over the burst at 8 s at 9.5 s: twice within 30 s.
		expect(changes).toEqual([{ atMs: 9500, direction: 'shed', from: 0, to: 1, speed: 1, outputLagMs: 1500 }]);
	});

	it('keeps the level while the output is as late as the encode always is, and holds a restore while it jitters', () => {
		// Each burst 1 s apart, the output up to 0.98 s later than its quickest: under the 1.5 s that sheds.
		const steady = new EncoderDegradation(costs);
		steady.onAir(0, 0);
		for (let t = 0; t <= 120_000; t += 250) expect(steady.outputLag({ atMs: t, lagMs: 2000 + (t % 1000) * 1.3 })).toBeUndefined();
		// One stall of 6 s (a busy moment, such as the space's start), then steady: nothing shed.
		const once = new EncoderDegradation(costs);
		once.onAir(0, 0);
		for (let t = 0; t <= 60_000; t += 250) expect(once.outputLag({ atMs: t, lagMs: 600 + (t >= 6000 && t < 12_000 ? t - 6000 : (t % 1000) * 0.5) })).toBeUndefined();
		// A stall with the encoder's main thread idle is its input, not its work: nothing shed.
		const waiting = new EncoderDegradation(costs);
		waiting.onAir(0, 0);
		for (let t = 5000; t <= 30_000; t += 250) expect(waiting.outputLag({ atMs: t, lagMs: 500 + (t - 5000), mainThread: { busy: 0.01, waiting: 0.02 }, waitingCores: 0.02 })).toBeUndefined();
		// At level 1 with headroom, a restore waits for the output to come within 0.75 s of its quickest for 20 s.
		const jittery = new EncoderDegradation(costs, {}, 1);
		jittery.onAir(1, 0);
		const restores: number[] = [];
		for (let t = 0; t <= 90_000; t += 250) {
			const lagMs = 500 + (t < 40_000 ? (t % 1000) * 1.2 : (t % 1000) * 0.3);
			if (t % 1000 === 0 && jittery.sample({ atMs: t, speed: 1, encoderCores: 0.3, idleCores: 1.5 })) restores.push(t);
			expect(jittery.outputLag({ atMs: t, lagMs })).toBeUndefined();
		}
		expect(restores).toEqual([60_000]);
	});

	it('restores one level only after 20 s of real-time speed with the idle CPU the level costs', () => {
		const d = new EncoderDegradation(costs, {}, 2);
		d.onAir(2, 0);
		// Real time, but the machine has 0.3 idle cores and restoring frame rate needs 0.5 × 0.67 × 1.25 = 0.42.
		expect(feed(d, 5, 60, { speed: 1, encoderCores: 0.5, idleCores: 0.3 })).toEqual([]);
		// Idle CPU comes back: 20 s later, one level is restored.
		const changes = feed(d, 61, 100, { speed: 1, encoderCores: 0.5, idleCores: 1 });
		expect(changes).toEqual([{ atS: 81, direction: 'restore', from: 2, to: 1, speed: 1, idleCores: 1, neededCores: 0.42 }]);
		expect(d.level).toBe(1);
	});

	it('a slow second resets the wait for headroom', () => {
		const d = new EncoderDegradation(costs, {}, 1);
		d.onAir(1, 0);
		expect(feed(d, 5, 20, { speed: 1 })).toEqual([]);
		expect(feed(d, 21, 21, { speed: 0.9 })).toEqual([]);
		expect(feed(d, 22, 60, { speed: 1 })).toEqual([{ atS: 42, direction: 'restore', from: 1, to: 0, speed: 1 }]);
	});

	it('does not oscillate: a level shed again soon after its restore waits twice as long before the next restore', () => {
		const d = new EncoderDegradation(costs);
		const changes: { atS: number; direction: string; to: number }[] = [];
		let onAir = -1;
		// A machine that keeps level 0 only at 0.9× and level 1 at real time with idle CPU to spare (it looks as if
		// level 0 would fit), for 15 minutes; each level goes on air 2 s after it is decided.
		let pendingAtS: number | undefined;
		for (let s = 0; s < 900; s++) {
			if (onAir !== d.level && (pendingAtS === undefined || s >= pendingAtS + 2)) {
				onAir = d.level;
				d.onAir(onAir, s * 1000);
				pendingAtS = undefined;
			}
			const change = d.sample({ atMs: s * 1000, speed: onAir === 0 ? 0.9 : 1, encoderCores: 0.4, idleCores: 1.5 });
			if (change) {
				changes.push({ atS: s, direction: change.direction, to: change.to });
				pendingAtS = s;
			}
		}
		const restores = changes.filter((c) => c.direction === 'restore').map((c) => c.atS);
		// Each restore waits longer than the one before (20 s, 40 s, 80 s, 160 s, 300 s at most).
		const gaps = restores.slice(1).map((at, i) => at - restores[i]!);
		for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1]!);
		// It does try again (the machine may have changed), ever more rarely: 5 restores in 15 minutes.
		expect(restores).toEqual([36, 94, 192, 370, 688]);
		// Never two changes within 9 s (settle 5 s + 4 s slow), never a restore within 20 s of a change.
		for (let i = 1; i < changes.length; i++) expect(changes[i]!.atS - changes[i - 1]!.atS).toBeGreaterThanOrEqual(9);
		for (const [i, c] of changes.entries()) if (c.direction === 'restore' && i > 0) expect(c.atS - changes[i - 1]!.atS).toBeGreaterThanOrEqual(20);
	});

	it('never sheds past its last level nor restores past level 0', () => {
		const d = new EncoderDegradation([0, 1]);
		d.onAir(0, 0);
		expect(feed(d, 5, 20, { speed: 0.5 })).toHaveLength(1);
		d.onAir(1, 21_000);
		expect(feed(d, 21, 60, { speed: 0.5 })).toEqual([]);
		const full = new EncoderDegradation([0, 1]);
		full.onAir(0, 0);
		expect(feed(full, 5, 60, { speed: 1, encoderCores: 0.1, idleCores: 2 })).toEqual([]);
	});

	it('judges nothing while a decided level waits to go on air', () => {
		const d = new EncoderDegradation(costs);
		d.onAir(0, 0);
		expect(feed(d, 5, 9, { speed: 0.5 })).toHaveLength(1);
		// Level 0 is still on air: no second shed, however slow.
		expect(feed(d, 10, 60, { speed: 0.1 })).toEqual([]);
	});

	it('refuses a level it does not have', () => {
		expect(() => new EncoderDegradation(costs, {}, 5)).toThrow(/no level 5/);
		expect(() => new EncoderDegradation([])).toThrow(/at least one level/);
	});
});

describe('startLevel', () => {
	it('starts with everything on a machine with room, with what fits on a busy one', () => {
		expect(startLevel(1.6, 1, costs)).toBe(0);
		expect(startLevel(1, 1, costs)).toBe(0);
		// 720p shed costs half (restore cost 1).
		expect(startLevel(0.6, 1, costs)).toBe(1);
		expect(startLevel(0.4, 1, costs)).toBe(2);
		expect(startLevel(0, 1, costs)).toBe(4);
	});

	it('starts with everything when told to, or when it cannot tell', () => {
		expect(startLevel(0.1, 0, costs)).toBe(0);
		expect(startLevel(undefined, 1, costs)).toBe(0);
		expect(startLevel(0.1, 1, [0])).toBe(0);
	});
});
