import { gzipSync } from 'node:zlib';
import {
	MediaTimeline,
	renderMediaPlaylist,
	renderMultivariantPlaylist,
	renderWebVtt,
	subtitlesRendition,
	vttName,
	type HlsMessage,
	type MediaPlaylistOptions,
	type MediaTimeline as Timeline,
	type RenditionReport,
	type StreamDescriptor,
} from '@tribune/transcoder';
import { BlockingWaiters } from './BlockingWaiters.js';
import { originContentType } from './originCacheHeaders.js';
import { OriginRendition } from './OriginRendition.js';

/** PART-HOLD-BACK in parts: three, the least the HLS spec allows. */
const partHoldBackParts = 3;
/** Shortest subtitle segment filling a skipped number, s (EXTINF must be positive). */
const minimumSubtitleGapS = 0.001;
/** A subtitle segment without cues. */
const emptyWebVtt = Buffer.from(renderWebVtt(0, []));

/** A rendered playlist, encoded once and gzipped once on first demand, then shared by every listener. */
export class RenderedPlaylist {
	readonly text: string;
	readonly bytes: Buffer;
	#gzip: Buffer | undefined;

	constructor(text: string) {
		this.text = text;
		this.bytes = Buffer.from(text);
	}

	get gzip(): Buffer {
		this.#gzip ??= gzipSync(this.text, { level: 6 });
		return this.#gzip;
	}
}

/** Live-window settings of an origin. */
export interface OriginWindow {
	/** Segments in a live playlist (default 12; must exceed CAN-SKIP-UNTIL for delta updates to pay). */
	windowSegments: number;
}

/**
 * One stream as an origin holds it, rebuilt from the packager's events: each rendition's window and bytes, the
 * subtitles, and the held requests waiting for the next change. Playlists are rendered at most once per change.
 */
export class OriginStream {
	readonly streamId: string;
	descriptor: StreamDescriptor | undefined;
	readonly renditions = new Map<string, OriginRendition>();
	readonly subtitles = new MediaTimeline();
	readonly vtt = new Map<number, Buffer>();
	readonly waiters = new BlockingWaiters();
	lastAccessMs = Date.now();
	#lastSeq = -1;
	#ended = false;
	/** Playlists rendered since the last change. */
	readonly #cache = new Map<string, RenderedPlaylist>();
	readonly #window: OriginWindow;

	constructor(streamId: string, window: OriginWindow) {
		this.streamId = streamId;
		this.#window = window;
	}

	get ended(): boolean {
		return this.#ended;
	}

	get lastSeq(): number {
		return this.#lastSeq;
	}

	/** Applies one packager event; events already applied (by sequence number) are ignored. */
	apply({ event, bytes }: HlsMessage): void {
		if (event.seq <= this.#lastSeq) return;
		this.#lastSeq = event.seq;
		switch (event.type) {
			case 'stream':
				this.descriptor = event.descriptor;
				break;
			case 'init':
				this.#rendition(event.rendition).inits.set(event.index, bytes);
				break;
			case 'part':
				this.#rendition(event.rendition).addPart(event, bytes, this.#window.windowSegments);
				break;
			case 'vtt':
				this.#addSubtitleSegment(event, bytes);
				break;
			case 'gap':
				this.#rendition(event.rendition).addGap(event, this.#window.windowSegments);
				break;
			case 'end':
				for (const rendition of this.renditions.values()) rendition.end();
				this.subtitles.end();
				this.#ended = true;
				break;
		}
		this.#cache.clear();
		this.waiters.notify();
	}

	rendition(name: string): OriginRendition | undefined {
		return this.renditions.get(name);
	}

	/** Content-Type of a rendition's media files (audio-only renditions are audio/mp4). */
	mediaType(name: string): string {
		const kind = this.descriptor?.renditions.find((r) => r.name === name)?.kind;
		return kind === 'audio' ? originContentType.audio : originContentType.video;
	}

	/** The live multivariant playlist, once the packager has described the stream. */
	multivariant(): RenderedPlaylist | undefined {
		const descriptor = this.descriptor;
		if (!descriptor) return undefined;
		return this.#cached('master', () => renderMultivariantPlaylist(descriptor, 'index.m3u8'));
	}

	/**
	 * The live media playlist of a rendition, rendered once per change: with `skip`, a delta update that (for a
	 * blocking request, `msn`) leaves out only segments its client has seen.
	 */
	mediaPlaylist(name: string, skip: boolean, msn?: number): RenderedPlaylist | undefined {
		const descriptor = this.descriptor;
		const rendition = this.renditions.get(name);
		if (!descriptor || !rendition || rendition.timeline.segments.length === 0) return undefined;
		return this.#render(name, rendition.timeline, descriptor, skip, msn);
	}

	/**
	 * Whether a rendition holds enough media for a player to start on it: PART-HOLD-BACK plus one segment (the player
	 * starts at the keyframe that opens the segment holding its start position, PART-HOLD-BACK from the end). A
	 * player handed less, as the stream begins, starts against the live edge with parts still to load and stalls
	 * within a second; the origin holds its first playlist request until this is true.
	 */
	holdsStartupMedia(name: string): boolean {
		const descriptor = this.descriptor;
		const segments = this.renditions.get(name)?.timeline.segments;
		if (!descriptor || !segments) return false;
		const neededS = (partHoldBackParts * descriptor.partTargetMs + descriptor.segmentTargetMs) / 1000;
		let heldS = 0;
		for (let i = segments.length - 1; i >= 0; i--) {
			heldS += segments.at(i)?.durationS ?? 0;
			// Part durations are whole frames: allow for the rounding of their sum.
			if (heldS >= neededS - 0.05) return true;
		}
		return false;
	}

	/**
	 * The live subtitles playlist: whole WebVTT segments, no parts, with the same server control as the media
	 * renditions (blocking reloads per segment, delta updates) and their rendition reports.
	 */
	subtitlesPlaylist(skip = false, msn?: number): RenderedPlaylist | undefined {
		const descriptor = this.descriptor;
		if (!descriptor?.subtitles) return undefined;
		return this.#render(subtitlesRendition, this.subtitles, descriptor, skip, msn, vttName);
	}

	#render(name: string, timeline: Timeline, descriptor: StreamDescriptor, skip: boolean, msn: number | undefined, segmentUri?: (msn: number) => string): RenderedPlaylist {
		return this.#cached(`${name}:${skip ? `skip:${msn ?? ''}` : 'full'}`, () =>
			renderMediaPlaylist(timeline, { ...this.#liveOptions(descriptor, name), skip, ...(msn !== undefined && { skipBeforeMsn: msn }), ...(segmentUri && { segmentUri }) }),
		);
	}

	/**
	 * Live playlist options, the same for every rendition (Appendix B.1) but for the rendition reports: one for each
	 * other rendition of the multivariant playlist that has begun, subtitles included (§4.4.5.4: LAST-MSN and
	 * LAST-PART of its last part; LAST-MSN alone for the subtitles, which have no parts).
	 */
	#liveOptions(descriptor: StreamDescriptor, self: string): MediaPlaylistOptions {
		const partTargetS = descriptor.partTargetMs / 1000;
		const target = descriptor.targetDurationS;
		const renditionReports: RenditionReport[] = [];
		for (const { name } of descriptor.renditions) {
			const position = name === self ? undefined : lastPartPosition(this.renditions.get(name)?.timeline);
			if (position) renditionReports.push({ uri: `../${name}/index.m3u8`, ...position });
		}
		if (descriptor.subtitles && self !== subtitlesRendition && this.subtitles.lastMsn >= 0) {
			renditionReports.push({ uri: `../${subtitlesRendition}/index.m3u8`, lastMsn: this.subtitles.lastMsn });
		}
		return {
			targetDurationS: target,
			type: 'live',
			lowLatency: { partTargetS, partHoldBackS: partHoldBackParts * partTargetS, canSkipUntilS: 6 * target, partWindowS: 3 * target, renditionReports },
		};
	}

