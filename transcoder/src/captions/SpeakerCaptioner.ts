import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allocateUdpPortPair, buildConsumerSdp, waitForUdpPortsBound } from '@tribune/ingest';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { StageLinkClient } from '../stageLink/StageLinkClient.js';
import { buildPcmDecoderArgs } from './buildPcmDecoderArgs.js';
import type { CaptionEngine, CaptionFinal, CaptionPartial, CaptionWord } from './CaptionEngine.js';
import type { CaptionCue } from './captionFeed.js';
import { PcmArrivalClock } from './PcmArrivalClock.js';

export interface SpeakerCaptionerOptions {
	spaceId: string;
	peerId: string;
	/** Display name put on cues; follows the stage (see {@link SpeakerCaptioner.name}). */
	name: string;
	audioProducerId: string;
	link: StageLinkClient;
	/** The API node hosting the space's router. */
	node: string;
	/** Stage-link session the consumer belongs to (the caption session's, renewed by it). */
	sessionId: string;
	/** Address the node sends RTP to; this machine's. */
	ip: string;
	/** Directory for the SDP file; Tribune-made. */
	workDir: string;
	ffmpegPath: string;
	engine: CaptionEngine;
	/** Called with every cue; the caller publishes it. */
	onCue: (cue: CaptionCue) => void;
	/**
	 * Hold every cue back until {@link SpeakerCaptioner.captionFrom} says from when on to caption: for a captioner
	 * that takes over from another of the same speaker, which captions meanwhile. Default false.
	 */
	holdCues?: boolean;
	logger: Logger;
}

/** A result on the wall clock (ms), as it becomes a cue; a final's words too. */
export interface WallClockResult {
	utteranceId: number;
	text: string;
	final: boolean;
	startMs: number;
	endMs: number;
	/** A final's words; empty for a partial and for a final cut by a recogniser's crash. */
	words: CaptionWord[];
}

/** Decoder restarts back off from this, doubling, up to `maxMs`; a decoder that ran `stableMs` resets it. */
const decoderBackoff = { initialMs: 250, maxMs: 5000, stableMs: 30_000 };
/**
 * Stopping a decoder: SIGTERM, again after `againMs`, SIGKILL after `killMs`. ffmpeg acts on its first signal only
 * between packets: a decoder whose RTP has stopped (the stage closed, the speaker left) sits in its read until its
 * 10 s RTP timeout, so it was killed at `killMs`; a second signal interrupts the read, and ffmpeg still
 * flushes what it decoded.
 */
const decoderStop = { againMs: 200, killMs: 2000 };
/**
 * `finish()`: the decoder goes on until the speaker's audio has paused `quietMs` (their stage closed with the space,
 * or they are muted), at most `maxMs` (a stage that goes on: the broadcast moves to another transcoder).
 */
const finishAudio = { quietMs: 400, maxMs: 2000 };
/** Host byte order: s16le from ffmpeg can be viewed as Int16Array only on little-endian machines. */
const littleEndian = os.endianness() === 'LE';

/**
 * Captions one speaker: consumes their audio producer through the stage link (paused consumer, decoder started,
 * then resumed), decodes Opus to 16 kHz mono PCM with a small ffmpeg, feeds the caption engine (whose voice gate
 * keeps a silent speaker nearly free and whose recogniser runs in its own process), and turns its results into
 * cues on the wall clock. A crashed decoder is restarted with backoff; the engine restarts its own recogniser.
 */
