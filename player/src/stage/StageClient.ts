import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import type { MediaSource } from '../../../api/src/signaling/protocol.js';
import { SignalingError, type SignalingSocket } from '../signaling/SignalingSocket.js';

/** A remote speaker's track, as it arrives. */
export interface RemoteTrack {
	consumerId: string;
	/** The producer it consumes (a screen's is the share that `screenShare` events name). */
	producerId: string;
	participantId: string;
	kind: 'audio' | 'video';
	/** Microphone, camera, shared screen or the shared tab's sound. */
	source: MediaSource;
	track: MediaStreamTrack;
}

export interface PublishOptions {
	/** What the track is (default: `mic` for audio, `camera` for video). */
	source?: MediaSource;
	/** A screen: take over the share someone else has (the user said yes to replacing it). */
	replace?: boolean;
}

/**
 * How a screen share is sent: one VP8 encoding (ingest refuses simulcast for a share and reads its keyframes) at up
 * to 2.5 Mb/s and 15 fps — well inside ingest's bounds (4 Mb/s, 20 fps, 1920 × 1080). With the track's content hint
 * 'detail', the browser keeps the resolution (text stays sharp) and drops frames when the network is short.
 */
export const screenEncoding = Object.freeze({ maxBitrate: 2_500_000, maxFramerate: 15 });

export interface StageClientOptions {
	/** Called for each remote track (play audio in an <audio>, video in a <video>). */
	onTrack?: (remote: RemoteTrack) => void;
	/**
	 * Called when a remote track ends (the speaker left, was demoted or unpublished). Closing its consumer stops the
	 * track (a video's picture goes black): answering a promise keeps the consumer open, its last picture frozen,
	 * until the promise settles (a replaced share's picture stays until its successor's shows).
	 */
	onTrackEnded?: (consumerId: string) => Promise<void> | void;
}

/**
 * A speaker's WebRTC side of the stage, with mediasoup-client: loads the router's capabilities, opens a send and a
 * receive transport, publishes the microphone (and camera), and consumes every other speaker. Call `join()` after
 * becoming a speaker, `leave()` on leaving the stage; `rejoin()` after a `stageReset` event.
 */
export class StageClient {
	readonly #signaling: SignalingSocket;
	readonly #options: StageClientOptions;
	readonly #unsubscribe: (() => void)[] = [];
	#device: Device | undefined;
	#send: types.Transport | undefined;
	#recv: types.Transport | undefined;
	readonly #producers = new Map<string, types.Producer>();
	readonly #consumers = new Map<string, types.Consumer>();

