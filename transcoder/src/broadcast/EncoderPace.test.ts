import { describe, expect, it } from 'vitest';
import { EncoderPace } from './EncoderPace.js';

describe('EncoderPace', () => {
	it('measures speed and fps over its window, not since the start', () => {
		const pace = new EncoderPace(3000);
		// A slow start (ffmpeg's cumulative speed would stay below 1 for long), then real time, then 0.5×.
		expect(pace.add({ timeS: 0, frame: 0 }, 0)).toBeUndefined();
		expect(pace.add({ timeS: 0.2, frame: 5 }, 1000)).toEqual({ speed: 0.2, fps: 5, spanMs: 1000 });
		for (let s = 2; s <= 6; s++) pace.add({ timeS: 0.2 + (s - 1), frame: 5 + (s - 1) * 25 }, s * 1000);
		expect(pace.pace).toEqual({ speed: 1, fps: 25, spanMs: 3000 });
		for (let s = 7; s <= 10; s++) pace.add({ timeS: 5.2 + (s - 6) * 0.5, frame: 130 + (s - 6) * 12.5 }, s * 1000);
		expect(pace.pace).toEqual({ speed: 0.5, fps: 12.5, spanMs: 3000 });
	});

	it('with a frame rate, is as slow as its frames: audio keeping time does not hide a stalled picture', () => {
		const pace = new EncoderPace(3000, 25);
		pace.add({ timeS: 0, frame: 0 }, 0);
		expect(pace.add({ timeS: 1, frame: 10 }, 1000)).toEqual({ speed: 0.4, fps: 10, spanMs: 1000 });
	});

	it('has no fps for an audio-only encode', () => {
		const pace = new EncoderPace();
		pace.add({ timeS: 1 }, 0);
		expect(pace.add({ timeS: 2 }, 1000)).toEqual({ speed: 1, spanMs: 1000 });
	});
});
