import { describe, expect, it } from 'vitest';
import { blockedMs, LiveTarget } from './liveTarget.js';

describe('LiveTarget', () => {
	it('adds each stall\'s length to the margin, at least 0.3 s and at most 3 s in all', () => {
		const t = new LiveTarget(0);
		expect(t.extraS(0)).toBe(0);
		t.stalled(1000, 0);
		// A second stalled event while the first is open is the same stall.
		t.stalled(1500, 0);
		t.flowing(2200);
		expect(t.extraS(2200)).toBeCloseTo(1.2, 6);
		t.stalled(3000, 0);
		t.flowing(3050);
		expect(t.extraS(3050)).toBeCloseTo(1.5, 6);
		t.stalled(4000, 0);
		t.flowing(9000);
		expect(t.extraS(9000)).toBe(3);
	});

	it('counts no stall with media buffered ahead: the listener\'s machine could not play it, margin would not help', () => {
		const t = new LiveTarget(0);
		t.stalled(1000, 3.4);
		t.flowing(1100);
		expect(t.extraS(1100)).toBe(0);
		t.stalled(2000, 0.05);
		t.flowing(2500);
		expect(t.extraS(2500)).toBe(0.5);
	});

	it('gives the margin back 0.1 s every 10 s once playback has flowed for 30 s', () => {
		const t = new LiveTarget(0);
		t.stalled(0, 0);
		t.flowing(500);
		expect(t.extraS(29_000)).toBe(0.5);
		expect(t.extraS(30_500)).toBe(0.4);
		expect(t.extraS(35_000)).toBe(0.4);
		expect(t.extraS(40_500)).toBe(0.3);
		// A stall in between starts the calm over.
		t.stalled(41_000, 0);
		t.flowing(41_100);
		expect(t.extraS(60_000)).toBe(0.6);
		expect(t.extraS(71_100)).toBe(0.5);
		// Nothing is given back while a stall is open.
		t.stalled(200_000, 0);
		expect(t.extraS(300_000)).toBe(0.5);
	});

	it('takes half as much margin again as the page was blocked, without adding up, and starts the calm over', () => {
		const t = new LiveTarget(0);
		t.blocked(1000, 0.8);
		expect(t.extraS(1000)).toBe(1.2);
		// A shorter block needs no more.
		t.blocked(2000, 0.5);
		expect(t.extraS(2000)).toBe(1.2);
		t.blocked(3000, 1.2);
		expect(t.extraS(3000)).toBe(1.8);
		// Given back only after 30 s without a block or a stall.
		expect(t.extraS(32_000)).toBe(1.8);
		expect(t.extraS(33_000)).toBe(1.7);
		t.blocked(40_000, 9);
		expect(t.extraS(40_000)).toBe(3);
	});

	it('takes enough margin that a wait for new media as long as one seen would not empty the buffer', () => {
		const t = new LiveTarget(0);
		// Parts every 0.2 s fit in PART-HOLD-BACK 0.6 s with room to spare.
		t.late(1000, 0.2, 0.6);
		expect(t.extraS(1000)).toBe(0);
		// A 0.75 s wait: 0.75 + 0.2 to fetch the part that ended it, less the 0.6 s the stream's target holds.
		t.late(2000, 0.75, 0.6);
		expect(t.extraS(2000)).toBeCloseTo(0.35, 6);
		t.late(3000, 0.5, 0.6);
		expect(t.extraS(3000)).toBeCloseTo(0.35, 6);
		// A stall through the same hiccup adds its length to the margin it began with, not to the wait's as well.
		t.stalled(4000, 0);
		t.late(6400, 2.5, 0.6);
		expect(t.extraS(6400)).toBeCloseTo(2.1, 6);
		t.flowing(6600);
		expect(t.extraS(6600)).toBeCloseTo(2.95, 6);
		// Given back once calm, like any margin; at most 3 s.
		expect(t.extraS(36_000)).toBeCloseTo(2.95, 6);
		expect(t.extraS(36_700)).toBeCloseTo(2.85, 6);
		t.late(40_000, 8, 0.6);
		expect(t.extraS(40_000)).toBe(3);
	});

	it('counts a tick 0.5-5 s after the one before as a block, only in a page in sight throughout', () => {
		expect(blockedMs(undefined, { atMs: 1000, visible: true })).toBe(0);
		expect(blockedMs({ atMs: 0, visible: true }, { atMs: 250, visible: true })).toBe(0);
		expect(blockedMs({ atMs: 0, visible: true }, { atMs: 1200, visible: true })).toBe(1200);
		// Hidden at either end (or in between, which the player marks on the tick before): slowed timers on purpose.
		expect(blockedMs({ atMs: 0, visible: false }, { atMs: 1200, visible: true })).toBe(0);
		expect(blockedMs({ atMs: 0, visible: true }, { atMs: 1200, visible: false })).toBe(0);
		// A suspended page (a locked phone) is not a page starved of CPU.
		expect(blockedMs({ atMs: 0, visible: true }, { atMs: 60_000, visible: true })).toBe(0);
	});

	it('starts again from the stream\'s own target on a new load', () => {
		const t = new LiveTarget(0);
		t.stalled(0, 0);
		t.flowing(2000);
		t.reset(3000);
		expect(t.extraS(3000)).toBe(0);
		t.flowing(4000);
		expect(t.extraS(4000)).toBe(0);
	});
});
