import { parseFragment } from './FragmentInfo.js';
import type { UnnumberedHlsEvent } from './HlsEvent.js';
import type { HlsDiskWriter } from './HlsDiskWriter.js';
import { initName, replayJournalName, segmentName } from './hlsNames.js';
import { parseInitSection, type InitSection, type TrackInfo } from './InitSection.js';
import { MediaTimeline } from './MediaTimeline.js';
import { Segmenter } from './Segmenter.js';

/** A segment that just started, for the subtitles that follow the reference rendition. */
export interface StartedSegment {
	msn: number;
	startMediaS: number;
	pdtMs: number;
	discontinuity: boolean;
}

/** A segment of the replay as the journal on disk keeps it (`<rendition>/segments.jsonl`, one JSON line each). */
export interface ReplaySegment {
	msn: number;
	pdtMs: number;
	discontinuity: boolean;
	initIndex: number;
	durationS: number;
	/** A placeholder for a skipped number (EXT-X-GAP); absent in older journals. */
	gap?: boolean;
	/** Size of the segment file (its parts), for the replay's measured bit rates; absent in older journals. */
	bytes?: number;
}

/** Where another packager left a rendition of the same stream (a broadcast taken over from a dead transcoder). */
export interface RenditionResume {
	/** Numbers it published last: the part, the segment and the init section; -1 for none. */
	lastSeq: number;
	/** The number every rendition continues after (the highest any reached), so they keep sharing numbers. */
	lastMsn: number;
	/** The last number this rendition itself reached; those up to {@link lastMsn} get gap segments. */
	placedMsn?: number;
	lastInitIndex: number;
	/** The replay's segments it completed (from the journal on disk), so the replay playlist keeps them. */
	replaySegments: readonly ReplaySegment[];
}

/** What a rendition needs from the stream it belongs to. */
export interface RenditionContext {
	partTargetS: number;
	segmentTargetS: number;
	disk: HlsDiskWriter | undefined;
	publish(event: UnnumberedHlsEvent, bytes: Buffer): void;
	/** Wall-clock time of a media instant of the current encoder run. */
	pdtMs(mediaS: number, durationS: number): number;
	/** Whether a part starting at this media instant of the current run belongs to the stream (see `Packager.cutAt`). */
	accepts(mediaS: number): boolean;
	/** A part ending at this media instant was packaged (PDT must not go back before it after a restart). */
	partEnded(mediaEndS: number): void;
	onInit(rendition: string, init: InitSection): void;
	onSegmentStarted(rendition: string, segment: StartedSegment): void;
	/** A segment of this rendition is complete (its bytes are in {@link RenditionPackager.segmentBytes}). */
	onSegmentClosed(rendition: string): void;
}

/**
 * Packages one rendition's fMP4 byte stream: `ftyp`+`moov` become an init section, each `moof`+`mdat` a part; the
 * segmenter groups parts into segments; parts go out to origins as they complete and onto disk into segment files.
 */
export class RenditionPackager {
	readonly name: string;
	readonly timeline = new MediaTimeline();
	init: InitSection | undefined;
	/** Bytes of each segment (the sum of its parts) by number, for the peak and average bit rates. */
	readonly segmentBytes = new Map<number, number>();
	readonly #context: RenditionContext;
	readonly #segmenter: Segmenter;
	#initIndex = -1;
	#mainTrack: TrackInfo | undefined;
	#openMsn: number | undefined;
	#openSegment: { pdtMs: number; discontinuity: boolean; initIndex: number } | undefined;

