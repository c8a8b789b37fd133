import { describe, expect, it } from 'vitest';
import { PcmArrivalClock } from './PcmArrivalClock.js';

describe('PcmArrivalClock', () => {
	it('maps stream time to the arrival of the chunk that carried it, minus its distance to the chunk end', () => {
		const clock = new PcmArrivalClock();
		clock.arrived(320, 10_020); // 0-20 ms of stream
		clock.arrived(320, 10_040); // 20-40 ms
		expect(clock.wallMsAt(0)).toBe(10_000);
		expect(clock.wallMsAt(30)).toBe(10_030);
		expect(clock.samples).toBe(640);
	});

	it('follows a pause in the stream (a muted speaker) by the chunks after it', () => {
		const clock = new PcmArrivalClock();
		clock.arrived(16_000, 5_000); // 1 s of stream, ending at 5 s
		clock.arrived(16_000, 65_000); // the next second arrived a minute later
		expect(clock.wallMsAt(500)).toBe(4_500);
		expect(clock.wallMsAt(1500)).toBe(64_500);
	});

	it('maps a time past the last chunk from the last anchor', () => {
		const clock = new PcmArrivalClock();
		clock.arrived(1600, 1_100);
		expect(clock.wallMsAt(200)).toBe(1_200);
	});

	it('forgets old chunks beyond its bound but still maps recent ones', () => {
		const clock = new PcmArrivalClock(10);
		for (let i = 1; i <= 100; i++) clock.arrived(160, i * 10);
		expect(clock.wallMsAt(995)).toBe(995);
		// Forgotten: mapped from the oldest anchor kept, still monotonic.
		expect(clock.wallMsAt(10)).toBeLessThan(clock.wallMsAt(995));
	});
});
