import type { MediaTimeline, TimelineSegment } from './MediaTimeline.js';
import { partName, segmentName } from './hlsNames.js';

/** Where another rendition is, for EXT-X-RENDITION-REPORT (RFC 8216bis §4.4.5.4). */
export interface RenditionReport {
	uri: string;
	/** Media sequence number of its last segment (the open one, for a rendition with parts). */
	lastMsn: number;
	/** Index of its last part within segment `lastMsn`; absent for a rendition without parts (subtitles, §4.4.5.4). */
	lastPart?: number;
}

/**
 * Low-latency settings of a live playlist; absent for replays. Every live playlist of a stream gets the same ones,
 * subtitles included (Appendix B.1): players read EXT-X-SERVER-CONTROL from every rendition (Shaka fails a track
 * whose playlist lacks PART-HOLD-BACK once another has EXT-X-PART-INF).
 */
export interface LowLatencyOptions {
	partTargetS: number;
	/** PART-HOLD-BACK, seconds; at least 3 × PART-TARGET (§4.4.3.8 recommends 3). */
	partHoldBackS: number;
	/** CAN-SKIP-UNTIL, seconds; at least 6 × TARGETDURATION (§4.4.3.8). */
	canSkipUntilS: number;
	/** Parts are listed for segments ending within this many seconds of the playlist's end (§6.2.2: ≥ 3 targets). */
	partWindowS: number;
	/** One for every other rendition of the multivariant playlist, subtitles included (Appendix B.1). */
	renditionReports: readonly RenditionReport[];
}

export interface MediaPlaylistOptions {
	targetDurationS: number;
	/** `vod`: a replay (EXT-X-PLAYLIST-TYPE:VOD); `live`: a sliding window. */
	type: 'live' | 'vod';
	lowLatency?: LowLatencyOptions;
	/** Render a delta update (EXT-X-SKIP) when the playlist allows one (`_HLS_skip=YES|v2`). */
	skip?: boolean;
	/**
	 * A delta update leaves out only segments before this number: the `_HLS_msn` of a blocking request, whose client
	 * has seen every segment before the one before it. A client that reloads late (Shaka asks for deltas however old
	 * its copy is, §6.3.7 says it should not) then still gets the segments it has not seen.
	 */
	skipBeforeMsn?: number;
	/** Segment URI for segments; default `seg-<msn>.m4s`. */
	segmentUri?: (msn: number) => string;
}

/** Tribune writes durations with 5 decimals: exact to 10 µs, shorter than a 90 kHz tick needs. */
const decimal = (value: number): string => value.toFixed(5);
const pdt = (ms: number): string => new Date(ms).toISOString();

/**
 * Renders a media playlist (RFC 8216bis, protocol version 9 for EXT-X-SKIP) from a rendition's timeline. Pure: the
 * origin calls it once per playlist change and serves the string to every listener.
 */
export function renderMediaPlaylist(timeline: MediaTimeline, options: MediaPlaylistOptions): string {
	const ll = options.lowLatency;
	const segments = timeline.segments;
	const lines = ['#EXTM3U', '#EXT-X-VERSION:9', `#EXT-X-TARGETDURATION:${options.targetDurationS}`];
	if (options.type === 'vod') lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
	if (ll) {
		lines.push(`#EXT-X-PART-INF:PART-TARGET=${decimal(ll.partTargetS)}`);
		const canSkip = options.type === 'live' ? `,CAN-SKIP-UNTIL=${decimal(ll.canSkipUntilS)}` : '';
		lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES${canSkip},PART-HOLD-BACK=${decimal(ll.partHoldBackS)}`);
	}
	lines.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`);
	if (timeline.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${timeline.discontinuitySequence}`);

	const totalS = segments.reduce((sum, s) => sum + s.durationS, 0);
	const skipped = skippedSegmentCount(timeline, options);
	if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);

	const segmentUri = options.segmentUri ?? segmentName;
	let startS = segments.slice(0, skipped).reduce((sum, s) => sum + s.durationS, 0);
	let mapUri: string | undefined;
	for (const segment of segments.slice(skipped)) {
		// Also on the first segment (allowed, §4.4.4.3): MediaTimeline.trim counts a discontinuity in
		// EXT-X-DISCONTINUITY-SEQUENCE only once its segment has left, so without the tag the first segment's
		// discontinuity number would be one low while it leads the window.
		if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
		if (segment.mapUri && segment.mapUri !== mapUri) {
			mapUri = segment.mapUri;
			lines.push(`#EXT-X-MAP:URI="${mapUri}"`);
		}
		lines.push(`#EXT-X-PROGRAM-DATE-TIME:${pdt(segment.pdtMs)}`);
		const endS = startS + segment.durationS;
		if (ll && (totalS - endS < ll.partWindowS || !segment.complete)) lines.push(...partLines(segment));
		if (segment.gap) lines.push('#EXT-X-GAP');
		if (segment.complete) lines.push(`#EXTINF:${decimal(segment.durationS)},`, segmentUri(segment.msn));
		startS = endS;
	}
	// The part after the last one listed (a gap segment at the end has none of its own); none for a playlist
	// without parts (subtitles).
	const lastPartSeq = segments.findLast((s) => s.parts.length > 0)?.parts.at(-1)?.seq;
	if (ll && !timeline.ended && options.type === 'live' && lastPartSeq !== undefined) {
		lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partName(lastPartSeq + 1)}"`);
	}
	if (ll && options.type === 'live') {
		for (const report of ll.renditionReports) {
			const lastPart = report.lastPart === undefined ? '' : `,LAST-PART=${report.lastPart}`;
			lines.push(`#EXT-X-RENDITION-REPORT:URI="${report.uri}",LAST-MSN=${report.lastMsn}${lastPart}`);
		}
	}
	if (timeline.ended || options.type === 'vod') lines.push('#EXT-X-ENDLIST');
	return `${lines.join('\n')}\n`;
}

function partLines(segment: TimelineSegment): string[] {
	return segment.parts.map((part) => {
		const independent = part.independent ? ',INDEPENDENT=YES' : '';
		return `#EXT-X-PART:DURATION=${decimal(part.durationS)},URI="${partName(part.seq)}"${independent}`;
	});
}

/** How much further than CAN-SKIP-UNTIL from the end a segment must start to be skipped, s (see skippedSegmentCount). */
const skipMarginS = 0.001;

/**
 * Leading segments a delta update of `timeline` leaves out: the complete ones starting more than CAN-SKIP-UNTIL (and
 * {@link skipMarginS}) before the end of the playlist (§6.2.5.1), and only those before `skipBeforeMsn − 1`; 0 unless
 * `skip` is set on a live low-latency playlist. The origin keys its cache of delta updates by this count.
 */
export function skippedSegmentCount(timeline: MediaTimeline, options: MediaPlaylistOptions): number {
	const ll = options.lowLatency;
	if (!options.skip || !ll || options.type !== 'live') return 0;
	const segments = timeline.segments;
	const totalS = segments.reduce((sum, s) => sum + s.durationS, 0);
	const beforeMsn = options.skipBeforeMsn === undefined ? Number.POSITIVE_INFINITY : options.skipBeforeMsn - 1;
	let count = 0;
	let startS = 0;
	for (const segment of segments) {
		// A millisecond's margin: a client adds up the EXTINF values as written (five decimals) and must find every
		// skipped segment starting more than CAN-SKIP-UNTIL before the end, not exactly on it.
		if (!segment.complete || totalS - startS <= ll.canSkipUntilS + skipMarginS || segment.msn >= beforeMsn) break;
		startS += segment.durationS;
		count++;
	}
	return count;
}
