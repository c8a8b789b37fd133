import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { buildRtpSenderPlan, type RtpSenderSpec, type RtpVideoSource } from './plainRtp/buildRtpSenderPlan.js';
import type { StagePeer } from './StagePeer.js';

export interface SyntheticSpeakerOptions {
	/** A voice file (looped) or a tone. */
	audio: { file: string } | { toneHz: number };
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
	readonly #args: string[];
	readonly #ffmpegPath: string;
	readonly #logger: Logger;
	#process: ChildProcess | undefined;
	#restarts = 0;
	#closed = false;

	private constructor(peer: StagePeer, args: string[], ffmpegPath: string, logger: Logger) {
		this.peer = peer;
		this.#args = args;
		this.#ffmpegPath = ffmpegPath;
		this.#logger = logger;
		peer.once('close', () => this.close());
	}

	/** Opens the plain transports on `peer`, creates its producers and starts ffmpeg. */
	static async start(peer: StagePeer, options: SyntheticSpeakerOptions, logger: Logger): Promise<SyntheticSpeaker> {
		const listenIp = options.listenIp ?? '127.0.0.1';
		try {
			const spec: RtpSenderSpec = {};
			const audioTransport = await peer.createPlainTransport(listenIp);
			spec.audio = { ...target(audioTransport.tuple.localPort, audioTransport.rtcpTuple?.localPort, listenIp, payloadTypes.audio), source: options.audio };
			let videoTransportId: string | undefined;
			if (options.video) {
				const videoTransport = await peer.createPlainTransport(listenIp);
				videoTransportId = videoTransport.id;
				spec.video = { ...target(videoTransport.tuple.localPort, videoTransport.rtcpTuple?.localPort, listenIp, payloadTypes.video), ...options.video };
			}
			const plan = buildRtpSenderPlan(spec);
			await peer.produce(audioTransport.id, 'audio', plan.audioRtpParameters!);
			if (videoTransportId && plan.videoRtpParameters) await peer.produce(videoTransportId, 'video', plan.videoRtpParameters);
			const speaker = new SyntheticSpeaker(peer, plan.args, options.ffmpegPath ?? 'ffmpeg', logger.child({ peerId: peer.id }));
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
		this.#process?.kill('SIGKILL');
		this.#process = undefined;
		this.peer.close();
	}

	#spawn(): void {
		const child = spawn(this.#ffmpegPath, this.#args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
}

function target(rtpPort: number, rtcpPort: number | undefined, host: string, payloadType: number) {
	if (rtcpPort === undefined) throw new Error('SyntheticSpeaker: plain transport has no RTCP port (rtcpMux must be off)');
	// A random SSRC per stream, as RFC 3550 asks; the producer is told the same one.
	return { host, rtpPort, rtcpPort, ssrc: randomInt(1, 2 ** 31), payloadType };
}