export class SpeakerCaptioner {
	readonly peerId: string;
	readonly audioProducerId: string;
	/** The speaker's current display name; the session updates it from the stage. */
	name: string;
	readonly #options: SpeakerCaptionerOptions;
	readonly #abort = new AbortController();
	readonly #clock = new PcmArrivalClock();
	/** Ids of this captioner's cues: unique across captioners and restarts, stable per utterance. */
	readonly #cueIdPrefix = randomBytes(6).toString('hex');
	#decoder: ChildProcess | undefined;
	#decoderFailures = 0;
	#restartTimer: NodeJS.Timeout | undefined;
	#consumerId: string | undefined;
	#releasePorts: (() => void) | undefined;
	#sdpPath: string | undefined;
	#carry: Buffer | undefined;
	/** When the decoder's latest PCM arrived (Date.now()); 0 before any. */
	#lastPcmAt = 0;
	#closed: Promise<void> | undefined;
	#running: Promise<void>;
	/** Results held back until `captionFrom()` (`holdCues`), the latest of each utterance in order. */
	#held: Map<number, WallClockResult> | undefined;
	/** Speech before this instant (wall clock, ms) was captioned by the captioner this one took over from. */
	#from: number | undefined;
	#captionedUntilMs: number | undefined;
	/** The utterance with a partial and no final yet, if any. */
	#openUtterance: number | undefined;
	#utteranceWaiters: (() => void)[] = [];
	#heard!: () => void;
	/** Resolves once the decoder's first PCM reached the engine. */
	readonly heard = new Promise<void>((resolve) => (this.#heard = resolve));

	private constructor(options: SpeakerCaptionerOptions) {
		this.#options = options;
		this.peerId = options.peerId;
		this.audioProducerId = options.audioProducerId;
		this.name = options.name;
		if (options.holdCues) this.#held = new Map();
		const { engine } = options;
		engine.on('partial', (partial) => this.#onResult(partial, false));
		engine.on('final', (final) => this.#onResult(final, true));
		engine.on('restart', (restart) => options.logger.warn({ ...restart }, 'caption recogniser restarted'));
		engine.on('error', (error) => options.logger.warn({ err: error }, 'caption engine error'));
		this.#running = Promise.resolve();
	}

	/** Starts captioning; resolves once the consumer is resumed. Rejects (after cleaning up) when it cannot start. */
	static async start(options: SpeakerCaptionerOptions): Promise<SpeakerCaptioner> {
		const captioner = new SpeakerCaptioner(options);
		captioner.#running = captioner.#start();
		try {
			await captioner.#running;
		} catch (error) {
			await captioner.close();
			throw error;
		}
		return captioner;
	}

	/** The decoder's process id, while it runs (for CPU accounting). */
	get decoderPid(): number | undefined {
		return this.#decoder?.pid;
	}

	get engine(): CaptionEngine {
		return this.#options.engine;
	}

	/**
	 * The wall-clock end (ms) of the speech this captioner has captioned: its latest final's, or where it took over
	 * (`captionFrom`) before its first; undefined while it has captioned nothing.
	 */
	get captionedUntilMs(): number | undefined {
		return this.#captionedUntilMs;
	}

	/**
	 * Resolves once no utterance is in progress: at once between utterances (no partial without its final), else when
	 * its final has been emitted, or when the captioner has closed.
	 */
	utteranceEnd(): Promise<void> {
		if (this.#openUtterance === undefined || this.#closed) return Promise.resolve();
		return new Promise((resolve) => this.#utteranceWaiters.push(resolve));
	}

	/**
	 * Ends `holdCues`: the cues held and every later one are emitted, but none of the speech before `fromMs` (wall
	 * clock, ms; undefined: all of it), which the captioner this one took over from captioned (`resultFrom`).
	 */
	captionFrom(fromMs: number | undefined): void {
		const held = this.#held;
		if (!held) return;
		this.#held = undefined;
		this.#from = fromMs;
		if (fromMs !== undefined) this.#captionedUntilMs = fromMs;
		for (const result of held.values()) this.#emit(result);
	}

	/** Stops decoding, lets the engine emit the final of the utterance in progress, and frees the consumer. Idempotent. */
	close(): Promise<void> {
		this.#closed ??= this.#close(false);
		return this.#closed;
	}

	/**
	 * Closes at the end of the broadcast: from now on a decoder that ends is not restarted (the stage goes with the
	 * space, and a restart only asks a node for a space it no longer has), but the decoder runs on until the speaker's
	 * audio has paused (`finishAudio`), so what they said up to the end is captioned; then as {@link close}, whose
	 * promise it shares.
	 */
	finish(): Promise<void> {
		this.#closed ??= this.#close(true);
		return this.#closed;
	}

	async #start(): Promise<void> {
		await this.#options.engine.start();
		this.#throwIfClosed();
		await this.#connect();
	}

	/**
	 * A consumer aimed at a fresh port pair and a decoder listening there. Every decoder start gets new ports: a
	 * decoder that failed may have lost its port to another process (ports are checked free, then bound by ffmpeg).
	 */
	async #connect(): Promise<void> {
		const { link, node, sessionId, spaceId, ip } = this.#options;
		const ports = await allocateUdpPortPair({ host: ip });
		this.#releasePorts = ports.release;
		this.#throwIfClosed();
		const consumer = await link.call(node, 'consume', { sessionId, spaceId, producerId: this.audioProducerId, ip, rtpPort: ports.rtpPort, rtcpPort: ports.rtcpPort });
		this.#consumerId = consumer.consumerId;
		this.#throwIfClosed();
		this.#sdpPath = path.join(this.#options.workDir, `speaker-${this.peerId}-${this.#cueIdPrefix}.sdp`);
		await fs.writeFile(this.#sdpPath, buildConsumerSdp(ip, [{ kind: 'audio', rtpParameters: consumer.rtpParameters as types.RtpParameters, rtpPort: ports.rtpPort }]));
		this.#throwIfClosed();
		this.#spawnDecoder();
		// Resume only once ffmpeg listens, so the first words are not lost.
		await waitForUdpPortsBound([ports.rtpPort], 10_000, this.#abort.signal);
		this.#throwIfClosed();
		await link.call(node, 'resume', { sessionId, consumerIds: [consumer.consumerId] });
	}

	/** Closes the consumer and frees the ports of a decoder that ended. */
	async #disconnect(): Promise<void> {
		const { link, node, sessionId } = this.#options;
		const consumerId = this.#consumerId;
		this.#consumerId = undefined;
		if (consumerId) await link.call(node, 'closeConsumers', { sessionId, consumerIds: [consumerId] }).catch(() => {});
		this.#releasePorts?.();
		this.#releasePorts = undefined;
	}

	/** After a decoder ended by itself: a new consumer and decoder, with backoff, until it works or the captioner closes. */
	#reconnect(delayMs: number): void {
		this.#restartTimer = setTimeout(() => {
			if (this.#abort.signal.aborted) return;
			this.#running = this.#connect().catch((error: unknown) => {
				if (this.#abort.signal.aborted) return;
				const next = Math.min(delayMs * 2, decoderBackoff.maxMs);
				this.#options.logger.warn({ err: error, delayMs: next }, 'caption decoder could not restart; trying again');
				void this.#disconnect().then(() => this.#reconnect(next));
			});
		}, delayMs);
	}

	#throwIfClosed(): void {
		if (this.#abort.signal.aborted) throw new Error('speaker captioner closed while starting');
	}

	#spawnDecoder(): void {
		const { ffmpegPath, logger } = this.#options;
		const child = spawn(ffmpegPath, buildPcmDecoderArgs(this.#sdpPath!), { stdio: ['ignore', 'pipe', 'pipe'] });
		// At the broadcast's priority, unlike the recogniser: captions are timed by when this decoder's PCM arrives
		// (PcmArrivalClock), and at nice 10 on a busy machine their cues came out ~0.6 s off the voice (captionsBroadcast).
		this.#decoder = child;
		this.#carry = undefined;
		const startedAt = Date.now();
		let stderr = '';
		child.stderr!.on('data', (chunk: Buffer) => {
			stderr = (stderr + chunk.toString('utf8')).slice(-2000);
		});
		child.stdout!.on('data', (chunk: Buffer) => this.#onPcm(chunk));
		child.on('error', (error) => logger.warn({ err: error }, 'caption decoder failed to start'));
		child.on('close', (code, signal) => {
			if (this.#decoder === child) this.#decoder = undefined;
			if (this.#abort.signal.aborted) return;
			if (Date.now() - startedAt > decoderBackoff.stableMs) this.#decoderFailures = 0;
			const delayMs = Math.min(decoderBackoff.initialMs * 2 ** this.#decoderFailures++, decoderBackoff.maxMs);
			logger.warn({ code, signal, delayMs, stderr: stderr.trim().slice(-500) }, 'caption decoder ended; restarting it');
			void this.#disconnect().then(() => this.#reconnect(delayMs));
		});
	}

	#onPcm(chunk: Buffer): void {
		const arrivedAt = Date.now();
		this.#lastPcmAt = arrivedAt;
		const bytes = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
		const whole = bytes.length - (bytes.length % 2);
		this.#carry = whole < bytes.length ? Buffer.from(bytes.subarray(whole)) : undefined;
		if (whole === 0) return;
		// A copy into memory of its own: aligned for Int16Array, and the pipe's buffer is reused.
		const samples = new Int16Array(whole / 2);
		if (littleEndian) new Uint8Array(samples.buffer).set(bytes.subarray(0, whole));
		else for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
		this.#clock.arrived(samples.length, arrivedAt);
		this.#heard();
		try {
			this.#options.engine.feed(samples);
		} catch (error) {
			// The engine stopped (closing): the rest of the audio has nowhere to go.
			this.#options.logger.debug({ err: error }, 'caption audio not fed');
		}
	}

	#onResult(result: CaptionPartial | CaptionFinal, final: boolean): void {
		this.#openUtterance = final ? undefined : result.utteranceId;
		// Mapped now: the clock keeps a minute of anchors, a held result may wait longer.
		const wall = (ms: number): number => this.#clock.wallMsAt(ms);
		const startMs = wall(result.startMs);
		const words = 'words' in result ? result.words.map((w) => ({ word: w.word, startMs: wall(w.startMs), endMs: wall(w.endMs) })) : [];
		const timed = { utteranceId: result.utteranceId, text: result.text, final, startMs, endMs: Math.max(startMs, wall(result.endMs)), words };
		if (this.#held) this.#held.set(result.utteranceId, timed);
		else this.#emit(timed);
		if (final) for (const resolve of this.#utteranceWaiters.splice(0)) resolve();
	}

	#emit(result: WallClockResult): void {
		const kept = this.#from === undefined ? result : resultFrom(result, this.#from);
		const text = sentenceCase(kept?.text ?? '');
		// A final with no words (a cough, a noise) has nothing to show; the partial it replaces simply expires.
		if (!kept || text === '') return;
		if (kept.final) this.#captionedUntilMs = Math.max(this.#captionedUntilMs ?? kept.endMs, kept.endMs);
		this.#options.onCue({
			spaceId: this.#options.spaceId,
			id: `${this.#cueIdPrefix}-${kept.utteranceId}`,
			speakerId: this.peerId,
			speakerName: this.name.slice(0, 200),
			text: text.slice(0, 500),
			final: kept.final,
			startMs: kept.startMs,
			endMs: kept.endMs,
			source: 'asr',
		});
	}

	async #close(finish: boolean): Promise<void> {
		// Aborted first: a decoder that ends from here on is not restarted (its 'close' handler returns).
		this.#abort.abort();
		clearTimeout(this.#restartTimer);
		await this.#running.catch(() => {});
		if (finish) await this.#audioPaused();
		const decoder = this.#decoder;
		if (decoder && decoder.exitCode === null && decoder.signalCode === null) {
			const exited = new Promise<void>((resolve) => decoder.once('close', () => resolve()));
			decoder.kill('SIGTERM');
			const again = setTimeout(() => decoder.kill('SIGTERM'), decoderStop.againMs);
			const kill = setTimeout(() => decoder.kill('SIGKILL'), decoderStop.killMs);
			await exited;
			clearTimeout(again);
			clearTimeout(kill);
		}
		// After the decoder: the engine's final for the utterance in progress still gets the speaker's name.
		await this.#options.engine.stop().catch((error: unknown) => this.#options.logger.warn({ err: error }, 'caption engine did not stop cleanly'));
		for (const resolve of this.#utteranceWaiters.splice(0)) resolve();
		await this.#disconnect();
		if (this.#sdpPath) await fs.rm(this.#sdpPath, { force: true }).catch(() => {});
	}

	/** Resolves once the running decoder's PCM has paused `finishAudio.quietMs`, or after `finishAudio.maxMs`; at once without one. */
	async #audioPaused(): Promise<void> {
		const deadline = Date.now() + finishAudio.maxMs;
		// Each wait lasts until the pause would be long enough, at least 20 ms (one Opus frame): a few rounds at most.
		for (let round = 0; round < 200 && this.#decoder && Date.now() < deadline; round++) {
			const quietMs = Date.now() - this.#lastPcmAt;
			if (quietMs >= finishAudio.quietMs) return;
			await sleep(Math.max(20, Math.min(finishAudio.quietMs - quietMs, deadline - Date.now())));
		}
	}
}

/**
 * What a captioner that took over at `fromMs` (wall clock) shows of a result: all of one said from then on; of one
 * begun before, which the captioner it took over from captioned at least in part, no partial and only a final's words
 * whose middle is at or after `fromMs` (by the middle: the two captioners' clocks differ by their decoders' jitter, so
 * the same word can start a little before in one and end a little after in the other). Undefined: nothing to show.
 */
export function resultFrom(result: WallClockResult, fromMs: number): WallClockResult | undefined {
	if (result.startMs >= fromMs) return result;
	const words = result.words.filter((w) => (w.startMs + w.endMs) / 2 >= fromMs);
	if (!result.final || words.length === 0) return undefined;
	if (words.length === result.words.length) return result;
	return { ...result, text: words.map((w) => w.word).join(' '), words, startMs: words[0]!.startMs };
}

/** The model spells words in lower case; a caption reads better starting with a capital. */
function sentenceCase(text: string): string {
	const trimmed = text.trim();
	return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}
