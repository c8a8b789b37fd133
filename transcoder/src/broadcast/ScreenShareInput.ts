import { allocateUdpPortPair, type SdpStream } from '@tribune/ingest';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { StageLinkClient } from '../stageLink/StageLinkClient.js';
import type { StageLinkScreen } from '../stageLink/stageLinkProtocol.js';
import { OpusGapFiller } from './OpusGapFiller.js';
import { Vp8SlotRelay } from './Vp8SlotRelay.js';

export interface ScreenShareInputOptions {
	link: StageLinkClient;
	/** The API node hosting the stage (where consume requests go). */
	node: string;
	spaceId: string;
	/** The encoder run's stage-link session: the share's consumers belong to it and end with it. */
	sessionId: string;
	/** Address the node sends RTP to and the relays bind. */
	ip: string;
	/** Payload types the run's SDP declares for Opus and VP8 (what the relays write). */
	payloadTypes: { opus: number; vp8: number };
	/** The share started or stopped flowing into the encode (its picture can be shown, or not any more). */
	onLiveChange: () => void;
	signal: AbortSignal;
	logger: Logger;
}

/**
 * A quiet share keeps its last picture this long before its box goes black (ms). Browsers send a still screen at a
 * low rate (Chrome repeats an unchanged one about once a second), so the cameras' 500 ms would blank a still slide
 * between its pictures.
 */
export const screenFreezeMs = 1500;
/** How often a share whose relay waits for a keyframe is asked for one, after the relay's own eager asks, ms. */
const keyframeIntervalMs = 1000;

/**
 * The screen share's input to a standing encode (video spaces): a `Vp8SlotRelay` for its picture and an
 * `OpusGapFiller` for the shared tab's sound, opened with the run and fed for its whole life (filler pictures and
 * silence while nobody shares), so a share starting or stopping never needs a new encode. `follow(share)` consumes the
 * share's producers through the stage link, aimed at the relays, and closes those of a share that ended or changed.
 * Owned by the run: `close()` with it.
 */
export class ScreenShareInput {
	readonly #options: ScreenShareInputOptions;
	readonly #picture: Vp8SlotRelay;
	readonly #sound: OpusGapFiller;
	readonly #releases: (() => void)[];
	readonly #sdpStreams: { picture: SdpStream; sound: SdpStream };
	#video: { producerId: string; consumerId: string; askedAt: number; asking: boolean } | undefined;
	#audio: { producerId: string; consumerId: string } | undefined;
	/** Producers in another codec than VP8: not consumed again while they last. */
	readonly #refused = new Set<string>();
	#closed = false;

	private constructor(options: ScreenShareInputOptions, picture: Vp8SlotRelay, sound: OpusGapFiller, sdpStreams: { picture: SdpStream; sound: SdpStream }, releases: (() => void)[]) {
		this.#options = options;
		this.#picture = picture;
		this.#sound = sound;
		this.#sdpStreams = sdpStreams;
		this.#releases = releases;
	}

