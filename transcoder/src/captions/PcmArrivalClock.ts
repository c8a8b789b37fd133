import { captionSampleRateHz } from './CaptionEngine.js';

/** Where a chunk of PCM ended on the stream (samples) and when it arrived (wall clock, ms). */
interface Anchor {
	endSample: number;
	wallMs: number;
}

/**
 * Maps a speaker's PCM stream position (what the engine's times count) back to the wall clock. The stream has no
 * gaps of its own — a muted speaker simply stops sending and the decoder stops writing — so positions are anchored
 * to when each chunk arrived: a sample was heard about its distance to the chunk's end before the chunk arrived.
 * Captions then carry the wall-clock instants the packager's program-date-times are made of.
 */
export class PcmArrivalClock {
	readonly #anchors: Anchor[] = [];
	readonly #maxAnchors: number;
	#samples = 0;

	/** `maxAnchors`: how many chunks back a time can be mapped (default 3000: a minute of 20 ms chunks). */
	constructor(maxAnchors = 3000) {
		this.#maxAnchors = maxAnchors;
	}

	/** Samples fed so far: the stream position of the next chunk. */
	get samples(): number {
		return this.#samples;
	}

	/** Records that `count` samples arrived at `wallMs`. */
	arrived(count: number, wallMs: number): void {
		if (count <= 0) return;
		this.#samples += count;
		this.#anchors.push({ endSample: this.#samples, wallMs });
		// Drop in batches: a shift per chunk would make this quadratic.
		if (this.#anchors.length > this.#maxAnchors * 1.25) this.#anchors.splice(0, this.#anchors.length - this.#maxAnchors);
	}

	/** The wall-clock time (ms) at which the stream was at `streamMs`. */
	wallMsAt(streamMs: number): number {
		const sample = (streamMs * captionSampleRateHz) / 1000;
		const anchors = this.#anchors;
		if (anchors.length === 0) return Date.now();
		// First anchor whose chunk ends at or after the sample (binary search); past the end: the last one.
		let lo = 0;
		let hi = anchors.length - 1;
		if (anchors[hi]!.endSample < sample) lo = hi;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if (anchors[mid]!.endSample >= sample) hi = mid;
			else lo = mid + 1;
		}
		const anchor = anchors[lo]!;
		return Math.round(anchor.wallMs - ((anchor.endSample - sample) * 1000) / captionSampleRateHz);
	}
}
