import { initName } from './hlsNames.js';

export interface TimelinePart {
	seq: number;
	durationS: number;
	independent: boolean;
}

export interface TimelineSegment {
	msn: number;
	/** Wall-clock time of the first sample (EXT-X-PROGRAM-DATE-TIME), ms since the epoch. */
	pdtMs: number;
	discontinuity: boolean;
	/** URI of the init section (EXT-X-MAP) this segment needs. */
	mapUri: string;
	/** Parts in order; empty for segments known only as whole files (subtitles, replays). */
	parts: TimelinePart[];
	durationS: number;
	/** False for the segment still being written (the last one of a live playlist). */
	complete: boolean;
	/** A placeholder for a number the rendition skipped (EXT-X-GAP): no media, never loaded. */
	gap?: boolean;
}

/** The part a new fragment becomes, as the packager placed it. */
export interface NewPart {
	seq: number;
	msn: number;
	durationS: number;
	independent: boolean;
	segment?: { pdtMs: number; discontinuity: boolean; initIndex: number };
}

/**
 * The segments and parts of one rendition, oldest first. The packager builds one per rendition (its replay playlist
 * comes from it) and each origin rebuilds the same from the packager's events (its live playlists come from it).
 */
export class MediaTimeline {
	readonly segments: TimelineSegment[] = [];
	/** EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that have left the window. */
	discontinuitySequence = 0;
	ended = false;

	/** Media sequence number of the last segment (complete or not), or -1 before the first part. */
	get lastMsn(): number {
		return this.segments.at(-1)?.msn ?? -1;
	}

	/** Index of the last part inside the last segment, or -1. */
	get lastPartIndex(): number {
		return (this.segments.at(-1)?.parts.length ?? 0) - 1;
	}

	/** Number of the last part, or -1. */
	get lastPartSeq(): number {
		return this.segments.at(-1)?.parts.at(-1)?.seq ?? -1;
	}

	/** Appends a part; a part that starts a segment completes the previous one. */
	addPart(part: NewPart): void {
		if (this.ended) throw new Error('timeline has ended');
		const last = this.segments.at(-1);
		if (part.segment) {
			if (last) last.complete = true;
			this.segments.push({
				msn: part.msn,
				pdtMs: part.segment.pdtMs,
				discontinuity: part.segment.discontinuity,
				mapUri: initName(part.segment.initIndex),
				parts: [],
				durationS: 0,
				complete: false,
			});
		} else if (!last || last.msn !== part.msn) {
			throw new Error(`part ${part.seq} continues segment ${part.msn}, which is not open`);
		}
		const segment = this.segments.at(-1) as TimelineSegment;
		segment.parts.push({ seq: part.seq, durationS: part.durationS, independent: part.independent });
		segment.durationS += part.durationS;
	}

	/** Appends a whole, complete segment (subtitles). */
	addSegment(segment: Omit<TimelineSegment, 'complete' | 'parts'>): void {
		this.segments.push({ ...segment, parts: [], complete: true });
	}

	/**
	 * Appends a placeholder segment (EXT-X-GAP) for a number the rendition skipped, completing the last segment; it
	 * keeps the last segment's init section, so it adds no EXT-X-MAP.
	 */
	addGap(gap: { msn: number; pdtMs: number; durationS: number }): void {
		if (this.ended) throw new Error('timeline has ended');
		const last = this.segments.at(-1);
		if (last) last.complete = true;
		this.segments.push({ ...gap, discontinuity: false, mapUri: last?.mapUri ?? '', parts: [], complete: true, gap: true });
	}

	/** The broadcast is over: the last segment is complete. */
	end(): void {
		const last = this.segments.at(-1);
		if (last) last.complete = true;
		this.ended = true;
	}

	/** Drops the oldest segments so at most `maxSegments` remain; returns the dropped ones. */
	trim(maxSegments: number): TimelineSegment[] {
		const excess = this.segments.length - maxSegments;
		if (excess <= 0) return [];
		const dropped = this.segments.splice(0, excess);
		// A discontinuity counts once its segment has left: the first remaining one's tag is still in the playlist.
		this.discontinuitySequence += dropped.filter((s) => s.discontinuity).length;
		return dropped;
	}
}
