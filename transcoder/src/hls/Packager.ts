import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { BoxParser } from './BoxParser.js';
import type { HlsEvent, HlsMessage, RenditionInfo, StreamDescriptor, UnnumberedHlsEvent } from './HlsEvent.js';
import type { HlsDiskWriter } from './HlsDiskWriter.js';
import { subtitlesRendition, vttName } from './hlsNames.js';
import { MediaTimeline } from './MediaTimeline.js';
import { renderMultivariantPlaylist } from './MultivariantPlaylist.js';
import { renderMediaPlaylist } from './PlaylistWriter.js';
import { RenditionPackager, type StartedSegment } from './RenditionPackager.js';
import { RunSwitcher } from './RunSwitcher.js';
import { averageSegmentBitRate, peakSegmentBitRate, type SizedSegment } from './segmentBitRates.js';
import type { StreamResume } from './streamResume.js';
import { renderWebVtt, WebVttSegmenter, type Cue, type WallClockCue } from './WebVttSegmenter.js';

/** Shortest subtitle segment filling a number the reference rendition skipped, s (EXTINF must be positive). */
const minimumSubtitleGapS = 0.001;
/** Duration of a gap segment whose number no rendition of this packager has media for, s (EXTINF must be positive). */
const minimumGapS = 0.001;
/**
 * Shortest stretch of capture time a new run's media may begin after the run it replaced delivered to, as a fraction
 * of the segment target, before gap segments mark it (see the switch in the constructor); a shorter one is left to
 * the estimates' noise.
 */
const lostMediaGapSegments = 0.5;

/** Where a packager's events go: Redis for origins (RedisHlsPublisher), or an origin in the same process. */
export interface HlsSink {
	publish(message: HlsMessage): void;
}

/** A rendition the encoder produces; codecs and size come from its init section. */
export interface RenditionSpec {
	name: string;
	kind: 'video' | 'audio';
	/** Expected peak segment bit rate, bits per second, for BANDWIDTH (raised if a stream measures more). */
	bandwidth: number;
	frameRate?: number;
}

export interface PackagerOptions {
	streamId: string;
	renditions: readonly RenditionSpec[];
	/** Part target, ms (200–333; default 200). */
	partTargetMs: number;
	/** Segment target, ms; a whole number of GOPs (default 1000). */
	segmentTargetMs: number;
	/** Write a WebVTT subtitles rendition from cues given to {@link Packager.addCue}. */
	subtitles: boolean;
	sink: HlsSink;
	/** The replay store; without it nothing is written to disk. */
	disk?: HlsDiskWriter;
	logger: Logger;
	/** Wall clock, ms (tests pin it). */
	nowMs?: () => number;
	/** A run went on air (the runner stops the older ones). */
	onRunOnAir?: (run: number) => void;
	/**
	 * How long a new run must have been producing before it replaces a live one, ms. Default 100 with video
	 * renditions (the broadcast forces a keyframe at every part of a run's first segment, and a stage change should
	 * show within 2 s), 400 for audio only.
	 */
	switchWarmupMs?: number;
	/**
	 * Continue a stream another packager started (see `planStreamResume`): event, part, segment and init numbers go
	 * on from where it stopped, the first segment follows a discontinuity, and the replay keeps its segments.
	 */
	resume?: StreamResume;
}

/**
 * Packages one broadcast into LL-HLS: one {@link RenditionPackager} per rendition of the encode, one wall clock for
 * all of them (their PROGRAM-DATE-TIMEs agree), WebVTT segments that follow the first rendition's segments, and on
 * {@link end} the replay playlists.
 */
