import type { types } from 'mediasoup';
import { StageError } from './StageError.js';
import { TypedEmitter } from './TypedEmitter.js';

/**
 * What a peer may publish. The API derives it from the participant's role; `produce()` checks it again. `screen`
 * (absent: no) covers a screen share and its tab audio.
 */
export interface PublishGrants {
	audio: boolean;
	video: boolean;
	screen?: boolean;
}

export const noPublishGrants: Readonly<PublishGrants> = Object.freeze({ audio: false, video: false, screen: false });

/**
 * What a producer carries: `mic` and `camera` (one each per peer), `screen` (a shared screen, window or tab: video,
 * at most one per stage) and `screenAudio` (the shared tab's sound, only beside the peer's own `screen`).
 */
export type ProducerSource = 'mic' | 'camera' | 'screen' | 'screenAudio';

/** The media kind each source is. */
export const sourceKind: Readonly<Record<ProducerSource, types.MediaKind>> = Object.freeze({ mic: 'audio', camera: 'video', screen: 'video', screenAudio: 'audio' });

/** A producer's source: its appData's, or for one without (older callers) the default of its kind. */
export function producerSource(producer: types.Producer<ProducerAppData>): ProducerSource {
	return producer.appData.source ?? (producer.kind === 'audio' ? 'mic' : 'camera');
}

/** Where a peer's WebRTC transports listen. */
export interface WebRtcListenOptions {
	listenIp: string;
	/** Public address put in ICE candidates, for a server behind NAT. */
	announcedIp?: string;
	/** Bitrate the send side starts at before estimation, in bits per second. */
	initialAvailableOutgoingBitrate: number;
}

export interface TransportInfo {
	id: string;
	iceParameters: types.IceParameters;
	iceCandidates: types.IceCandidate[];
	dtlsParameters: types.DtlsParameters;
}

export interface ConsumerInfo {
	consumerId: string;
	producerId: string;
	/** The peer whose producer this consumes. */
	participantId: string;
	kind: types.MediaKind;
	source: ProducerSource;
	rtpParameters: types.RtpParameters;
}

export type StagePeerEvents = {
	/** A consumer for another peer's producer is ready (paused): tell the client, which resumes it when set up. */
	newconsumer: [info: ConsumerInfo];
	consumerclosed: [consumerId: string];
	close: [];
};

/** Producers carry their peer's id, so observers can say who speaks, and what they carry. */
export interface ProducerAppData extends types.AppData {
	peerId: string;
	source?: ProducerSource;
}

/** What a peer needs of its stage; the stage passes it in so a peer never reaches for its parent. */
export interface PeerContext {
	router: types.Router;
	webRtc: WebRtcListenOptions;
	/** Called for each new producer, so the stage can feed it to observers and other peers. */
	onProducer(peer: StagePeer, producer: types.Producer<ProducerAppData>): void;
	/** Every producer of every other peer, to consume once this peer can receive. */
	otherProducers(peer: StagePeer): types.Producer<ProducerAppData>[];
	/**
	 * Throws unless this peer may start a screen share now (one share per stage; `replacing`: the peer id whose live
	 * share the new one may replace); called before and again after mediasoup creates the producer.
	 */
	claimShare(peer: StagePeer, replacing?: string): void;
}

type Direction = 'send' | 'recv';

/**
 * Screen shares one peer may start within `shareStartWindowMs`: each start switches every viewer's layout and the
 * broadcast's, so a client starting and stopping in a loop is refused rather than followed.
 */
export const maxShareStarts = 3;
export const shareStartWindowMs = 10_000;

/**
 * One participant on a stage: a send and a receive WebRTC transport (or plain RTP transports for a synthetic
 * speaker), the producers it publishes and the consumers through which it hears everyone else. It owns them all
 * and closes them on close().
 */
export class StagePeer extends TypedEmitter<StagePeerEvents> {
	readonly id: string;
	readonly #context: PeerContext;
	#grants: PublishGrants;
	#audioMuted = false;
	readonly #transports = new Map<string, { direction: Direction; transport: types.Transport }>();
	readonly #producers = new Map<string, types.Producer<ProducerAppData>>();
	readonly #consumers = new Map<string, types.Consumer>();
	#rtpCapabilities: types.RtpCapabilities | undefined;
	/** When this peer's last screen shares started (at most `maxShareStarts`), ms. */
	readonly #shareStarts: number[] = [];
	#closed = false;

	constructor(id: string, grants: PublishGrants, context: PeerContext) {
		super();
		this.id = id;
		this.#grants = { ...grants };
		this.#context = context;
	}

	get closed(): boolean {
		return this.#closed;
	}