	constructor(signaling: SignalingSocket, options: StageClientOptions = {}) {
		this.#signaling = signaling;
		this.#options = options;
		this.#unsubscribe.push(
			// A track that cannot be received is said on the console and left out until the stage is joined again
			// (`stageReset`, a rejoin); the page goes on.
			signaling.on('newConsumer', (data) => void this.#consume(data).catch((error: unknown) => console.warn(`stage: a speaker's track not received (${data.kind}, ${data.participantId})`, error))),
			signaling.on('consumerClosed', ({ consumerId }) => this.#closeConsumer(consumerId)),
		);
	}

	get consumers(): types.Consumer[] {
		return [...this.#consumers.values()];
	}

	get producers(): types.Producer[] {
		return [...this.#producers.values()];
	}

	/** The receive transport, for getStats(). */
	get recvTransport(): types.Transport | undefined {
		return this.#recv;
	}

	/** Sets up both transports and starts receiving the others; publishes the given tracks. */
	async join(tracks: MediaStreamTrack[] = []): Promise<void> {
		const { rtpCapabilities } = await this.#signaling.request('getRouterRtpCapabilities', {});
		this.#device = await Device.factory();
		await this.#device.load({ routerRtpCapabilities: rtpCapabilities as unknown as types.RtpCapabilities });
		this.#recv = await this.#createTransport('recv');
		this.#send = await this.#createTransport('send');
		await this.#signaling.request('setRtpCapabilities', { rtpCapabilities: this.#device.recvRtpCapabilities as unknown as Record<string, unknown> });
		for (const track of tracks) await this.publish(track);
	}

	async publish(track: MediaStreamTrack, options: PublishOptions = {}): Promise<types.Producer> {
		if (!this.#send) throw new Error('join() first');
		const source = options.source ?? (track.kind === 'audio' ? 'mic' : 'camera');
		// Cameras and screens go out as VP8 where the browser can: the broadcast composites VP8 (its slots' relays and
		// decoder), and a browser that lists H264 first (Safari) would otherwise show as initials on air. A screen must be
		// VP8 (ingest reads its keyframes to hold it to its bounds).
		const vp8 = track.kind === 'video' ? this.#device?.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8') : undefined;
		if (source === 'screen' && !vp8) throw new Error('this browser cannot send VP8, which a screen share needs');
		const producer = await this.#send.produce({
			track,
			stopTracks: false,
			...(vp8 && { codec: vp8 }),
			...(source === 'screen' && { encodings: [{ ...screenEncoding }], codecOptions: { videoGoogleStartBitrate: 1000 } }),
			appData: { source, ...(options.replace && { replace: true }) },
		});
		this.#producers.set(producer.id, producer);
		producer.observer.on('close', () => this.#producers.delete(producer.id));
		return producer;
	}

	/** Closes transports, producers and consumers (the server closes its side when the role changes). */
	leave(): void {
		for (const c of this.#consumers.values()) this.#options.onTrackEnded?.(c.id);
		this.#consumers.clear();
		this.#producers.clear();
		this.#send?.close();
		this.#recv?.close();
		this.#send = undefined;
		this.#recv = undefined;
	}

	/** After `stageReset`: the server's stage was replaced; set everything up again with the same tracks. */
	async rejoin(): Promise<void> {
		const published = this.producers.flatMap((p) => (p.track ? [{ track: p.track, source: (p.appData as { source?: MediaSource }).source }] : []));
		this.leave();
		await this.join();
		for (const { track, source } of published) await this.publish(track, source ? { source } : {});
	}

	close(): void {
		this.leave();
		for (const off of this.#unsubscribe.splice(0)) off();
	}

	async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
		const device = this.#device!;
		const params = await this.#signaling.request('createTransport', { direction });
		const options = params as unknown as types.TransportOptions;
		const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			this.#signaling
				.request('connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as unknown as Record<string, unknown> })
				.then(() => callback(), errback);
		});
		if (direction === 'send') {
			transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
				const { source, replace } = appData as PublishOptions;
				this.#signaling
					.request('produce', { transportId: transport.id, kind, rtpParameters: rtpParameters as unknown as Record<string, unknown>, ...(source && { source }), ...(replace && { replace }) })
					.then(({ producerId }) => callback({ id: producerId }), errback);
			});
		}
		return transport;
	}

	async #consume(data: { consumerId: string; producerId: string; participantId: string; kind: 'audio' | 'video'; source?: MediaSource; rtpParameters: Record<string, unknown> }): Promise<void> {
		if (!this.#recv) return;
		const consumer = await this.#recv.consume({
			id: data.consumerId,
			producerId: data.producerId,
			kind: data.kind,
			rtpParameters: data.rtpParameters as unknown as types.RtpParameters,
		});
		this.#consumers.set(consumer.id, consumer);
		this.#options.onTrack?.({ consumerId: consumer.id, producerId: data.producerId, participantId: data.participantId, kind: data.kind, source: data.source ?? (data.kind === 'audio' ? 'mic' : 'camera'), track: consumer.track });
		try {
			await this.#signaling.request('resumeConsumer', { consumerId: consumer.id });
		} catch (error) {
			// Closed on the server before it was resumed (its speaker left, or a share was replaced, meanwhile; its
			// `consumerClosed` may have come before the consumer was made here): closed here too.
			if (error instanceof SignalingError && error.code === 'not_found') return this.#closeConsumer(consumer.id);
			throw error;
		}
	}

	#closeConsumer(consumerId: string): void {
		const consumer = this.#consumers.get(consumerId);
		if (!consumer) return;
		this.#consumers.delete(consumerId);
		const held = this.#options.onTrackEnded?.(consumerId);
		if (held) void held.then(() => consumer.close());
		else consumer.close();
	}
}
