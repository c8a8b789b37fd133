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
 * init sections. A segment that leaves the playlist stays downloadable for as long as the playlist is, plus its own
 * duration (RFC 8216bis §6.2.2: a player may ask for it from the last playlist that listed it), and so do its parts
 * — a player a few seconds behind fetches parts it read from a playlist before they left the part window (Shaka,
 * 4–6 s behind on a busy machine, was refused a part when they were kept for 6 s). Once a segment is whole its parts are views into its
 * bytes, so keeping them costs no memory.
 */
export class OriginRendition {
	readonly name: string;
	readonly timeline = new MediaTimeline();
	readonly inits = new Map<number, Buffer>();
	readonly parts = new Map<number, Buffer>();
	readonly segments = new Map<number, Buffer>();
	/** Parts held, oldest first, with their segment's number. */
	readonly #heldParts: { seq: number; msn: number }[] = [];

	constructor(name: string) {
		this.name = name;
	}

	addPart(part: OriginPart, bytes: Buffer, windowSegments: number): void {
		// An origin that joined from a trimmed log starts at the first whole segment.
		if (!part.segment && this.timeline.lastMsn !== part.msn) return;
		if (part.segment) this.#completeLast();
		this.timeline.addPart({ seq: part.partSeq, msn: part.msn, durationS: part.durationS, independent: part.independent, segment: part.segment });
		this.parts.set(part.partSeq, bytes);
		this.#heldParts.push({ seq: part.partSeq, msn: part.msn });
		if (part.segment) {
			this.timeline.trim(windowSegments);
			this.#forgetBefore((this.timeline.segments[0]?.msn ?? 0) - windowSegments - 1);
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
		this.#forgetBefore((this.timeline.segments[0]?.msn ?? 0) - windowSegments - 1);
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
		if (!bytes.every((b): b is Buffer => b !== undefined)) return;
		const segment = Buffer.concat(bytes);
		this.segments.set(last.msn, segment);
		let offset = 0;
		for (const [i, p] of last.parts.entries()) {
			const length = (bytes[i] as Buffer).length;
			this.parts.set(p.seq, segment.subarray(offset, offset + length));
			offset += length;
		}
	}

	/** Drops the segments numbered below `msn`, and their parts. */
	#forgetBefore(msn: number): void {
		for (const held of this.segments.keys()) if (held < msn) this.segments.delete(held);
		while (this.#heldParts.length > 0 && (this.#heldParts[0] as { msn: number }).msn < msn) {
			this.parts.delete((this.#heldParts.shift() as { seq: number }).seq);
		}
	}
}