	get grants(): Readonly<PublishGrants> {
		return { ...this.#grants };
	}

	get audioMuted(): boolean {
		return this.#audioMuted;
	}

	get producers(): types.Producer<ProducerAppData>[] {
		return [...this.#producers.values()];
	}

	get consumers(): types.Consumer[] {
		return [...this.#consumers.values()];
	}

	/** Creates the peer's send or receive transport, replacing an earlier one of the same direction. */
	async createWebRtcTransport(direction: Direction): Promise<TransportInfo> {
		this.#assertOpen();
		if (direction === 'send') this.#assertMayPublishAnything();
		for (const [id, t] of this.#transports) {
			if (t.direction === direction) {
				t.transport.close();
				this.#transports.delete(id);
			}
		}
		const { listenIp, announcedIp, initialAvailableOutgoingBitrate } = this.#context.webRtc;
		const transport = await this.#context.router.createWebRtcTransport({
			listenIps: [announcedIp ? { ip: listenIp, announcedIp } : { ip: listenIp }],
			enableUdp: true,
			enableTcp: true,
			preferUdp: true,
			initialAvailableOutgoingBitrate,
			appData: { peerId: this.id, direction },
		});
		if (this.#closed) {
			transport.close();
			throw new StageError('conflict', 'peer closed');
		}
		this.#adoptTransport(direction, transport);
		return { id: transport.id, iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters };
	}

	/** A comedia plain RTP transport for a synthetic speaker's ffmpeg (RTCP on its own port). */
	async createPlainTransport(listenIp: string): Promise<types.PlainTransport> {
		this.#assertOpen();
		this.#assertMayPublishAnything();
		const transport = await this.#context.router.createPlainTransport({ listenIp, rtcpMux: false, comedia: true, appData: { peerId: this.id } });
		if (this.#closed) {
			transport.close();
			throw new StageError('conflict', 'peer closed');
		}
		this.#adoptTransport('send', transport);
		return transport;
	}

	async connectTransport(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
		this.#assertOpen();
		const entry = this.#transports.get(transportId);
		if (!entry) throw new StageError('not_found', 'no such transport');
		await entry.transport.connect({ dtlsParameters });
	}

	/**
	 * Publishes a track. Checked here again, whatever the caller checked: the source must be granted and of the
	 * track's kind, the transport must be this peer's send transport, a peer has at most one producer per source, a
	 * screen must be the stage's only share (VP8, one encoding) unless it replaces the live share of `replacing` (the
	 * caller checked that it may: the stage ends that share once the new one's consumers exist), and tab audio needs
	 * the peer's own screen. Audio from the microphone starts paused while the peer is muted at the server.
	 */
	async produce(
		transportId: string,
		kind: types.MediaKind,
		rtpParameters: types.RtpParameters,
		source: ProducerSource = kind === 'audio' ? 'mic' : 'camera',
		replacing?: string,
	): Promise<types.Producer<ProducerAppData>> {
		this.#assertOpen();
		if (sourceKind[source] !== kind) throw new StageError('bad_request', `a ${source} producer is ${sourceKind[source]}, not ${kind}`);
		if (!this.#granted(source)) throw new StageError('forbidden', `not allowed to publish ${source === 'mic' || source === 'camera' ? kind : 'a screen share'}`);
		const entry = this.#transports.get(transportId);
		if (!entry || entry.direction !== 'send') throw new StageError('not_found', 'no such send transport');
		const check = (): void => {
			if (this.producers.some((p) => producerSource(p) === source)) throw new StageError('conflict', `already publishing ${source === 'mic' ? 'audio' : source === 'camera' ? 'video' : source}`);
			if (source === 'screen') this.#context.claimShare(this, replacing);
			if (source === 'screenAudio' && !this.producers.some((p) => producerSource(p) === 'screen')) throw new StageError('conflict', 'share a screen before its sound');
		};
		check();
		if (source === 'screen') {
			checkScreenParameters(rtpParameters);
			const now = performance.now();
			if (this.#shareStarts.length >= maxShareStarts && now - this.#shareStarts[0]! < shareStartWindowMs) {
				throw new StageError('rate_limited', 'too many screen shares started; try again in a few seconds');
			}
			this.#shareStarts.push(now);
			if (this.#shareStarts.length > maxShareStarts) this.#shareStarts.shift();
		}
		const producer = await entry.transport.produce<ProducerAppData>({
			kind,
			rtpParameters,
			paused: source === 'mic' && this.#audioMuted,
			appData: { peerId: this.id, source },
		});
		// Grants or state may have changed while mediasoup worked.
		try {
			if (this.#closed || !this.#granted(source)) throw new StageError('forbidden', `not allowed to publish ${kind}`);
			check();
		} catch (error) {
			producer.close();
			throw error;
		}
		this.#producers.set(producer.id, producer);
		producer.observer.once('close', () => {
			this.#producers.delete(producer.id);
			// Tab audio goes with its screen.
			if (source === 'screen') for (const p of this.producers) if (producerSource(p) === 'screenAudio') p.close();
		});
		this.#context.onProducer(this, producer);
		return producer;
	}

	closeProducer(producerId: string): void {
		const producer = this.#producers.get(producerId);
		if (!producer) throw new StageError('not_found', 'no such producer');
		producer.close();
	}

	/** Narrows or widens what the peer may publish; producers of sources no longer granted close at once. */
	setGrants(grants: PublishGrants): void {
		this.#grants = { ...grants };
		for (const producer of this.producers) {
			if (!producer.closed && !this.#granted(producerSource(producer))) producer.close();
		}
	}

	/** Pauses (or resumes) the peer's audio at the server; the client cannot undo it. */
	async setAudioMuted(muted: boolean): Promise<void> {
		this.#audioMuted = muted;
		for (const producer of this.producers) {
			if (producerSource(producer) !== 'mic' || producer.closed) continue;
			if (muted) await producer.pause();
			else await producer.resume();
		}
	}

	/** Records what the client can receive and consumes every other peer's producers. */
	async setRtpCapabilities(rtpCapabilities: types.RtpCapabilities): Promise<void> {
		this.#assertOpen();
		if (!this.#recvTransport()) throw new StageError('conflict', 'create the receive transport first');
		this.#rtpCapabilities = rtpCapabilities;
		for (const producer of this.#context.otherProducers(this)) await this.consume(producer);
	}

	/**
	 * Consumes another peer's producer on this peer's receive transport, paused until the client resumes it. A no-op
	 * until the peer can receive, or if it cannot decode the producer.
	 */
	async consume(producer: types.Producer<ProducerAppData>): Promise<void> {
		const transport = this.#recvTransport();
		const caps = this.#rtpCapabilities;
		if (this.#closed || !transport || !caps || producer.closed) return;
		if (this.consumers.some((c) => c.producerId === producer.id)) return;
		if (!this.#context.router.canConsume({ producerId: producer.id, rtpCapabilities: caps })) return;
		const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: caps, paused: true });
		if (this.#closed) {
			consumer.close();
			return;
		}
		this.#consumers.set(consumer.id, consumer);
		consumer.observer.once('close', () => {
			this.#consumers.delete(consumer.id);
			if (!this.#closed) this.safeEmit('consumerclosed', consumer.id);
		});
		this.safeEmit('newconsumer', {
			consumerId: consumer.id,
			producerId: producer.id,
			participantId: producer.appData.peerId,
			kind: consumer.kind,
			source: producerSource(producer),
			rtpParameters: consumer.rtpParameters,
		});
	}

	async resumeConsumer(consumerId: string): Promise<void> {
		const consumer = this.#consumers.get(consumerId);
		if (!consumer) throw new StageError('not_found', 'no such consumer');
		await consumer.resume();
		// A video consumer needs a keyframe to start.
		if (consumer.kind === 'video') await consumer.requestKeyFrame();
	}

	/** Closes every transport (and with them producers and consumers). Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const { transport } of this.#transports.values()) transport.close();
		this.#transports.clear();
		this.#producers.clear();
		this.#consumers.clear();
		this.safeEmit('close');
	}

	#adoptTransport(direction: Direction, transport: types.Transport): void {
		this.#transports.set(transport.id, { direction, transport });
		transport.observer.once('close', () => this.#transports.delete(transport.id));
	}

	#recvTransport(): types.Transport | undefined {
		for (const t of this.#transports.values()) if (t.direction === 'recv') return t.transport;
		return undefined;
	}

	#granted(source: ProducerSource): boolean {
		return source === 'mic' ? this.#grants.audio : source === 'camera' ? this.#grants.video : this.#grants.screen === true;
	}

	#assertMayPublishAnything(): void {
		if (!this.#grants.audio && !this.#grants.video) throw new StageError('forbidden', 'not allowed to publish');
	}

	#assertOpen(): void {
		if (this.#closed) throw new StageError('conflict', 'peer closed');
	}
}

/**
 * A screen share is one VP8 encoding: ingest reads its keyframes to hold it to its size (`ScreenShareGuard`), and the
 * broadcast composites VP8. Simulcast layers would multiply what a share may send.
 */
function checkScreenParameters(rtpParameters: types.RtpParameters): void {
	const codec = rtpParameters.codecs?.find((c) => !/\/(rtx|red|ulpfec)$/i.test(c.mimeType));
	if (codec?.mimeType.toLowerCase() !== 'video/vp8') throw new StageError('bad_request', 'a screen share must be sent as VP8');
	if ((rtpParameters.encodings?.length ?? 1) > 1) throw new StageError('bad_request', 'a screen share is one encoding (no simulcast)');
}
