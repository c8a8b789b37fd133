/*
 * Captions are timed on the wall clock (when the speech was heard); players place them on the media timeline. The
 * packager stamps every segment with the wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME), so a
 * segment is the bridge: within it, media time and wall time advance together. Across a discontinuity (an encoder
 * run replaced, a takeover) media time starts over and wall time may jump, which is why each segment maps only the
 * instants it covers, on its own run's clock.
 */

/** A segment as the mapping needs it: where it starts on the media timeline and on the wall clock. */
export interface SegmentClock {
	/** Media time of the segment's first sample (the fMP4 `tfdt` clock of its run), seconds. */
	startMediaS: number;
	/** Its program-date-time, ms since the epoch. */
	pdtMs: number;
}

/** Media time (seconds, on the run of `segment`) of the wall-clock instant `wallMs`. */
export function wallClockToMediaS(wallMs: number, segment: SegmentClock): number {
	return segment.startMediaS + (wallMs - segment.pdtMs) / 1000;
}

/** A segment of a finished timeline (a replay), in playlist order. */
export interface TimelineSegmentClock {
	pdtMs: number;
	durationS: number;
}

/**
 * Position (seconds from the timeline's first media instant) of `wallMs` on a timeline made of `segments` played
 * back to back, as a replay plays them (gap placeholders count: they have a duration on the replay's timeline). An
 * instant inside a segment maps into it; one in a gap between segments (wall time an encoder restart or a takeover
 * lost) maps to the start of the next segment; one before the first segment keeps its real offset (negative), and one
 * after the last its real offset past the end — the caller decides what to do with time the replay does not hold
 * (`buildTranscript` clips to it). Segments are searched in order, so the result never goes backwards when wall time
 * jumps back at a discontinuity. No segments: 0.
 */
export function wallClockToTimelineS(wallMs: number, segments: readonly TimelineSegmentClock[]): number {
	const first = segments[0];
	if (!first) return 0;
	if (wallMs < first.pdtMs) return (wallMs - first.pdtMs) / 1000;
	let startS = 0;
	let endMs = first.pdtMs;
	for (const segment of segments) {
		if (wallMs < segment.pdtMs) return startS;
		endMs = segment.pdtMs + segment.durationS * 1000;
		if (wallMs < endMs) return startS + (wallMs - segment.pdtMs) / 1000;
		startS += segment.durationS;
	}
	return startS + (wallMs - endMs) / 1000;
}

/** Length of the timeline `segments` make, played back to back, s. */
export function timelineDurationS(segments: readonly TimelineSegmentClock[]): number {
	return segments.reduce((sum, segment) => sum + segment.durationS, 0);
}
