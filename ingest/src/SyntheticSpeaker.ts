import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { buildRtpSenderPlan, type RtpSenderSpec, type RtpVideoSource } from './plainRtp/buildRtpSenderPlan.js';
import type { StagePeer } from './StagePeer.js';

export interface SyntheticSpeakerOptions {
	/**
	 * A voice file (looped) or a tone. With `alignTo`, the file (a 16-bit PCM WAV) is one loop of a conversation that
	 * starts at `alignTo` (epoch ms): playback starts where the conversation is now, so speakers started at different
	 * times, or restarted, stay in turn with the others who loop the same length from the same instant. A speaker
	 * whose conversation has not begun yet is on stage, silent, until then.
	 */
	audio: { file: string; alignTo?: number } | { toneHz: number };
	/**
	 * An optional camera: codec, size, frame rate, and what it shows (`pattern`: ffmpeg's `testsrc2` by default, or
	 * `{ colour: '#rrggbb' }` for one solid colour; any other colour text is refused).
	 */
	video?: RtpVideoSource;
	/** Address the plain RTP transports listen on; ffmpeg sends there. Default 127.0.0.1. */
	listenIp?: string;
	/** Default `ffmpeg`. */
	ffmpegPath?: string;
}

/** A conversation loop: the file as given, and the rotated copy ffmpeg plays (rewritten before each start). */
interface AlignedLoop {
	source: string;
	played: string;
	alignTo: number;
}

/** The comedia transports ffmpeg sends into: the voice's, and the camera's if any. */
interface SenderTransports {
	audio: types.PlainTransport;
	video: types.PlainTransport | undefined;
}

/** Payload types ffmpeg stamps on its RTP; mediasoup maps them to the router's. */
const payloadTypes = { audio: 100, video: 101 } as const;
/** If ffmpeg exits on its own, it is restarted after this long, in ms, at most `maxRestarts` times. */
const restartDelayMs = 1000;
const maxRestarts = 5;

/**
 * A speaker without a browser, for demos, tests and benchmarks: ffmpeg sends a voice file (and optionally a camera:
 * a test pattern or a solid colour) as RTP into comedia PlainTransports of a stage peer, whose producers everyone on
 * stage consumes like any speaker's. Owns its ffmpeg process and its peer; close() ends both.
 */
export class SyntheticSpeaker {
	readonly peer: StagePeer;
	/** What ffmpeg sends where; each start builds its arguments from it. */
	readonly #spec: RtpSenderSpec;
	/** The comedia transports ffmpeg sends into: audio's, then the camera's if any. */
	readonly #transports: SenderTransports;
	readonly #ffmpegPath: string;
	readonly #logger: Logger;
	/** With `alignTo`: the loop as given, and the rotated copy ffmpeg plays (rewritten before each start). */
	readonly #aligned: AlignedLoop | undefined;
	#process: ChildProcess | undefined;
	#restarts = 0;
	/** Set while the conversation has not begun: ffmpeg starts then. */
	#startTimer: NodeJS.Timeout | undefined;
	#closed = false;

	private constructor(peer: StagePeer, spec: RtpSenderSpec, transports: SenderTransports, ffmpegPath: string, logger: Logger, aligned: AlignedLoop | undefined) {
		this.peer = peer;
		this.#spec = spec;
		this.#transports = transports;
		this.#aligned = aligned;
		this.#ffmpegPath = ffmpegPath;
		this.#logger = logger;
		peer.once('close', () => this.close());
	}

