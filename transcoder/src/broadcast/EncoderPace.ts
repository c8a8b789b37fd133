import type { FfmpegStats } from './ffmpegOutput.js';

/** How fast an encode goes now, from its latest stats lines. */
export interface Pace {
	/**
	 * Media time written per wall-clock second over the window (1 = real time); with a frame rate given, the lower of
	 * that and frames written per second over the frame rate (ffmpeg's `time=` is the furthest of its outputs: audio
	 * keeping time hid a composite that had stopped).
	 */
	speed: number;
	/** Video frames written per wall-clock second over the window (absent for audio-only encodes). */
	fps?: number;
	/** Wall-clock span the figures cover, ms. */
	spanMs: number;
}

/**
 * The encoder's pace over its last few seconds, from ffmpeg's stats lines and when they arrived. ffmpeg's own
 * `speed=` and `fps=` are averages since it started: a live encode that took a second to start still shows 0.9× ten
 * seconds in, and one that has just fallen behind still shows 1×. These are differences over a sliding window.
 */
export class EncoderPace {
	readonly #windowMs: number;
	readonly #samples: { atMs: number; timeS: number; frame?: number }[] = [];

	readonly #frameRate: number | undefined;

	/**
	 * `windowMs`: the span figures are taken over (default 3000; at least two stats lines a second apart).
	 * `frameRate`: the video frame rate the encode should write (absent: media time alone tells the speed).
	 */
	constructor(windowMs = 3000, frameRate?: number) {
		this.#windowMs = windowMs;
		this.#frameRate = frameRate;
	}

	/** A stats line that arrived at `atMs`; returns the pace over the window once it spans a second. */
	add(stats: FfmpegStats, atMs: number): Pace | undefined {
		this.#samples.push({ atMs, timeS: stats.timeS, ...(stats.frame !== undefined && { frame: stats.frame }) });
		// Keep the newest sample at or before the window's start, so the window is covered whole.
		while (this.#samples.length > 2 && this.#samples[1]!.atMs <= atMs - this.#windowMs) this.#samples.shift();
		return this.pace;
	}

	get pace(): Pace | undefined {
		const first = this.#samples[0];
		const last = this.#samples.at(-1);
		if (!first || !last) return undefined;
		const spanMs = last.atMs - first.atMs;
		if (spanMs < 1000) return undefined;
		const fps = first.frame !== undefined && last.frame !== undefined ? Math.max(0, ((last.frame - first.frame) * 1000) / spanMs) : undefined;
		const mediaSpeed = Math.max(0, ((last.timeS - first.timeS) * 1000) / spanMs);
		const speed = fps !== undefined && this.#frameRate ? Math.min(mediaSpeed, fps / this.#frameRate) : mediaSpeed;
		return { speed: round(speed, 3), ...(fps !== undefined && { fps: round(fps, 1) }), spanMs };
	}
}

function round(value: number, digits: number): number {
	const scale = 10 ** digits;
	return Math.round(value * scale) / scale;
}
