/**
 * What the element holds around its playhead. A live listener stopped with nothing buffered where it stands is usually
 * waiting for the network, but not always: at an encoder run switch on a starved machine the stream has gap segments
 * (EXT-X-GAP: capture time that run never put on air), and hls.js did not load past them while the playhead stood
 * before them (`bench:pressure`: 3.5 s stopped, until the player's watchdog seeked); and hls.js steps over a hole in
 * its buffer only when it can account for every fragment in it. The player steps over both itself.
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

/**
 * Where the gap the playlists mark at media time `t` ends (the spans marked as gaps that follow on from `t` without a
 * break of more than `slackS`), or undefined when `t` is not in or just before one.
 */
export function gapEndS(spans: readonly PlaylistSpan[], t: number, slackS = 0.1): number | undefined {
	let end = t;
	for (let moved = true; moved; ) {
		moved = false;
		for (const s of spans) {
			if (s.gap === true && s.start <= end + slackS && s.start + s.duration > end) {
				end = s.start + s.duration;
				moved = true;
			}
		}
	}
	return end > t ? end : undefined;
}

export interface HoleSkipSettings {
	/** A gap the playlists mark is stepped over after this long stopped before it, ms. Default 250. */
	gapMs: number;
	/**
	 * A hole with media past it that no playlist marks, after this long (its media may still be on its way: a part of
	 * one rendition loading late), ms. Default 1500; the watchdog's first step is at 3000.
	 */
	holeMs: number;
	/** Such holes longer than this are not stepped over (the watchdog and hls.js see to them), s. Default 5. */
	maxHoleS: number;
	/** How far past the gap or hole to land, s. Default 0.05. */
	paddingS: number;
}

export const holeSkipDefaults: HoleSkipSettings = { gapMs: 250, holeMs: 1500, maxHoleS: 5, paddingS: 0.05 };

/**
 * Where to seek to leave a gap or hole the playhead has been stopped at for `stoppedMs`, or undefined to wait:
 * `gapEnd` is where a gap the playlists mark at the playhead ends (see `gapEndS`). Nothing to play at the playhead is
 * needed (less than 0.1 s buffered there); a gap is stepped over whether or not media past it has come (hls.js did not
 * load past a gap at a run switch until the playhead moved: 3.5 s stopped in `bench:pressure`), a hole only to media
 * buffered past it.
 */
export function planHoleSkip(ranges: TimeRanges, t: number, stoppedMs: number, gapEnd: number | undefined, settings: HoleSkipSettings = holeSkipDefaults): number | undefined {
	if (bufferedAheadS(ranges, t) >= 0.1) return undefined;
	if (gapEnd !== undefined && gapEnd > t) return stoppedMs >= settings.gapMs ? gapEnd + settings.paddingS : undefined;
	const end = holeEndS(ranges, t, settings.maxHoleS);
	return end !== undefined && stoppedMs >= settings.holeMs ? end + settings.paddingS : undefined;
}