	/** Opens the plain transports on `peer`, creates its producers and starts ffmpeg. */
	static async start(peer: StagePeer, options: SyntheticSpeakerOptions, logger: Logger): Promise<SyntheticSpeaker> {
		const listenIp = options.listenIp ?? '127.0.0.1';
		try {
			const spec: RtpSenderSpec = {};
			const { audio } = options;
			const aligned = 'file' in audio && audio.alignTo !== undefined ? { source: audio.file, played: `${audio.file}.${peer.id}.now.wav`, alignTo: audio.alignTo } : undefined;
			// A WAV that does not parse fails here, before anything is sent.
			if (aligned) readPcmWav(aligned.source);
			const audioTransport = await peer.createPlainTransport(listenIp);
			spec.audio = {
				...target(audioTransport.tuple.localPort, audioTransport.rtcpTuple?.localPort, listenIp, payloadTypes.audio),
				source: 'file' in audio ? { file: aligned?.played ?? audio.file } : audio,
			};
			let videoTransport: types.PlainTransport | undefined;
			if (options.video) {
				videoTransport = await peer.createPlainTransport(listenIp);
				spec.video = { ...target(videoTransport.tuple.localPort, videoTransport.rtcpTuple?.localPort, listenIp, payloadTypes.video), ...options.video };
			}
			const plan = buildRtpSenderPlan(spec);
			await peer.produce(audioTransport.id, 'audio', plan.audioRtpParameters!);
			if (videoTransport && plan.videoRtpParameters) await peer.produce(videoTransport.id, 'video', plan.videoRtpParameters);
			const speaker = new SyntheticSpeaker(peer, spec, { audio: audioTransport, video: videoTransport }, options.ffmpegPath ?? 'ffmpeg', logger.child({ peerId: peer.id }), aligned);
			speaker.#spawn();
			return speaker;
		} catch (error) {
			peer.close();
			throw error;
		}
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Stops ffmpeg and closes the peer. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#startTimer);
		this.#process?.kill('SIGKILL');
		this.#process = undefined;
		if (this.#aligned) fs.rmSync(this.#aligned.played, { force: true });
		this.peer.close();
	}

	#spawn(): void {
		const untilStartMs = this.#aligned ? this.#aligned.alignTo - Date.now() : 0;
		if (untilStartMs > 0) {
			this.#startTimer = setTimeout(() => this.#spawn(), untilStartMs);
			return;
		}
		if (this.#aligned) {
			try {
				writeRotatedWav(this.#aligned.source, this.#aligned.played, Date.now() - this.#aligned.alignTo);
			} catch (error) {
				this.#logger.error({ err: error }, 'could not prepare the conversation loop');
				this.close();
				return;
			}
		}
		const child = spawn(this.#ffmpegPath, buildRtpSenderPlan(this.#sourcePortsKept()).args, { stdio: ['ignore', 'ignore', 'pipe'] });
		this.#process = child;
		let stderr = '';
		child.stderr?.on('data', (chunk: Buffer) => {
			stderr = (stderr + chunk.toString('utf8')).slice(-2000);
		});
		child.once('error', (error) => this.#logger.error({ err: error }, 'could not start ffmpeg'));
		child.once('exit', (code, signal) => {
			if (this.#closed || this.#process !== child) return;
			this.#logger.warn({ code, signal, stderr }, 'synthetic speaker ffmpeg exited');
			if (this.#restarts++ >= maxRestarts) return this.close();
			setTimeout(() => {
				if (!this.#closed) this.#spawn();
			}, restartDelayMs).unref();
		});
	}

	/**
	 * The spec with, for each transport that has heard from an earlier ffmpeg, that ffmpeg's ports as the ones to send
	 * from: a comedia transport keeps to the first address it heard, and would ignore a restarted ffmpeg sending from
	 * new ports (the speaker would fall silent for good). The earlier ffmpeg is gone, so its ports are free.
	 */
	#sourcePortsKept(): RtpSenderSpec {
		const kept = (transport: types.PlainTransport | undefined) => {
			const rtp = transport?.tuple.remotePort;
			const rtcp = transport?.rtcpTuple?.remotePort;
			return rtp !== undefined && rtcp !== undefined ? { localRtpPort: rtp, localRtcpPort: rtcp } : {};
		};
		const { audio, video } = this.#spec;
		return {
			...this.#spec,
			...(audio && { audio: { ...audio, ...kept(this.#transports.audio) } }),
			...(video && { video: { ...video, ...kept(this.#transports.video) } }),
		};
	}
}

function target(rtpPort: number, rtcpPort: number | undefined, host: string, payloadType: number) {
	if (rtcpPort === undefined) throw new Error('SyntheticSpeaker: plain transport has no RTCP port (rtcpMux must be off)');
	// A random SSRC per stream, as RFC 3550 asks; the producer is told the same one.
	return { host, rtpPort, rtcpPort, ssrc: randomInt(1, 2 ** 31), payloadType };
}

/** The PCM of a 16-bit PCM WAV: its format chunk and data bytes (RIFF chunks walked, bounded by the file). */
export function readPcmWav(file: string): { header: Buffer; data: Buffer; bytesPerSecond: number; blockAlign: number } {
	const bytes = fs.readFileSync(file);
	if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file} is not a WAV file`);
	let fmt: Buffer | undefined;
	for (let at = 12; at + 8 <= bytes.length;) {
		const id = bytes.toString('ascii', at, at + 4);
		const size = bytes.readUInt32LE(at + 4);
		const body = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
		if (id === 'fmt ') fmt = body;
		if (id === 'data') {
			if (!fmt || fmt.length < 16 || fmt.readUInt16LE(0) !== 1 || fmt.readUInt16LE(14) !== 16) throw new Error(`${file} is not 16-bit PCM`);
			const blockAlign = fmt.readUInt16LE(12);
			const data = body.subarray(0, body.length - (body.length % blockAlign));
			if (data.length === 0) throw new Error(`${file} holds no audio`);
			return { header: bytes.subarray(0, at + 8), data, bytesPerSecond: fmt.readUInt32LE(8), blockAlign };
		}
		at += 8 + size + (size % 2);
	}
	throw new Error(`${file} has no audio data`);
}

/**
 * Writes `source`'s loop as it continues `elapsedMs` after its start: from that point to the end, then from the
 * start to that point (the same loop, so looping it keeps the conversation's turns). Written beside and renamed, so
 * an ffmpeg still reading the old copy is not disturbed.
 */
export function writeRotatedWav(source: string, played: string, elapsedMs: number): void {
	const { header, data, bytesPerSecond, blockAlign } = readPcmWav(source);
	const frames = data.length / blockAlign;
	const frame = Math.floor(((Math.max(0, elapsedMs) / 1000) * bytesPerSecond) / blockAlign) % frames;
	const out = Buffer.concat([header, data.subarray(frame * blockAlign), data.subarray(0, frame * blockAlign)]);
	// The header's sizes: the RIFF chunk and the data chunk (the last 4 bytes of the header).
	out.writeUInt32LE(out.length - 8, 4);
	out.writeUInt32LE(data.length, header.length - 4);
	const tmp = `${played}.tmp`;
	fs.writeFileSync(tmp, out);
	fs.renameSync(tmp, played);
}