	/**
	 * Keeps the subtitles a valid sliding window whatever packagers send: one segment per media sequence number, in
	 * order, none skipped (players drop a playlist whose number names another URI than at their last reload). A
	 * segment for a number in the window replaces it in place (a packager that took the stream over may send one
	 * again); one older than the window is ignored; numbers skipped (a takeover resumes past the highest number any
	 * rendition reached, which the subtitles' reference rendition may not have) are filled with empty segments
	 * between the last segment's end and the new one's start.
	 */
	#addSubtitleSegment(event: Extract<HlsMessage['event'], { type: 'vtt' }>, bytes: Buffer): void {
		const segment = { msn: event.msn, durationS: event.durationS, pdtMs: event.pdtMs, discontinuity: event.discontinuity, mapUri: '' };
		const segments = this.subtitles.segments;
		const last = segments.at(-1);
		if (last && segment.msn <= last.msn) {
			const known = segments.find((s) => s.msn === segment.msn);
			if (!known) return;
			Object.assign(known, segment);
			this.vtt.set(segment.msn, bytes);
			return;
		}
		if (last && segment.msn > last.msn + 1) {
			const missing = segment.msn - last.msn - 1;
			const fromMs = Math.min(last.pdtMs + last.durationS * 1000, segment.pdtMs);
			const durationS = Math.max(minimumSubtitleGapS, (segment.pdtMs - fromMs) / 1000 / missing);
			for (let i = 0; i < missing; i++) {
				const msn = last.msn + 1 + i;
				this.subtitles.addSegment({ msn, durationS, pdtMs: Math.min(Math.round(fromMs + i * durationS * 1000), segment.pdtMs), discontinuity: false, mapUri: '' });
				this.vtt.set(msn, emptyWebVtt);
			}
		}
		this.subtitles.addSegment(segment);
		this.vtt.set(segment.msn, bytes);
		for (const dropped of this.subtitles.trim(this.#window.windowSegments)) this.vtt.delete(dropped.msn);
	}

	#cached(key: string, render: () => string): RenderedPlaylist {
		let playlist = this.#cache.get(key);
		if (!playlist) {
			playlist = new RenderedPlaylist(render());
			this.#cache.set(key, playlist);
		}
		return playlist;
	}

	#rendition(name: string): OriginRendition {
		let rendition = this.renditions.get(name);
		if (!rendition) {
			rendition = new OriginRendition(name);
			this.renditions.set(name, rendition);
		}
		return rendition;
	}
}

/** Where a rendition's last part is (a gap segment at the end has none), or its last segment when it has no parts. */
function lastPartPosition(timeline: Timeline | undefined): { lastMsn: number; lastPart?: number } | undefined {
	if (!timeline || timeline.lastMsn < 0) return undefined;
	const withParts = timeline.segments.findLast((s) => s.parts.length > 0);
	return withParts ? { lastMsn: withParts.msn, lastPart: withParts.parts.length - 1 } : { lastMsn: timeline.lastMsn };
}
