import { describe, expect, it } from 'vitest';
import { drainedStopSignal } from './replayDrain.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('drainedStopSignal()', () => {
	it('stops the encoder only once the packaged media reaches the moment of the stop', async () => {
		const stop = new AbortController();
		let mediaEndMs = Date.now() - 10_000; // a slow encoder, 10 s behind
		const signal = drainedStopSignal(stop.signal, { mediaEndMs: () => mediaEndMs, pollMs: 5, idleMs: 1000 });
		expect(signal.aborted).toBe(false);
		stop.abort();
		// It catches up on what it had not read yet, 2 s of media at a time: still short of the stop after 8 s of it.
		for (let i = 0; i < 4; i++) {
			mediaEndMs += 2000;
			await sleep(20);
			expect(signal.aborted, `media ${(i + 1) * 2} s in`).toBe(false);
		}
		mediaEndMs += 2000;
		await expect.poll(() => signal.aborted, { timeout: 2000, interval: 5 }).toBe(true);
	});

	it('stops at once without media, and when nothing more comes', async () => {
		const stop = new AbortController();
		stop.abort();
		expect(drainedStopSignal(stop.signal, { mediaEndMs: () => 0 }).aborted).toBe(true);
		const behindMs = Date.now() - 60_000;
		const stalled = drainedStopSignal(stop.signal, { mediaEndMs: () => behindMs, pollMs: 5, idleMs: 50 });
		expect(stalled.aborted).toBe(false);
		await expect.poll(() => stalled.aborted, { timeout: 2000, interval: 5 }).toBe(true);
	});

	it('never waits longer than its bound, however slowly the media advances', async () => {
		const stop = new AbortController();
		let mediaEndMs = Date.now() - 60_000;
		const signal = drainedStopSignal(stop.signal, { mediaEndMs: () => (mediaEndMs += 1), pollMs: 5, idleMs: 1000, maxWaitMs: 80 });
		stop.abort('space ended');
		await sleep(40);
		expect(signal.aborted).toBe(false);
		await expect.poll(() => signal.aborted, { timeout: 2000, interval: 5 }).toBe(true);
		expect(signal.reason).toBe('space ended');
	});
});
