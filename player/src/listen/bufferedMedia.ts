/**
 * What the element holds around its playhead. A live listener stopped by a hole in its buffer with media past it is
 * not waiting for the network: hls.js skips a hole by itself only when it can account for every fragment in it, and
 * the gap segments an encoder run switch leaves (EXT-X-GAP: capture time a starved run never put on air) or an audio
 * rendition that lost more there than the video are holes it sat in until the player's watchdog seeked 3 s later
 * (`bench:pressure`: stalls of 3.2–3.4 s with 4–6 s buffered past the hole). The player steps over such a hole itself.
 */

/** Media buffered from `t` on without a hole, s (0 when `t` is not buffered). */
export function bufferedAheadS(ranges: TimeRanges, t: number): number {
	for (let i = 0; i < ranges.length; i++) {
		if (ranges.start(i) <= t && t < ranges.end(i)) return ranges.end(i) - t;
	}
	return 0;
}

/**
 * Where the media after a hole at `t` begins: the start of the next buffered range within `maxS`, when less than
 * `nearEndS` is buffered at `t` (a playhead at the end of what it has); else undefined.
 */
export function holeEndS(ranges: TimeRanges, t: number, maxS: number, nearEndS = 0.1): number | undefined {
	if (bufferedAheadS(ranges, t) >= nearEndS) return undefined;
	for (let i = 0; i < ranges.length; i++) {
		const start = ranges.start(i);
		if (start > t) return start - t <= maxS ? start : undefined;
	}
	return undefined;
}

/** A span of a playlist's media: fragment or part (hls.js' `gap` is set for EXT-X-GAP and GAP=YES). */
export interface PlaylistSpan {
	start: number;
	duration: number;
	gap?: boolean;
}

/** Whether media time `from`–`to` overlaps a span the playlist marks as a gap (no media will ever come for it). */
export function overlapsGap(spans: readonly PlaylistSpan[], from: number, to: number): boolean {
	return spans.some((s) => s.gap === true && s.start < to && s.start + s.duration > from);
}

export interface HoleSkipSettings {
	/** A hole the playlists mark as a gap is stepped over after this long stopped in it, ms. Default 250. */
	gapMs: number;
	/**
	 * Any other hole with media past it, after this long (its media may still be on its way: a part of one rendition
	 * loading late), ms. Default 1500; the watchdog's first step is at 3000.
	 */
	holeMs: number;
	/** Holes longer than this are not stepped over (the watchdog and hls.js see to them), s. Default 5. */
	maxHoleS: number;
	/** How far into the media after the hole to land, s. Default 0.05. */
	paddingS: number;
}

export const holeSkipDefaults: HoleSkipSettings = { gapMs: 250, holeMs: 1500, maxHoleS: 5, paddingS: 0.05 };

/**
 * Where to seek to leave a hole the playhead has been stopped in for `stoppedMs`, or undefined to wait: `isGap`
 * says whether the playlists mark the hole's media time as a gap.
 */
export function planHoleSkip(
	ranges: TimeRanges,
	t: number,
	stoppedMs: number,
	isGap: (from: number, to: number) => boolean,
	settings: HoleSkipSettings = holeSkipDefaults,
): number | undefined {
	const end = holeEndS(ranges, t, settings.maxHoleS);
	if (end === undefined) return undefined;
	const waitMs = isGap(t, end) ? settings.gapMs : settings.holeMs;
	return stoppedMs >= waitMs ? end + settings.paddingS : undefined;
}
