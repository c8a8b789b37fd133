/** Where one part lands in the stream: its global part number and its media segment. */
export interface PartPlacement {
	/** Part number across the whole stream (names the part's file, so a preload hint is valid before its segment is known). */
	seq: number;
	/** Media sequence number of the segment the part belongs to. */
	msn: number;
	/** Index of the part inside its segment. */
	partIndex: number;
	/** The part opens a new segment (closing the previous one). */
	startsSegment: boolean;
	/** The new segment follows an encoder restart (`EXT-X-DISCONTINUITY`). */
	discontinuity: boolean;
}

/** Timing of one fragment, from its `tfdt` and `trun` boxes. */
export interface FragmentTiming {
	/** Media time of the first sample, seconds. */
	startS: number;
	durationS: number;
	/** The fragment starts with a sync sample (always true for audio). */
	independent: boolean;
}

export interface SegmenterOptions {
	partTargetS: number;
	segmentTargetS: number;
	/**
	 * Continue a stream another packager started (a broadcast taken over from a dead transcoder): the last part and
	 * segment numbers it published. The first fragment then opens segment `lastMsn + 1` after a discontinuity.
	 */
	resumeAfter?: { lastSeq: number; lastMsn: number };
}

/**
 * Decides segment boundaries from fragment timing alone. Segments start on an independent part at the first fragment
 * at or past a fixed grid (`t0 + k × segmentTarget`, within half a part), so renditions cut from one encode get the
 * same media sequence numbers even when their part lengths differ (audio-only parts are whole AAC frames).
 */
export class Segmenter {
	readonly #options: SegmenterOptions;
	#seq = -1;
	#msn = -1;
	#partIndex = 0;
	#nextBoundaryS = Number.NaN;
	#restartPending = false;
	/** Media time of the first frame of the run whose first part comes next (its GOP grid), if known. */
	#gridOriginS: number | undefined;

	constructor(options: SegmenterOptions) {
		this.#options = options;
		if (options.resumeAfter) {
			this.#seq = options.resumeAfter.lastSeq;
			this.#msn = options.resumeAfter.lastMsn;
			this.#restartPending = true;
		}
	}

	/**
	 * The next fragment comes from a new encoder run: it opens a new segment after a discontinuity, numbered
	 * `nextMsn` when given (renditions switching together keep sharing numbers), else the next one.
	 */
	restart(nextMsn?: number): void {
		if (nextMsn !== undefined) this.#msn = Math.max(this.#msn, nextMsn - 1);
		if (this.#seq >= 0 || nextMsn !== undefined) this.#restartPending = true;
	}

	/**
	 * The encoder run whose first part comes next began at media time `originS`. Its keyframes fall every segment
	 * target from there (after a first segment of independent parts), and a run goes on air at any part of that
	 * first segment: its segments follow that grid, not one from the part it went on air at, which put a keyframe
	 * just short of the boundary and made a first segment of up to two targets (EXTINF over the target duration).
	 */
	alignTo(originS: number): void {
		this.#gridOriginS = originS;
	}

	/** Media sequence number of the last segment placed (or resumed after), or -1. */
	get msn(): number {
		return this.#msn;
	}

	place(fragment: FragmentTiming): PartPlacement {
		const halfPart = this.#options.partTargetS / 2;
		const first = this.#seq < 0 || this.#restartPending;
		const atBoundary = fragment.independent && fragment.startS >= this.#nextBoundaryS - halfPart;
		const startsSegment = first || atBoundary;
		const discontinuity = this.#restartPending;
		this.#restartPending = false;
		this.#seq++;
		if (startsSegment) {
			this.#msn++;
			this.#partIndex = 0;
			if (first) {
				const origin = this.#gridOriginS;
				const target = this.#options.segmentTargetS;
				this.#nextBoundaryS = origin !== undefined && origin <= fragment.startS ? origin + Math.ceil((fragment.startS + halfPart - origin) / target) * target : fragment.startS + target;
				this.#gridOriginS = undefined;
			}
			while (this.#nextBoundaryS <= fragment.startS + halfPart) this.#nextBoundaryS += this.#options.segmentTargetS;
		} else {
			this.#partIndex++;
		}
		return { seq: this.#seq, msn: this.#msn, partIndex: this.#partIndex, startsSegment, discontinuity };
	}
}