export class Packager {
	readonly options: PackagerOptions;
	readonly #renditions = new Map<string, RenditionPackager>();
	readonly #vtt = new WebVttSegmenter();
	readonly subtitlesTimeline = new MediaTimeline();
	#seq = 0;
	#anchor: { wallMs: number; mediaS: number } | undefined;
	/** When the media the run going on air delivers first was captured, as the switcher estimates it. */
	#anchorCapturedAtMs: number | undefined;
	#lastPdtEndMs = 0;
	/** Where the next run's dates begin when gap segments lead up to it (see {@link #markLostMedia}). */
	#anchorAtMs: number | undefined;
	/**
	 * How late the on-air run's program-date-times are, at least: the most by which a part was in the packager's
	 * hands before the PDT of its last sample (no part can arrive before it was captured). See {@link #pdtMs}.
	 */
	#runPdtLateMs = 0;
	/** {@link #runPdtLateMs} of the run whose reference segment is open (the subtitle segment maps cues by it). */
	#openSubtitlePdtLateMs = 0;
	/**
	 * {@link #runPdtLateMs} the subtitle segments were placed with, for the transcript: from `fromMsn` on, until the
	 * next entry (it changes a few times a run, so a day-long broadcast keeps a short list).
	 */
	readonly #subtitlePdtLateMs: { fromMsn: number; lateMs: number }[] = [];
	/** Counts run switches, so a segment of the run before one keeps that run's {@link #runPdtLateMs}. */
	#runGeneration = 0;
	#openSubtitleGeneration = 0;
	/** The renditions of the descriptor sent to origins, once every rendition has its init section. */
	#descriptorRenditions: RenditionInfo[] | undefined;
	#subtitlesDefault = false;
	/** Some subtitle segment had a cue: the replay shows its subtitles by default. */
	#subtitlesHadCues = false;
	/** BANDWIDTH per rendition as origins were told it: the expected peak, raised when a stream measures more. */
	readonly #bandwidth = new Map<string, number>();
	/** Bytes of each subtitle segment this packager wrote, by number. */
	readonly #subtitleBytes = new Map<number, number>();
	#ended = false;
	/** Parts dated from this instant on are not part of the stream (see `cutAt`). */
	#cutAtMs: number | undefined;
	#sequentialRun = 0;
	/** Number of the last subtitle segment this packager published. */
	#lastVttMsn: number | undefined;
	/** The reference rendition's open segment, whose subtitle segment goes out when it closes. */
	#openSubtitle: StartedSegment | undefined;
	readonly #switcher: RunSwitcher;

