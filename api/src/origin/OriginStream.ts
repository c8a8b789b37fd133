import { gzipSync } from 'node:zlib';
import {
	MediaTimeline,
	renderMediaPlaylist,
	renderMultivariantPlaylist,
	vttName,
	type HlsMessage,
	type MediaPlaylistOptions,
	type StreamDescriptor,
} from '@tribune/transcoder';
import { BlockingWaiters } from './BlockingWaiters.js';
import { originContentType } from './originCacheHeaders.js';
import { OriginRendition } from './OriginRendition.js';

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
	#version = 0;
	#cache = new Map<string, { version: number; playlist: RenderedPlaylist }>();
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
				this.#rendition(event.rendition).addPart(event, bytes, this.#window.windowSegments, this.#partRetentionS());
				break;
			case 'vtt':
				this.subtitles.addSegment({ msn: event.msn, durationS: event.durationS, pdtMs: event.pdtMs, discontinuity: event.discontinuity, mapUri: '' });
				this.vtt.set(event.msn, bytes);
				for (const dropped of this.subtitles.trim(this.#window.windowSegments)) this.vtt.delete(dropped.msn);
				break;
			case 'end':
				for (const rendition of this.renditions.values()) rendition.end();
				this.subtitles.end();
				this.#ended = true;
				break;
		}
		this.#version++;
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

	/** The live media playlist of a rendition (a delta update with `skip`), rendered once per change. */
	mediaPlaylist(name: string, skip: boolean): RenderedPlaylist | undefined {
		const descriptor = this.descriptor;
		const rendition = this.renditions.get(name);
		if (!descriptor || !rendition || rendition.timeline.segments.length === 0) return undefined;
		return this.#cached(`${name}:${skip}`, () => renderMediaPlaylist(rendition.timeline, { ...this.#liveOptions(descriptor, name), skip }));
	}

	/** The live subtitles playlist: whole WebVTT segments, no parts, blocking reloads per segment. */
	subtitlesPlaylist(): RenderedPlaylist | undefined {
		const descriptor = this.descriptor;
		if (!descriptor?.subtitles) return undefined;
		return this.#cached('subs', () =>
			renderMediaPlaylist(this.subtitles, { targetDurationS: descriptor.targetDurationS, type: 'live', canBlockReload: true, segmentUri: vttName }),
		);
	}

	#liveOptions(descriptor: StreamDescriptor, self: string): MediaPlaylistOptions {
		const partTargetS = descriptor.partTargetMs / 1000;
		const target = descriptor.targetDurationS;
		const renditionReports = [...this.renditions.values()]
			.filter((r) => r.name !== self && r.timeline.lastMsn >= 0)
			.map((r) => ({ uri: `../${r.name}/index.m3u8`, lastMsn: r.timeline.lastMsn, lastPart: r.timeline.lastPartIndex }));
		return {
			targetDurationS: target,
			type: 'live',
			lowLatency: { partTargetS, partHoldBackS: 3 * partTargetS, canSkipUntilS: 6 * target, partWindowS: 3 * target, renditionReports },
		};
	}

	#partRetentionS(): number {
		// Parts leave the playlist after 3 target durations and stay downloadable for 3 more.
		return 6 * (this.descriptor?.targetDurationS ?? 2);
	}

	#cached(key: string, render: () => string): RenderedPlaylist {
		const hit = this.#cache.get(key);
		if (hit && hit.version === this.#version) return hit.playlist;
		const playlist = new RenderedPlaylist(render());
		this.#cache.set(key, { version: this.#version, playlist });
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