	/** Reserves ffmpeg's ports for the share's picture and sound and opens the relays that feed them. */
	static async open(options: ScreenShareInputOptions): Promise<ScreenShareInput> {
		const { ip } = options;
		const releases: (() => void)[] = [];
		try {
			const picturePorts = await allocateUdpPortPair({ host: ip });
			releases.push(picturePorts.release);
			const soundPorts = await allocateUdpPortPair({ host: ip });
			releases.push(soundPorts.release);
			// The relay asks for keyframes through the input made from it.
			const made: { input?: ScreenShareInput } = {};
			const picture = await Vp8SlotRelay.open({
				host: ip,
				target: { host: ip, rtpPort: picturePorts.rtpPort },
				payloadType: options.payloadTypes.vp8,
				freezeMs: screenFreezeMs,
				onLiveChange: (live) => {
					// Live: the share's first keyframe has passed and its pictures reach the composite.
					options.logger.debug({ live }, 'screen share picture');
					options.onLiveChange();
				},
				onNeedKeyframe: () => made.input?.askForKeyframe(),
			});
			releases.push(() => picture.close());
			const sound = await OpusGapFiller.open({ host: ip, target: { host: ip, rtpPort: soundPorts.rtpPort }, payloadType: options.payloadTypes.opus });
			releases.push(() => sound.close());
			sound.follow(undefined);
			const sdpStreams = {
				picture: { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: options.payloadTypes.vp8, clockRate: 90000, parameters: {} }] } as unknown as types.RtpParameters, rtpPort: picturePorts.rtpPort } satisfies SdpStream,
				sound: { kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: options.payloadTypes.opus, clockRate: 48000, channels: 2, parameters: {} }] } as unknown as types.RtpParameters, rtpPort: soundPorts.rtpPort } satisfies SdpStream,
			};
			made.input = new ScreenShareInput(options, picture, sound, sdpStreams, releases);
			return made.input;
		} catch (error) {
			for (const release of releases.reverse()) release();
			throw error;
		}
	}

	/** The share's streams for the run's SDP (where they go in it, and so their indices, is the run's to say). */
	get sdpStreams(): { picture: SdpStream; sound: SdpStream } {
		return this.#sdpStreams;
	}

	/** What the share's relays have sent (see `Vp8SlotRelay.counts`, `OpusGapFiller.counts`). */
	get counts(): { picture: Vp8SlotRelay['counts']; sound: OpusGapFiller['counts'] } {
		return { picture: this.#picture.counts, sound: this.#sound.counts };
	}

	/** Whether the share's own pictures flow into the encode now (not filler). */
	get live(): boolean {
		return this.#picture.live;
	}

	/**
	 * Puts the input in step with the stage's share: closes the consumers of a share that ended or changed producer,
	 * consumes and resumes the new one's. Resolves false when a consumer could not be made (ask again later).
	 */
	async follow(share: StageLinkScreen | undefined): Promise<boolean> {
		if (this.#closed) return true;
		const { link, node, sessionId } = this.#options;
		const closing: string[] = [];
		if (this.#video && this.#video.producerId !== share?.videoProducerId) {
			closing.push(this.#video.consumerId);
			this.#video = undefined;
			this.#picture.follow(undefined);
		}
		if (this.#audio && this.#audio.producerId !== share?.audioProducerId) {
			closing.push(this.#audio.consumerId);
			this.#audio = undefined;
			this.#sound.follow(undefined);
		}
		if (closing.length > 0) await this.#close(closing);
		const wanted = [
			...(share && !this.#video && !this.#refused.has(share.videoProducerId) ? [{ kind: 'video' as const, producerId: share.videoProducerId }] : []),
			...(share?.audioProducerId && !this.#audio ? [{ kind: 'audio' as const, producerId: share.audioProducerId }] : []),
		];
		if (wanted.length === 0) return true;
		let complete = true;
		const resumed: string[] = [];
		for (const { kind, producerId } of wanted) {
			const relay = kind === 'video' ? this.#picture : this.#sound;
			let consumer;
			try {
				consumer = await link.call(node, 'consume', { sessionId, spaceId: this.#options.spaceId, producerId, ip: this.#options.ip, rtpPort: relay.rtpPort, rtcpPort: relay.rtcpPort });
			} catch (error) {
				if (!this.#options.signal.aborted) this.#options.logger.debug({ err: error, kind }, 'screen share consumer not made; asking again');
				complete = false;
				continue;
			}
			const rtpParameters = consumer.rtpParameters as types.RtpParameters;
			const ssrc = rtpParameters.encodings?.[0]?.ssrc;
			const mimeType = rtpParameters.codecs[0]?.mimeType.toLowerCase();
			if (this.#closed || ssrc === undefined || mimeType !== (kind === 'video' ? 'video/vp8' : 'audio/opus')) {
				if (!this.#closed && kind === 'video') {
					// The composite decodes VP8 only: the share's box stays black while this producer lasts.
					this.#refused.add(producerId);
					this.#options.logger.warn({ mimeType }, 'screen share codec not composited; its box stays black');
				}
				await this.#close([consumer.consumerId]);
				continue;
			}
			if (kind === 'video') {
				this.#video = { producerId, consumerId: consumer.consumerId, askedAt: 0, asking: false };
				this.#picture.follow(ssrc);
			} else {
				this.#audio = { producerId, consumerId: consumer.consumerId };
				this.#sound.follow(ssrc);
			}
			resumed.push(consumer.consumerId);
		}
		if (resumed.length > 0) {
			try {
				// `resume` asks the share for its first keyframe; the relay keeps asking until one passes.
				await link.call(node, 'resume', { sessionId, consumerIds: resumed });
				this.#options.logger.debug({ videoProducerId: share?.videoProducerId, consumerIds: resumed }, 'screen share consumed');
			} catch (error) {
				// Paused consumers would leave the share black for good: drop them, and the retry makes them again.
				if (this.#video && resumed.includes(this.#video.consumerId)) {
					this.#video = undefined;
					this.#picture.follow(undefined);
				}
				if (this.#audio && resumed.includes(this.#audio.consumerId)) {
					this.#audio = undefined;
					this.#sound.follow(undefined);
				}
				await this.#close(resumed);
				throw error;
			}
		}
		return complete;
	}

	/** Closes the relays and gives the ports back; the run's session release ends the consumers. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const release of this.#releases.reverse()) release();
	}

	async #close(consumerIds: string[]): Promise<void> {
		const { link, node, sessionId, signal, logger } = this.#options;
		await link.call(node, 'closeConsumers', { sessionId, consumerIds }).catch((error: unknown) => {
			// Left open, they send to relays that no longer follow them (dropped by SSRC); the run's release ends them.
			if (!signal.aborted) logger.debug({ err: error }, 'closing screen share consumers failed');
		});
	}

	/**
	 * The relay waits for the share's keyframe: asks the sharer's browser for one, at most once a second (the relay
	 * calls every 250 ms while it waits).
	 */
	askForKeyframe(): void {
		const video = this.#video;
		const { link, node, sessionId, signal, logger } = this.#options;
		if (!video || video.asking || signal.aborted || this.#closed) return;
		const now = Date.now();
		if (now - video.askedAt < keyframeIntervalMs) return;
		video.asking = true;
		video.askedAt = now;
		link
			.call(node, 'requestKeyframe', { sessionId, consumerIds: [video.consumerId] }, 1000)
			.catch((error: unknown) => {
				if (!signal.aborted) logger.debug({ err: error }, 'screen share keyframe request failed');
			})
			.finally(() => {
				video.asking = false;
			});
	}
}