	constructor(options: PackagerOptions) {
		if (options.partTargetMs < 200 || options.partTargetMs > 333) throw new Error('partTargetMs must be within 200–333');
		if (options.segmentTargetMs < 3 * options.partTargetMs) throw new Error('segmentTargetMs must be at least 3 part targets');
		this.options = options;
		const { resume } = options;
		if (resume) {
			this.#seq = resume.nextSeq;
			this.#lastPdtEndMs = resume.lastPdtEndMs;
		}
		for (const spec of options.renditions) {
			this.#bandwidth.set(spec.name, spec.bandwidth);
			this.#renditions.set(spec.name, new RenditionPackager(spec.name, this.#renditionContext(), resume?.renditions[spec.name]));
		}
		this.#switcher = new RunSwitcher({
			renditions: options.renditions.map((r) => r.name),
			warmupMs: options.switchWarmupMs ?? (options.renditions.some((r) => r.kind === 'video') ? 100 : 400),
			...(options.nowMs && { nowMs: options.nowMs }),
			aligned: () => new Set([...this.#renditions.values()].map((r) => r.placedMsn)).size <= 1,
			// A healthy run on air catches up within a part; one that stopped delivering (its input went away) must
			// not hold the new run back long: the stall would reach the players.
			maxAlignWaitMs: 2 * options.partTargetMs,
			deliver: (rendition, item) => {
				const packager = this.#rendition(rendition);
				if (item.kind === 'init') packager.addInit(item.ftyp, item.moov);
				else packager.addPart(item.moof, item.mdat);
			},
			switched: (run, hadPrevious, { skippedParts, alignWaitMs, startCapturedAtMs, originS, placedBy, arrivalLagMs }) => {
				this.options.logger.info({ run, placedBy, arrivalLagMs }, 'a new run goes on air');
				if (skippedParts > 0) this.options.logger.debug({ run, skippedParts }, 'a new run wrote parts that could not start playback');
				if (alignWaitMs > 0) this.options.logger.debug({ run, alignWaitMs, placed: Object.fromEntries([...this.#renditions].map(([name, r]) => [name, r.placedMsn])) }, 'a new run waited for the renditions on air to reach one segment number');
				// The new run's media time starts over: re-anchor it to the wall clock, and open one new segment number
				// for every rendition after a discontinuity. A rendition still behind (the run on air died, or did not
				// align within the switcher's wait) gets a gap segment for each number it skipped.
				this.#anchor = undefined;
				this.#anchorCapturedAtMs = startCapturedAtMs;
				this.#anchorAtMs = undefined;
				this.#runPdtLateMs = 0;
				this.#runGeneration++;
				if (hadPrevious) {
					const renditions = [...this.#renditions.values()];
					let last = Math.max(...renditions.map((r) => r.placedMsn));
					for (const rendition of renditions) this.#fillGap(rendition, rendition.placedMsn, last, (msn) => this.#gapAt(msn, rendition));
					if (startCapturedAtMs !== undefined) last = this.#markLostMedia(run, last, startCapturedAtMs);
					for (const rendition of renditions) rendition.restart(last + 1);
				}
				// Its segments follow its GOP grid, wherever it went on air.
				for (const [name, rendition] of this.#renditions) {
					const origin = originS.get(name);
					if (origin !== undefined) rendition.alignTo(origin);
				}
				this.options.onRunOnAir?.(run);
			},
		});
		// The packager that stopped had the reference's last segment open: its subtitle segment, without the cues that
		// packager held, goes to origins only (the replay's reference rendition has no such segment in its journal).
		if (options.subtitles && resume?.owedSubtitle) {
			const owed = resume.owedSubtitle;
			this.#publish({ type: 'vtt', ...owed, durationS: Math.max(minimumSubtitleGapS, owed.durationS) }, Buffer.from(renderWebVtt(0, [])));
		}
		// A takeover: a rendition that was behind the others gets gap segments up to the number all continue after.
		if (resume) {
			for (const [name, rendition] of this.#renditions) {
				const own = resume.renditions[name];
				if (own?.placedMsn !== undefined) this.#fillGap(rendition, own.placedMsn, own.lastMsn, () => ({ pdtMs: Math.round(resume.lastPdtEndMs), durationS: minimumGapS }));
			}
		}
		// Subtitle segments follow the first rendition's: the replay's earlier ones are those of its journal.
		const reference = options.renditions[0] && resume?.renditions[options.renditions[0].name];
		if (options.subtitles && reference) {
			for (const { msn, durationS, pdtMs, discontinuity } of reference.replaySegments) this.subtitlesTimeline.addSegment({ msn, durationS, pdtMs, discontinuity, mapUri: '' });
		}
	}

	get targetDurationS(): number {
		return Math.ceil(this.options.segmentTargetMs / 1000);
	}

	/** The timeline of a rendition (metadata only), as the replay playlist is rendered from it. */
	timeline(rendition: string): MediaTimeline {
		return this.#rendition(rendition).timeline;
	}

	/**
	 * Reads one encoder run's output of a rendition, until it ends. Runs are numbered in the order the runner starts
	 * them; a newer run goes on air once it can take over (see {@link RunSwitcher}), and then older runs' output is
	 * dropped. {@link options}.onRunOnAir says when.
	 */
	async attachRun(run: number, rendition: string, input: Readable): Promise<void> {
		if (this.#ended) throw new Error('packager has ended');
		this.#rendition(rendition);
		this.#switcher.opened(run, rendition);
		const parser = new BoxParser();
		let ftyp: Buffer | undefined;
		let moof: Buffer | undefined;
		let parts = 0;
		try {
			for await (const chunk of input as AsyncIterable<Buffer>) {
				if (this.#ended) break;
				for (const box of parser.push(chunk)) {
					if (box.type === 'ftyp') ftyp = box.bytes;
					else if (box.type === 'moov') this.#switcher.push(run, rendition, { kind: 'init', ftyp: ftyp ?? Buffer.alloc(0), moov: box.bytes });
					else if (box.type === 'moof') moof = box.bytes;
					else if (box.type === 'mdat' && moof) {
						if (parts++ === 0) this.options.logger.debug({ run, rendition }, 'encoder run output started');
						this.#switcher.push(run, rendition, { kind: 'part', moof, mdat: box.bytes });
						moof = undefined;
					}
					// styp, sidx, free, …: not needed; the init section and moof carry all timing.
				}
			}
		} finally {
			this.#switcher.closed(run, rendition);
		}
	}

	/** How late the encoder run on air's output is now, ms (see {@link RunSwitcher.outputLagMs}). */
	outputLagMs(): number | undefined {
		return this.#switcher.outputLagMs();
	}

	/** Run `run`'s encoder read its media instant 0 from the stage at `wallMs` (see {@link RunSwitcher.mediaOrigin}). */
	runMediaOrigin(run: number, wallMs: number): void {
		this.#switcher.mediaOrigin(run, wallMs);
	}

	/** The runner stopped `run` before it went on air: it never will (see {@link RunSwitcher.abandon}). */
	abandonRun(run: number): void {
		this.#switcher.abandon(run);
	}

	/**
	 * Reads one encoder run of a rendition, for runners that stop one run before starting the next: call
	 * {@link restart} before attaching a new run's outputs.
	 */
	async attach(rendition: string, input: Readable): Promise<void> {
		await this.attachRun(this.#sequentialRun, rendition, input);
	}

	/** A new encoder run is about to start (see {@link attach}). */
	restart(): void {
		this.#sequentialRun++;
	}

	/** Adds a caption in media time (the encoder's timeline, seconds). */
	addCue(cue: Cue): void {
		this.#vtt.add(cue);
	}

	/**
	 * Adds a caption timed on the wall clock (when it was spoken); each subtitle segment places it on its own run's
	 * media time through its program-date-time, so it stays right across run switches and discontinuities.
	 */
	addWallClockCue(cue: WallClockCue): void {
		this.#vtt.addWallClock(cue);
	}

	/**
	 * When the media of the first rendition's segment `msn` was captured, as far as this packager knows: its
	 * program-date-time less what its run's dates were measured to be late by (see {@link #pdtMs}). Captions, timed
	 * by when their words were spoken, map onto the media by these.
	 */
	capturedAtMs(msn: number, pdtMs: number): number {
		const changes = this.#subtitlePdtLateMs;
		let lateMs = 0;
		for (let i = changes.length - 1; i >= 0; i--) {
			if (changes[i]!.fromMsn <= msn) {
				lateMs = changes[i]!.lateMs;
				break;
			}
		}
		return pdtMs - lateMs;
	}

	/**
	 * The space ended at `atMs` (wall clock): parts dated from then on are dropped, live and from the replay. A
	 * stopping encoder flushes what it had read — on a busy machine a second or more captured after the end — and a
	 * replay should end when the space did. The first cut stands.
	 */
	cutAt(atMs: number): void {
		this.#cutAtMs ??= atMs;
	}

	/**
	 * Ends the broadcast: completes the last segments, tells origins, writes the replay playlists.
	 * `beforeReplayComplete` runs once the timelines are final and before `stream.json` (which marks the replay
	 * complete) is queued: files it writes through the disk writer (the transcript) are there whenever the replay is.
	 */
	async end(options: { beforeReplayComplete?: () => Promise<void> } = {}): Promise<void> {
		if (this.#ended) return;
		this.#ended = true;
		for (const rendition of this.#renditions.values()) rendition.end();
		this.#closeSubtitleSegment();
		this.subtitlesTimeline.end();
		this.#publish({ type: 'end' }, Buffer.alloc(0));
		await options.beforeReplayComplete?.();
		this.#writeReplay();
		await this.options.disk?.flush();
	}

	#rendition(name: string): RenditionPackager {
		const rendition = this.#renditions.get(name);
		if (!rendition) throw new Error(`unknown rendition ${name}`);
		return rendition;
	}

	#renditionContext() {
		return {
			partTargetS: this.options.partTargetMs / 1000,
			segmentTargetS: this.options.segmentTargetMs / 1000,
			disk: this.options.disk,
			publish: (event: UnnumberedHlsEvent, bytes: Buffer) => this.#publish(event, bytes),
			pdtMs: (mediaS: number, durationS: number) => this.#pdtMs(mediaS, durationS),
			accepts: (mediaS: number) => this.#cutAtMs === undefined || !this.#anchor || this.#pdtMs(mediaS, 0) < this.#cutAtMs,
			partEnded: (mediaEndS: number) => {
				if (!this.#anchor) return;
				const endMs = this.#pdtMs(mediaEndS, 0);
				this.#lastPdtEndMs = Math.max(this.#lastPdtEndMs, endMs);
				this.#runPdtLateMs = Math.max(this.#runPdtLateMs, endMs - (this.options.nowMs ?? Date.now)());
				if (this.#openSubtitle && this.#openSubtitleGeneration === this.#runGeneration) this.#openSubtitlePdtLateMs = this.#runPdtLateMs;
			},
			onInit: () => this.#maybeSendDescriptor(),
			onSegmentStarted: (rendition: string, segment: StartedSegment) => this.#onSegmentStarted(rendition, segment),
			onSegmentClosed: (rendition: string) => this.#checkBandwidth(rendition),
		};
	}

	#publish(event: UnnumberedHlsEvent, bytes: Buffer): void {
		const message = { event: { ...event, seq: this.#seq++ } as HlsEvent, bytes };
		this.options.sink.publish(message);
	}

	/**
	 * The first part of an encoder run anchors media time to the wall clock: its first sample was captured when the
	 * switcher estimates (from the least delay of the run's parts so far), at latest its duration before it arrived.
	 * PDT never goes backwards across runs.
	 *
	 * That makes a run's dates late by its first part's encode delay, which a busy machine, the burst of input
	 * probing or a warmed-up run's buffered parts stretch to a second or more; dates already published cannot move,
	 * so the run's later parts measure it instead: one that arrives before its own last sample's date shows the
	 * dates late by at least that much ({@link #runPdtLateMs}). Wall-clock cues are placed by it.
	 */
	#pdtMs(mediaS: number, durationS: number): number {
		if (!this.#anchor) {
			const now = (this.options.nowMs ?? Date.now)();
			// A run that goes on air with parts held (while the run before delivered its backlog) is dated from when
			// its media was captured, not from when the packager got it: dates go on where the last run's ended.
			const capturedAtMs = this.#anchorCapturedAtMs ?? now - durationS * 1000;
			this.#anchor = { wallMs: this.#anchorAtMs ?? Math.max(Math.min(capturedAtMs, now - durationS * 1000), this.#lastPdtEndMs), mediaS };
		}
		return Math.round(this.#anchor.wallMs + (mediaS - this.#anchor.mediaS) * 1000);
	}

	/**
	 * Gap segments for the numbers a rendition skipped; for the subtitles' reference rendition, empty subtitle
	 * segments of the same numbers go out first, so the subtitles never lack a number the reference lists.
	 */
	#fillGap(rendition: RenditionPackager, afterMsn: number, toMsn: number, gapAt: (msn: number) => { pdtMs: number; durationS: number }): void {
		if (afterMsn < 0 || afterMsn >= toMsn) return;
		if (this.options.subtitles && rendition.name === this.options.renditions[0]?.name) {
			this.#closeSubtitleSegment();
			for (let msn = afterMsn + 1; msn <= toMsn; msn++) this.#putSubtitleSegment({ msn, ...gapAt(msn), discontinuity: false }, renderWebVtt(0, []));
		}
		rendition.fillGap(afterMsn, toMsn, gapAt);
	}

	/**
	 * A run that replaces another at a switch, its media captured from `capturedAtMs` on, goes on air after what the
	 * run before delivered: when the run before could not deliver up to there (a starved encoder whose backlog the
	 * switcher waits for only so long, or one that died or was stopped with it), the capture time in between was never
	 * on air. Its dates would jump that far; instead gap segments (EXT-X-GAP, in every rendition and the subtitles)
	 * after segment `last` cover it, so the replay's timeline, its MP4 and its transcript keep the wall clock's time.
	 * Returns the last number they took.
	 */
	#markLostMedia(run: number, last: number, capturedAtMs: number): number {
		const now = (this.options.nowMs ?? Date.now)();
		// The new run is dated from the gap's end: as it would be (see #pdtMs), its first part at most a part target long.
		const fromMs = this.#lastPdtEndMs;
		const toMs = Math.round(Math.min(capturedAtMs, now - this.options.partTargetMs));
		if (fromMs <= 0 || toMs - fromMs < lostMediaGapSegments * this.options.segmentTargetMs) return last;
		// Each rendition's gap runs from where its own media ends (renditions end up to a segment apart), so its dates run
		// on; as many segments in each (one number for all), none longer than the segment target.
		const ownFromMs = new Map([...this.#renditions].map(([name, rendition]) => {
			const own = rendition.timeline.segments.at(-1);
			return [name, own ? Math.min(fromMs, Math.round(own.pdtMs + own.durationS * 1000)) : fromMs];
		}));
		const count = Math.ceil((toMs - Math.min(...ownFromMs.values())) / this.options.segmentTargetMs);
		for (const [name, rendition] of this.#renditions) {
			const startMs = ownFromMs.get(name)!;
			const startOf = (k: number) => startMs + Math.round(((toMs - startMs) * k) / count);
			this.#fillGap(rendition, last, last + count, (msn) => ({ pdtMs: startOf(msn - last - 1), durationS: (startOf(msn - last) - startOf(msn - last - 1)) / 1000 }));
		}
		this.#lastPdtEndMs = toMs;
		this.#anchorAtMs = toMs;
		this.options.logger.warn({ run, lostMs: toMs - fromMs, gapSegments: count }, 'the run replaced could not deliver up to where the new one begins: gap segments mark the time lost');
		return last + count;
	}

	/**
	 * Timing of a gap segment for number `msn` of a rendition that skipped it: that of another rendition's segment of
	 * that number (its media, up to the switch), else a tiny one at the lagging rendition's end.
	 */
	#gapAt(msn: number, lagging: RenditionPackager): { pdtMs: number; durationS: number } {
		for (const rendition of this.#renditions.values()) {
			const segment = rendition.timeline.segments.find((s) => s.msn === msn && !s.gap);
			if (segment && segment.durationS > 0) return { pdtMs: segment.pdtMs, durationS: segment.durationS };
		}
		const last = lagging.timeline.segments.at(-1);
		return { pdtMs: last ? Math.round(last.pdtMs + last.durationS * 1000) : this.#lastPdtEndMs, durationS: minimumGapS };
	}

	#maybeSendDescriptor(): void {
		if (this.#descriptorRenditions) return;
		const renditions: RenditionInfo[] = [];
		for (const spec of this.options.renditions) {
			const init = this.#renditions.get(spec.name)?.init;
			if (!init) return;
			const video = init.tracks.find((t) => t.kind === 'video');
			const codecs = init.tracks.map((t) => t.codec).filter((c): c is string => c !== undefined);
			renditions.push({ ...spec, codecs, ...(video ? { width: video.width, height: video.height } : {}) });
		}
		this.#descriptorRenditions = renditions;
		this.#publish({ type: 'stream', descriptor: this.descriptor(renditions) }, Buffer.alloc(0));
	}

	/**
	 * Whether players should show the subtitles by default (the caption mode shows sidecar captions; default no).
	 * A change after the stream was described describes it again: origins serve the new multivariant playlist to
	 * players that load it from then on (those playing keep their choice; Tribune's player has its own CC button).
	 */
	setSubtitlesDefault(on: boolean): void {
		if (on === this.#subtitlesDefault) return;
		this.#subtitlesDefault = on;
		const renditions = this.#descriptorRenditions;
		if (renditions && !this.#ended) this.#publish({ type: 'stream', descriptor: this.descriptor(renditions) }, Buffer.alloc(0));
	}

	/** What origins and the replay's multivariant playlist say about this stream (BANDWIDTH as origins were told). */
	descriptor(renditions: RenditionInfo[], subtitlesDefault = this.#subtitlesDefault): StreamDescriptor {
		const { streamId, partTargetMs, segmentTargetMs, subtitles } = this.options;
		const described = renditions.map((r) => ({ ...r, bandwidth: this.#bandwidth.get(r.name) ?? r.bandwidth }));
		return { streamId, partTargetMs, segmentTargetMs, targetDurationS: this.targetDurationS, renditions: described, subtitles, ...(subtitles && { subtitlesDefault }) };
	}

	/**
	 * BANDWIDTH must be at least the peak segment bit rate (RFC 8216bis §4.4.6.2), subtitles included (a variant plays
	 * with them). The expected peak comes from measured encodes (`renditionBandwidth`); should a stream measure more
	 * over its latest segments, the rendition's BANDWIDTH is raised 10 % above it and the stream described again, so
	 * every player that loads the multivariant playlist from then on gets a value the stream has not exceeded.
	 */
	#checkBandwidth(name: string): void {
		const rendition = this.#rendition(name);
		const recent = (segments: readonly { msn: number; durationS: number; gap?: boolean }[], bytes: ReadonlyMap<number, number>): number =>
			peakSegmentBitRate(segments.slice(-4).map((s) => ({ durationS: s.durationS, bytes: bytes.get(s.msn) ?? 0, ...(s.gap && { gap: true }) })), this.targetDurationS);
		// Called as a segment closes: it is the timeline's last one.
		const measured = recent(rendition.timeline.segments, rendition.segmentBytes) + (this.options.subtitles ? recent(this.subtitlesTimeline.segments, this.#subtitleBytes) : 0);
		const advertised = this.#bandwidth.get(name) ?? 0;
		if (measured <= advertised) return;
		const raised = Math.ceil((measured * 1.1) / 1000) * 1000;
		this.#bandwidth.set(name, raised);
		this.options.logger.info({ rendition: name, measured: Math.round(measured), advertised, raised }, 'a rendition measured above its BANDWIDTH: raised');
		const renditions = this.#descriptorRenditions;
		if (renditions && !this.#ended) this.#publish({ type: 'stream', descriptor: this.descriptor(renditions) }, Buffer.alloc(0));
	}

	/**
	 * Subtitle segments follow the first rendition's segments: same media sequence number, same PROGRAM-DATE-TIME and
	 * same duration, so the subtitles' durations add up to their dates as the reference's do (RFC 8216bis §4.4.4.1,
	 * §4.4.4.6). Each one is published when its reference segment closes, the only time its duration is known: a
	 * duration guessed at the segment's start (it was one segment target, while audio-only segments are 5 or 6 parts of
	 * 192 ms) cannot be corrected later, as a live playlist may only grow and lose its oldest segments (§6.2.1). A cue
	 * is not published later for it: cues are finals, which exist only after their speech, and one that arrives while a
	 * segment is open goes out at that segment's close in both designs, now in the open segment itself rather than the
	 * next (it can cover the media a player at PART-HOLD-BACK has not played yet).
	 */
	#onSegmentStarted(rendition: string, segment: StartedSegment): void {
		if (!this.options.subtitles || rendition !== this.options.renditions[0]?.name) return;
		this.#closeSubtitleSegment();
		this.#fillSubtitleGap(segment.msn, segment.pdtMs);
		this.#openSubtitle = segment;
		this.#openSubtitlePdtLateMs = this.#runPdtLateMs;
		this.#openSubtitleGeneration = this.#runGeneration;
	}

	/** Publishes the subtitle segment of the reference rendition's segment that just closed, with its final duration. */
	#closeSubtitleSegment(): void {
		const open = this.#openSubtitle;
		const reference = this.options.renditions[0];
		if (!open || !reference) return;
		this.#openSubtitle = undefined;
		const placed = this.#rendition(reference.name).timeline.segments.find((s) => s.msn === open.msn);
		const durationS = Math.max(minimumSubtitleGapS, placed?.durationS ?? 0);
		const { msn, pdtMs, discontinuity } = open;
		// Cues carry when their words were spoken: they are placed by when the segment's media was captured, its date
		// less what the run's dates are known to be late by.
		const text = this.#vtt.segment(open.startMediaS, durationS, pdtMs - this.#openSubtitlePdtLateMs);
		if ((this.#subtitlePdtLateMs.at(-1)?.lateMs ?? 0) !== this.#openSubtitlePdtLateMs) {
			this.#subtitlePdtLateMs.push({ fromMsn: msn, lateMs: this.#openSubtitlePdtLateMs });
			this.options.logger.debug({ msn, lateMs: this.#openSubtitlePdtLateMs }, 'the run\'s dates are measured later than its media was captured');
		}
		// Cue text is escaped (`-->` becomes `--&gt;`): the arrow is only ever a cue's timing line.
		if (text.includes(' --> ')) this.#subtitlesHadCues = true;
		this.#putSubtitleSegment({ msn, durationS, pdtMs, discontinuity }, text);
	}

	/**
	 * One WebVTT segment per media sequence number, never two: players drop a playlist whose number `msn` names
	 * another URI than at their last reload (hls.js: "media sequence mismatch"), and a number skipped shifts every
	 * later URI. A segment for a number already published replaces it in place, with its timing.
	 */
	#putSubtitleSegment(segment: { msn: number; durationS: number; pdtMs: number; discontinuity: boolean }, text: string): void {
		const known = this.subtitlesTimeline.segments.find((s) => s.msn === segment.msn);
		if (known) Object.assign(known, segment);
		else this.subtitlesTimeline.addSegment({ ...segment, mapUri: '' });
		this.#subtitleBytes.set(segment.msn, Buffer.byteLength(text));
		this.options.disk?.writeFile(`${subtitlesRendition}/${vttName(segment.msn)}`, text);
		this.#publish({ type: 'vtt', ...segment }, Buffer.from(text));
		this.#lastVttMsn = Math.max(this.#lastVttMsn ?? -1, segment.msn);
	}

	/**
	 * The reference rendition can skip numbers at a run switch: all renditions restart at one number past the
	 * highest any of them reached, and the reference may have been a segment behind another. Each skipped number
	 * still gets a subtitle segment (no cues, between the last one's end and the next one's start), so the
	 * subtitles' numbering stays contiguous.
	 */
	#fillSubtitleGap(nextMsn: number, nextPdtMs: number): void {
		// Only after a segment of this packager's: a takeover's first number follows segments another packager
		// published, which origins hold (and fill up to it themselves), not those of the replay's journal.
		const last = this.subtitlesTimeline.segments.find((s) => s.msn === this.#lastVttMsn);
		if (!last || nextMsn <= last.msn + 1) return;
		const reference = this.options.renditions[0];
		const placed = reference && this.#rendition(reference.name).timeline.segments.find((s) => s.msn === last.msn);
		const fromMs = Math.min(last.pdtMs + (placed?.durationS ?? last.durationS) * 1000, nextPdtMs);
		const missing = nextMsn - last.msn - 1;
		const durationS = Math.max(minimumSubtitleGapS, (nextPdtMs - fromMs) / 1000 / missing);
		for (let i = 0; i < missing; i++) {
			const pdtMs = Math.min(Math.round(fromMs + i * durationS * 1000), nextPdtMs);
			this.#putSubtitleSegment({ msn: last.msn + 1 + i, durationS, pdtMs, discontinuity: false }, renderWebVtt(0, []));
		}
	}

	/**
	 * A replay rendition's measured peak and average segment bit rates, subtitles included. Segments another packager
	 * completed before a takeover are measured from their journal; when an older journal lacks sizes, BANDWIDTH is at
	 * least what live players were told and AVERAGE-BANDWIDTH is left out.
	 */
	#measuredBandwidth(rendition: RenditionPackager): { bandwidth: number; averageBandwidth?: number } {
		const sized = (segments: readonly { msn: number; durationS: number; gap?: boolean }[], bytes: ReadonlyMap<number, number>): (SizedSegment & { known: boolean })[] =>
			segments.map((s) => ({ durationS: s.durationS, bytes: bytes.get(s.msn) ?? 0, known: s.gap === true || bytes.has(s.msn), ...(s.gap && { gap: true }) }));
		const media = sized(rendition.timeline.segments, rendition.segmentBytes);
		const subtitles = this.options.subtitles ? sized(this.subtitlesTimeline.segments, this.#subtitleBytes) : [];
		const peak = Math.ceil(peakSegmentBitRate(media, this.targetDurationS) + peakSegmentBitRate(subtitles, this.targetDurationS));
		if (media.every((s) => s.known) && peak > 0) return { bandwidth: peak, averageBandwidth: Math.ceil(averageSegmentBitRate(media) + averageSegmentBitRate(subtitles)) };
		return { bandwidth: Math.max(peak, this.#bandwidth.get(rendition.name) ?? 0) };
	}

	#writeReplay(): void {
		const disk = this.options.disk;
		if (!disk) return;
		const renditions: RenditionInfo[] = [];
		for (const spec of this.options.renditions) {
			const rendition = this.#rendition(spec.name);
			const tracks = rendition.init?.tracks ?? [];
			const video = tracks.find((t) => t.kind === 'video');
			const codecs = tracks.map((t) => t.codec).filter((c): c is string => c !== undefined);
			renditions.push({ ...spec, codecs, ...(video ? { width: video.width, height: video.height } : {}), ...this.#measuredBandwidth(rendition) });
			disk.writeFile(`${spec.name}/vod.m3u8`, renderMediaPlaylist(rendition.timeline, { targetDurationS: this.targetDurationS, type: 'vod' }));
		}
		if (this.options.subtitles) {
			const vod = renderMediaPlaylist(this.subtitlesTimeline, { targetDurationS: this.targetDurationS, type: 'vod', segmentUri: vttName });
			disk.writeFile(`${subtitlesRendition}/vod.m3u8`, vod);
		}
		// The replay's BANDWIDTH and AVERAGE-BANDWIDTH are what its segments measure (§4.4.6.2: a MUST once all exist).
		const descriptor = { ...this.descriptor(renditions, this.#subtitlesHadCues), renditions };
		disk.writeFile('vod.m3u8', renderMultivariantPlaylist(descriptor, 'vod.m3u8'));
		disk.writeFile('stream.json', JSON.stringify({ descriptor, endedAtMs: (this.options.nowMs ?? Date.now)() }));
	}
}
