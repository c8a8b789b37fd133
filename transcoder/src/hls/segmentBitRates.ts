/** A segment's size and duration, for its bit rate. */
export interface SizedSegment {
	durationS: number;
	bytes: number;
	/** A placeholder (EXT-X-GAP) without media: runs of segments do not cross it. */
	gap?: boolean;
}

/**
 * The peak segment bit rate of a rendition, bits per second (RFC 8216bis §4.1): the largest bit rate of any
 * contiguous run of segments lasting 0.5–1.5 target durations (sizes summed over durations summed). 0 when no run
 * qualifies. Gap placeholders break runs.
 */
export function peakSegmentBitRate(segments: readonly SizedSegment[], targetDurationS: number): number {
	let peak = 0;
	for (let first = 0; first < segments.length; first++) {
		let bytes = 0;
		let durationS = 0;
		for (let last = first; last < segments.length; last++) {
			const segment = segments[last] as SizedSegment;
			if (segment.gap) break;
			bytes += segment.bytes;
			durationS += segment.durationS;
			if (durationS > 1.5 * targetDurationS) break;
			if (durationS >= 0.5 * targetDurationS) peak = Math.max(peak, (bytes * 8) / durationS);
		}
	}
	return peak;
}

/** The average segment bit rate, bits per second (RFC 8216bis §4.1): all sizes over all durations (gaps left out). */
export function averageSegmentBitRate(segments: readonly SizedSegment[]): number {
	const media = segments.filter((s) => !s.gap);
	const durationS = media.reduce((sum, s) => sum + s.durationS, 0);
	return durationS > 0 ? (media.reduce((sum, s) => sum + s.bytes, 0) * 8) / durationS : 0;
}
