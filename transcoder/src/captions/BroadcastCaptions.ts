import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { StageLinkClient } from '../stageLink/StageLinkClient.js';
import type { StageLinkSpeaker } from '../stageLink/stageLinkProtocol.js';
import { BurnedInCaptions } from './BurnedInCaptions.js';
import type { CaptionEngine } from './CaptionEngine.js';
import { captionModeHasBurnedIn, captionModeHasSidecar, publishCaption, readCaptionLog, subscribeCaptions, type CaptionCue } from './captionFeed.js';
import { CaptionSession } from './CaptionSession.js';
import { captionVocabularyChannel, readCaptionVocabulary } from './captionVocabulary.js';
import type { TimelineSegmentClock } from './mediaTimeMapping.js';
import { buildTranscript, renderTranscriptFiles } from './transcript.js';
import type { WallClockCue } from '../hls/WebVttSegmenter.js';

/** Changes of the space's words within this long are applied once: each replaces every speaker's recogniser. */
const vocabularyDebounceMs = 2000;

export interface BroadcastCaptionsOptions {
	spaceId: string;
	redis: Redis;
	prefix: string;
	link: StageLinkClient;
	/** The broadcast job's stage-link session; captions use one of their own derived from it. */
	sessionId: string;
	/** The job's private work directory (SDP files, the burned-in caption file). */
	workDir: string;
	ffmpegPath: string;
	/** Address the hosting node sends the speakers' RTP to: this machine's. Default 127.0.0.1. */
	ip?: string;
	/** Where sidecar cues go: the broadcast's packager (its subtitles rendition). */
	packager: { addWallClockCue(cue: WallClockCue): void; setSubtitlesDefault(on: boolean): void };
	/** A video space: burned-in captions are drawn on its composite. Audio-only spaces have no picture to draw on. */
	composite: boolean;
	canvas: { width: number; height: number };
	createEngine: (speaker: StageLinkSpeaker, logger: Logger) => CaptionEngine;
	logger: Logger;
	/**
	 * How long a sidecar cue stays on screen after the speech it shows, ms. Default 2000. A final exists only once
	 * the speaker paused, so without it a player close to the live edge would get the cue after its time had passed.
	 */
	lingerMs?: number;
	/**
	 * Where a sound's capture time, as the packager places cues (`Packager.capturedAtMs`: a run's dates less what its
	 * parts show them late by), lies relative to when the recogniser starts an utterance on it, ms; sidecar cues and
	 * the transcript are shifted by it so they sit on the speech in the picture's timeline. What remains between the
	 * two is the fastest part's own encode delay against the recogniser's lag (its gate needs some speech): default
	 * +330, measured in api/test/captionsBroadcast (cues 0 to +0.06 s from their voices at load 9–11, +0.04 to +0.15 s
	 * with +400 at load 2). It was −230 while the broadcast's sound played 0.6 s ahead of its picture (the mix's first
	 * sample was not padded back to the canvas's first frame): the offset made up for that too.
	 */
	encodeDelayMs?: number;
}

/**
 * Everything captions do inside a broadcast job: recognise every speaker (`CaptionSession`) and publish their cues
 * to the space's caption channel; follow that channel — ASR and captioner cues alike — into the LL-HLS subtitles
 * rendition (mode 'sidecar' or 'both') and the burned-in text of the composite ('burned-in' or 'both', video
 * spaces); and at the end, the transcript files of a recorded space.
 */
export class BroadcastCaptions {
	readonly #options: BroadcastCaptionsOptions;
	readonly #burnedIn: BurnedInCaptions | undefined;
	readonly #publishing = new Set<Promise<unknown>>();
	#session: CaptionSession | undefined;
	#subscriber: Redis | undefined;
	#unsubscribe: (() => Promise<void>) | undefined;
	#closed: Promise<void> | undefined;
	#finished: Promise<void> | undefined;
	#vocabularyTimer: NodeJS.Timeout | undefined;

	private constructor(options: BroadcastCaptionsOptions, burnedIn: BurnedInCaptions | undefined) {
		this.#options = options;
		this.#burnedIn = burnedIn;
	}

	static async start(options: BroadcastCaptionsOptions): Promise<BroadcastCaptions> {
		const burnedIn = options.composite
			? await BurnedInCaptions.create({ file: path.join(options.workDir, 'captions.txt'), canvas: options.canvas, logger: options.logger })
			: undefined;
		const captions = new BroadcastCaptions(options, burnedIn);
		try {
			await captions.#start();
		} catch (error) {
			await captions.close();
			throw error;
		}
		return captions;
	}

	/** The burned-in caption file for the composite's plan; undefined for an audio-only space. */
	get captionsFile(): string | undefined {
		return this.#burnedIn?.file;
	}

	/** The speech recognition of the stage (tests, metrics). */
	get session(): CaptionSession | undefined {
		return this.#session;
	}

