import type { MediaTimeline, TimelineSegment } from './MediaTimeline.js';
import { partName, segmentName } from './hlsNames.js';

/** Where a sibling rendition is, for EXT-X-RENDITION-REPORT (RFC 8216bis §4.4.5.4). */
export interface RenditionReport {
	uri: string;
	lastMsn: number;
	lastPart: number;
}

/** Low-latency settings of a live playlist; absent for replays and subtitles. */
export interface LowLatencyOptions {
	partTargetS: number;
	/** PART-HOLD-BACK, seconds; at least 3 × PART-TARGET (§4.4.3.8 recommends 3). */
	partHoldBackS: number;
	/** CAN-SKIP-UNTIL, seconds; at least 6 × TARGETDURATION (§4.4.3.8). */
	canSkipUntilS: number;
	/** Parts are listed for segments ending within this many seconds of the playlist's end (§6.2.2: ≥ 3 targets). */
	partWindowS: number;
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
	 * A live playlist without parts (subtitles) that still answers blocking reloads for its next segment
	 * (EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES), so players learn of each segment as it is published.
	 */
	canBlockReload?: boolean;
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
	} else if (options.canBlockReload && options.type === 'live') {
		lines.push('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
	}
	lines.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`);
	if (timeline.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${timeline.discontinuitySequence}`);

	const totalS = segments.reduce((sum, s) => sum + s.durationS, 0);
	const skipped = options.skip && ll && options.type === 'live' ? skippableCount(segments, totalS, ll.canSkipUntilS) : 0;
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
	if (ll && !timeline.ended && options.type === 'live') {
		lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partName(timeline.lastPartSeq + 1)}"`);
	}
	if (ll && options.type === 'live') {
		for (const report of ll.renditionReports) {
			lines.push(`#EXT-X-RENDITION-REPORT:URI="${report.uri}",LAST-MSN=${report.lastMsn},LAST-PART=${report.lastPart}`);
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

/**
 * Leading complete segments a delta update may leave out: those starting more than CAN-SKIP-UNTIL before the end
 * of the playlist (§6.2.5.1).
 */
function skippableCount(segments: readonly TimelineSegment[], totalS: number, canSkipUntilS: number): number {
	let count = 0;
	let startS = 0;
	for (const segment of segments) {
		if (!segment.complete || totalS - startS <= canSkipUntilS) break;
		startS += segment.durationS;
		count++;
	}
	return count;
}