	constructor(name: string, context: RenditionContext, resume?: RenditionResume) {
		this.name = name;
		this.#context = context;
		this.#segmenter = new Segmenter({
			partTargetS: context.partTargetS,
			segmentTargetS: context.segmentTargetS,
			...(resume && { resumeAfter: { lastSeq: resume.lastSeq, lastMsn: resume.lastMsn } }),
		});
		if (resume) {
			this.#initIndex = resume.lastInitIndex;
			for (const segment of resume.replaySegments) {
				this.timeline.addSegment({ ...segment, mapUri: initName(segment.initIndex) });
				if (segment.bytes !== undefined) this.segmentBytes.set(segment.msn, segment.bytes);
			}
		}
	}

	/** The next part comes from a new encoder run: it opens segment `nextMsn` after a discontinuity. */
	restart(nextMsn: number): void {
		this.#segmenter.restart(nextMsn);
	}

	/** The run whose parts come next began at media time `originS` (see `Segmenter.alignTo`). */
	alignTo(originS: number): void {
		this.#segmenter.alignTo(originS);
	}

	/**
	 * Placeholder segments (EXT-X-GAP) for the numbers after `afterMsn` (the last this rendition reached) up to
	 * `toMsn`, timed by `gapAt` (a rendition that was behind the others when they all restart at one number). The
	 * next part then opens segment `toMsn + 1` after a discontinuity.
	 */
	fillGap(afterMsn: number, toMsn: number, gapAt: (msn: number) => { pdtMs: number; durationS: number }): void {
		if (afterMsn < 0 || afterMsn >= toMsn) return;
		this.#closeSegment();
		for (let msn = afterMsn + 1; msn <= toMsn; msn++) {
			const { pdtMs, durationS } = gapAt(msn);
			this.timeline.addGap({ msn, pdtMs, durationS });
			this.#context.publish({ type: 'gap', rendition: this.name, msn, durationS, pdtMs }, Buffer.alloc(0));
			const entry: ReplaySegment = { msn, pdtMs, discontinuity: false, initIndex: Math.max(0, this.#initIndex), durationS, gap: true };
			this.#context.disk?.appendLine(`${this.name}/${replayJournalName}`, JSON.stringify(entry));
		}
		this.#segmenter.restart(toMsn + 1);
	}

	/** Media sequence number of the last segment placed, or -1. */
	get placedMsn(): number {
		return this.#segmenter.msn;
	}

	/** The broadcast is over: completes the last segment. */
	end(): void {
		this.#closeSegment();
		this.timeline.end();
	}

	/** An init section (`ftyp` + `moov`) of the run on air. */
	addInit(ftyp: Buffer, moov: Buffer): void {
		this.#onInit(ftyp, moov);
	}

	/** A fragment (`moof` + `mdat`) of the run on air: one part. */
	addPart(moof: Buffer, mdat: Buffer): void {
		this.#onPart(moof, mdat);
	}

	#onInit(ftyp: Buffer, moov: Buffer): void {
		const init = parseInitSection(ftyp, moov);
		this.init = init;
		this.#initIndex++;
		this.#mainTrack = init.tracks.find((t) => t.kind === 'video') ?? init.tracks.find((t) => t.kind === 'audio');
		if (!this.#mainTrack) throw new Error(`rendition ${this.name}: no audio or video track`);
		this.#context.disk?.writeFile(`${this.name}/${initName(this.#initIndex)}`, init.bytes);
		this.#context.publish({ type: 'init', rendition: this.name, index: this.#initIndex }, init.bytes);
		this.#context.onInit(this.name, init);
	}

	#onPart(moof: Buffer, mdat: Buffer): void {
		const track = this.#mainTrack;
		if (!track) throw new Error(`rendition ${this.name}: fragment before the init section`);
		const fragment = parseFragment(moof, [track]).tracks[0];
		if (!fragment) return;
		const startS = fragment.baseTime / track.timescale;
		const durationS = fragment.duration / track.timescale;
		if (!this.#context.accepts(startS)) return;
		const placed = this.#segmenter.place({ startS, durationS, independent: fragment.startsWithSync });
		let segment: { pdtMs: number; discontinuity: boolean; initIndex: number } | undefined;
		if (placed.startsSegment) {
			this.#closeSegment();
			const pdtMs = this.#context.pdtMs(startS, durationS);
			segment = { pdtMs, discontinuity: placed.discontinuity, initIndex: this.#initIndex };
			this.#openMsn = placed.msn;
			this.#openSegment = segment;
			this.#context.onSegmentStarted(this.name, { msn: placed.msn, startMediaS: startS, pdtMs, discontinuity: placed.discontinuity });
		}
		const part = { seq: placed.seq, msn: placed.msn, durationS, independent: fragment.startsWithSync, segment };
		const bytes = Buffer.concat([moof, mdat]);
		this.timeline.addPart(part);
		this.#context.partEnded(startS + durationS);
		this.#context.publish({ type: 'part', rendition: this.name, partSeq: part.seq, msn: part.msn, durationS, independent: part.independent, segment }, bytes);
		this.segmentBytes.set(placed.msn, (this.segmentBytes.get(placed.msn) ?? 0) + bytes.length);
		this.#context.disk?.appendToFile(`${this.name}/${segmentName(placed.msn)}`, bytes);
	}

	#closeSegment(): void {
		const msn = this.#openMsn;
		const opened = this.#openSegment;
		if (msn === undefined || !opened) return;
		this.#openMsn = undefined;
		this.#openSegment = undefined;
		this.#context.onSegmentClosed(this.name);
		const disk = this.#context.disk;
		if (!disk) return;
		disk.completeFile(`${this.name}/${segmentName(msn)}`);
		// The journal lets a packager that takes the broadcast over keep this segment in the replay playlist.
		const durationS = this.timeline.segments.find((s) => s.msn === msn)?.durationS ?? 0;
		const entry: ReplaySegment = { msn, pdtMs: opened.pdtMs, discontinuity: opened.discontinuity, initIndex: opened.initIndex, durationS, bytes: this.segmentBytes.get(msn) ?? 0 };
		disk.appendLine(`${this.name}/${replayJournalName}`, JSON.stringify(entry));
	}
}
