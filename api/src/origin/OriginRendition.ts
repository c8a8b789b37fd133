import { MediaTimeline, type TimelineSegment } from '@tribune/transcoder';

/** Part event fields the origin uses. */
export interface OriginPart {
	partSeq: number;
	msn: number;
	durationS: number;
	independent: boolean;
	segment?: { pdtMs: number; discontinuity: boolean; initIndex: number };
}

/**
 * One rendition as an origin holds it: the live window's timeline, and the bytes of recent parts, segments and
 * init sections. Parts stay downloadable for `partRetentionS` after they leave the playlist's part window.
 */
export class OriginRendition {
	readonly name: string;
	readonly timeline = new MediaTimeline();
	readonly inits = new Map<number, Buffer>();
	readonly parts = new Map<number, Buffer>();
	readonly segments = new Map<number, Buffer>();
	readonly #partEnds: { seq: number; endS: number }[] = [];
	#mediaEndS = 0;

	constructor(name: string) {
		this.name = name;
	}

	addPart(part: OriginPart, bytes: Buffer, windowSegments: number, partRetentionS: number): void {
		// An origin that joined from a trimmed log starts at the first whole segment.
		if (!part.segment && this.timeline.lastMsn !== part.msn) return;
		if (part.segment) this.#completeLast();
		this.timeline.addPart({ seq: part.partSeq, msn: part.msn, durationS: part.durationS, independent: part.independent, segment: part.segment });
		this.parts.set(part.partSeq, bytes);
		this.#mediaEndS += part.durationS;
		this.#partEnds.push({ seq: part.partSeq, endS: this.#mediaEndS });
		while (this.#partEnds.length > 0 && this.#mediaEndS - (this.#partEnds[0]?.endS ?? 0) > partRetentionS) {
			this.parts.delete((this.#partEnds.shift() as { seq: number }).seq);
		}
		if (part.segment) {
			this.timeline.trim(windowSegments);
			const oldest = (this.timeline.segments[0]?.msn ?? 0) - 2;
			for (const msn of this.segments.keys()) if (msn < oldest) this.segments.delete(msn);
		}
	}

	/**
	 * A placeholder (EXT-X-GAP) for a number the rendition skipped (see the packager's gap event); one for a number
	 * it already holds, or before its first segment, is ignored.
	 */
	addGap(gap: { msn: number; pdtMs: number; durationS: number }, windowSegments: number): void {
		if (this.timeline.ended || this.timeline.lastMsn < 0 || gap.msn <= this.timeline.lastMsn) return;
		this.#completeLast();
		this.timeline.addGap(gap);
		this.timeline.trim(windowSegments);
	}

	end(): void {
		this.#completeLast();
		this.timeline.end();
	}

	/** Whether the playlist holds part `part` of segment `msn`, or (without a part) the whole segment, or later. */
	has(msn: number, part: number | undefined): boolean {
		const timeline = this.timeline;
		if (timeline.ended || timeline.lastMsn > msn) return true;
		if (timeline.lastMsn < msn) return false;
		return part === undefined ? false : timeline.lastPartIndex >= part;
	}

	/** Joins the parts of the segment that just completed into the segment file, if all of them are here. */
	#completeLast(): void {
		const last: TimelineSegment | undefined = this.timeline.segments.at(-1);
		if (!last || last.gap || this.segments.has(last.msn)) return;
		const bytes = last.parts.map((p) => this.parts.get(p.seq));
		if (bytes.every((b): b is Buffer => b !== undefined)) this.segments.set(last.msn, Buffer.concat(bytes));
	}
}