	/**
	 * The broadcast is stopping: stops recognising (each speaker is captioned until their audio pauses, no decoder is
	 * restarted, utterances in progress end with their finals), while cues — those finals, a captioner's — still reach
	 * the packager and the burned-in text until {@link close}. Call it at the stop, not once the encoder has drained:
	 * the stage goes with the space, and captioners that outlived it saw their decoders time out (ffmpeg gives up on
	 * RTP after 10 s) and restart against a space no longer there. Resolves once the captioners are closed. Idempotent.
	 */
	finish(): Promise<void> {
		clearTimeout(this.#vocabularyTimer);
		this.#finished ??= this.#session?.close() ?? Promise.resolve();
		return this.#finished;
	}

	/** Stops recognising (as {@link finish}) and following the channel; the last finals are published first. */
	close(): Promise<void> {
		this.#closed ??= this.#close();
		return this.#closed;
	}

	/**
	 * Writes transcript.vtt/.srt/.txt/.json into `dir` (the replay's directory) from the space's caption log, timed on
	 * the replay whose first rendition has `segments`; nothing when the log has no final. Call after {@link close}, so
	 * the last finals are in the log. Returns the number of cues.
	 */
	async writeTranscript(dir: string, segments: readonly TimelineSegmentClock[], write: (file: string, text: string) => void): Promise<number> {
		const { redis, prefix, spaceId } = this.#options;
		// Cues are shifted as in the live track (`encodeDelayMs`), so the transcript and the replay's subtitles agree.
		const delayMs = this.#delayMs();
		const logged = (await readCaptionLog(redis, prefix, spaceId)).map((cue) => ({ ...cue, startMs: cue.startMs + delayMs, endMs: cue.endMs + delayMs }));
		const cues = buildTranscript(logged, segments);
		if (cues.length === 0) {
			// Captions were off, or nobody was captioned: no transcript (the api answers 404, the export has no track).
			this.#options.logger.info({ dir }, 'no captions: no transcript');
			return 0;
		}
		for (const [name, text] of Object.entries(renderTranscriptFiles(cues))) write(name, text);
		this.#options.logger.info({ cues: cues.length, dir }, 'transcript written');
		return cues.length;
	}

	async #start(): Promise<void> {
		const { redis, prefix, spaceId, logger } = this.#options;
		this.#subscriber = redis.duplicate();
		this.#unsubscribe = await subscribeCaptions(this.#subscriber, prefix, spaceId, (cue) => this.#onCue(cue), logger);
		// The space's words: read now, and again after each change a host makes (one read per change burst).
		const vocabularyChannel = captionVocabularyChannel(prefix, spaceId);
		this.#subscriber.on('message', (channel: string) => {
			if (channel !== vocabularyChannel || this.#vocabularyTimer || this.#finished) return;
			this.#vocabularyTimer = setTimeout(() => {
				this.#vocabularyTimer = undefined;
				readCaptionVocabulary(redis, prefix, spaceId)
					.then((vocabulary) => this.#session?.setVocabulary(vocabulary))
					.catch((error: unknown) => logger.warn({ err: error }, 'caption vocabulary not read'));
			}, vocabularyDebounceMs);
		});
		await this.#subscriber.subscribe(vocabularyChannel);
		const vocabulary = await readCaptionVocabulary(redis, prefix, spaceId).catch((error: unknown) => {
			logger.warn({ err: error }, 'caption vocabulary not read: captions start without it');
			return undefined;
		});
		this.#session = await CaptionSession.start({
			...(vocabulary && { vocabulary }),
			spaceId,
			link: this.#options.link,
			// Derived from the job's (≤ 61 characters), within the stage link's 64.
			sessionId: `${this.#options.sessionId.slice(0, 58)}-cap`,
			createEngine: this.#options.createEngine,
			onCue: (cue) => this.#publish(cue),
			onSnapshot: (snapshot) => {
				const mode = snapshot.captionMode ?? 'off';
				this.#burnedIn?.setEnabled(captionModeHasBurnedIn(mode));
				// The subtitles are shown by default only while they get cues (see renderMultivariantPlaylist).
				this.#options.packager.setSubtitlesDefault(captionModeHasSidecar(mode));
			},
			workDir: this.#options.workDir,
			ffmpegPath: this.#options.ffmpegPath,
			...(this.#options.ip !== undefined && { ip: this.#options.ip }),
			logger,
		});
	}

	#publish(cue: CaptionCue): void {
		const { redis, prefix, logger } = this.#options;
		const publishing = publishCaption(redis, prefix, cue).catch((error: unknown) => logger.warn({ err: error, final: cue.final }, 'caption not published'));
		this.#publishing.add(publishing);
		void publishing.finally(() => this.#publishing.delete(publishing));
	}

	#onCue(cue: CaptionCue): void {
		const mode = this.#session?.mode ?? 'off';
		if (captionModeHasBurnedIn(mode)) this.#burnedIn?.show(cue);
		if (!cue.final || !captionModeHasSidecar(mode)) return;
		const lingerMs = this.#options.lingerMs ?? 2000;
		const delayMs = this.#delayMs();
		this.#options.packager.addWallClockCue({
			startMs: cue.startMs + delayMs,
			// A final that comes late (a recogniser behind on a loaded machine, a slow captioner) still shows, for the
			// linger time from now: late captions beat missing ones.
			endMs: Math.max(cue.endMs + delayMs + lingerMs, cue.startMs + delayMs + 1000, Date.now() + lingerMs),
			text: cue.text,
			voice: cue.speakerName,
		});
	}

	#delayMs(): number {
		return this.#options.encodeDelayMs ?? 330;
	}

	async #close(): Promise<void> {
		await this.finish();
		// Finals of the utterances the session just ended must reach the log before a transcript reads it.
		await Promise.all(this.#publishing);
		await this.#unsubscribe?.().catch(() => {});
		this.#subscriber?.disconnect();
		await this.#burnedIn?.close();
	}
}
