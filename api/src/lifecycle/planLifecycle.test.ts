import { describe, expect, it } from 'vitest';
import { planLifecycle, type LifecycleState } from './planLifecycle.js';

const times = { idleEndMs: 600_000, maxLiveMs: 43_200_000, warnMs: 60_000 };
const fresh: LifecycleState = { idleSince: null, warned: null };
const plan = (nowMs: number, moderatorsConnected: boolean, state: LifecycleState = fresh, t = times) => planLifecycle({ startedAt: 0, nowMs, moderatorsConnected, state, times: t });

describe('planLifecycle', () => {
	it('a space with a host connected carries on, and says nothing', () => {
		expect(plan(1000, true)).toEqual({ state: fresh, announce: null, end: null });
	});

	it('the idle clock starts when no host or co-host is connected, warns a minute before, and ends', () => {
		const started = plan(10_000, false);
		expect(started).toEqual({ state: { idleSince: 10_000, warned: null }, announce: null, end: null });
		const warned = plan(550_000, false, started.state);
		expect(warned.announce).toEqual({ reason: 'idle', endsAt: 610_000 });
		// Warned once: the next sweeps say nothing more.
		expect(plan(560_000, false, warned.state).announce).toBeNull();
		expect(plan(610_000, false, warned.state).end).toBe('idle');
	});

	it('a host coming back cancels the warning and stops the clock', () => {
		const warned = plan(560_000, false, { idleSince: 0, warned: null });
		expect(warned.announce).toEqual({ reason: 'idle', endsAt: 600_000 });
		const back = plan(570_000, true, warned.state);
		expect(back).toEqual({ state: fresh, announce: 'cancel', end: null });
	});

	it('an idle end nearer than the warning time is warned of at once', () => {
		const short = { ...times, idleEndMs: 5000 };
		expect(plan(1000, false, fresh, short)).toEqual({ state: { idleSince: 1000, warned: { reason: 'idle', endsAt: 6000 } }, announce: { reason: 'idle', endsAt: 6000 }, end: null });
	});

	it('the longest live time ends the space even with a host connected, warned first', () => {
		expect(plan(43_140_000, true).announce).toEqual({ reason: 'max_duration', endsAt: 43_200_000 });
		expect(plan(43_200_000, true).end).toBe('max_duration');
	});

	it('the nearer of the two ends is the one warned of', () => {
		const state = { idleSince: 42_700_000, warned: null };
		expect(plan(43_150_000, false, state).announce).toEqual({ reason: 'max_duration', endsAt: 43_200_000 });
	});
});
