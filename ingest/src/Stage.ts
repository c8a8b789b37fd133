import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { StageError } from './StageError.js';
import { StagePeer, type ProducerAppData, type PublishGrants, type WebRtcListenOptions } from './StagePeer.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { WorkerPool } from './WorkerPool.js';

export interface StageOptions {
	webRtc: WebRtcListenOptions;
	/** How often the active speaker may change, in ms (mediasoup's ActiveSpeakerObserver interval). */
	activeSpeakerIntervalMs: number;
	/** How often audio levels are reported, in ms. */
	audioLevelIntervalMs: number;
}

export const defaultStageOptions: Readonly<StageOptions> = Object.freeze({
	webRtc: { listenIp: '127.0.0.1', initialAvailableOutgoingBitrate: 600_000 },
	activeSpeakerIntervalMs: 300,
	audioLevelIntervalMs: 500,
});

export type StageEvents = {
	/** The dominant speaker changed. */
	activespeaker: [peerId: string];
	/** Loudness of the loudest speakers (dBov, -127…0); empty when all are silent. */
	audiolevels: [levels: { peerId: string; volumeDb: number }[]];
	/** A producer appeared (for tests and the broadcast, which consumes the stage). */
	newproducer: [producer: types.Producer<ProducerAppData>];
	/** `routerclosed`: the worker died; the owner should open a new stage for the space. */
	close: [reason: 'closed' | 'routerclosed'];
};

/**
 * One space's SFU: a mediasoup router on the least-loaded worker, the observers that say who speaks, and the
 * peers on stage. Every peer consumes every other peer's producers, so each speaker hears the others. Owns its
 * router and peers and closes them on close().
 */
export class Stage extends TypedEmitter<StageEvents> {
	readonly spaceId: string;
	readonly router: types.Router;
	readonly #options: StageOptions;
	readonly #activeSpeaker: types.ActiveSpeakerObserver;
	readonly #audioLevels: types.AudioLevelObserver;
	readonly #peers = new Map<string, StagePeer>();
	readonly #logger: Logger;
	#closed = false;
	#dominant: string | null = null;

	private constructor(spaceId: string, router: types.Router, activeSpeaker: types.ActiveSpeakerObserver, audioLevels: types.AudioLevelObserver, options: StageOptions, logger: Logger) {
		super();
		this.spaceId = spaceId;
		this.router = router;
		this.#activeSpeaker = activeSpeaker;
		this.#audioLevels = audioLevels;
		this.#options = options;
		this.#logger = logger;
		this.onListenerError((event, error) => logger.error({ err: error, event, spaceId }, 'Stage listener threw'));
		router.observer.once('close', () => this.#close('routerclosed'));
		activeSpeaker.on('dominantspeaker', ({ producer }) => {
			const peerId = (producer.appData as ProducerAppData).peerId;
			this.#dominant = peerId;
			this.safeEmit('activespeaker', peerId);
		});
		audioLevels.on('volumes', (volumes) =>
			this.safeEmit('audiolevels', volumes.map((v) => ({ peerId: (v.producer.appData as ProducerAppData).peerId, volumeDb: v.volume }))),
		);
		audioLevels.on('silence', () => this.safeEmit('audiolevels', []));
	}

	static async create(pool: WorkerPool, spaceId: string, options: StageOptions, logger: Logger): Promise<Stage> {
		const router = await pool.createRouter({ spaceId });
		try {
			const activeSpeaker = await router.createActiveSpeakerObserver({ interval: options.activeSpeakerIntervalMs });
			const audioLevels = await router.createAudioLevelObserver({ maxEntries: 16, threshold: -70, interval: options.audioLevelIntervalMs });
			return new Stage(spaceId, router, activeSpeaker, audioLevels, options, logger.child({ spaceId }));
		} catch (error) {
			router.close();
			throw error;
		}
	}

	get closed(): boolean {
		return this.#closed;
	}

	get rtpCapabilities(): types.RtpCapabilities {
		return this.router.rtpCapabilities;
	}

	/** The last dominant speaker still on stage, if any. */
	get activeSpeaker(): string | null {
		return this.#dominant !== null && this.#peers.has(this.#dominant) ? this.#dominant : null;
	}

	get peers(): StagePeer[] {
		return [...this.#peers.values()];
	}

	getPeer(peerId: string): StagePeer | undefined {
		return this.#peers.get(peerId);
	}

	/** Adds a peer with what it may publish. A peer id is on a stage at most once. */
	addPeer(peerId: string, grants: PublishGrants): StagePeer {
		if (this.#closed) throw new StageError('conflict', 'stage closed');
		if (this.#peers.has(peerId)) throw new StageError('conflict', `peer ${peerId} is already on stage`);
		const peer = new StagePeer(peerId, grants, {
			router: this.router,
			webRtc: this.#options.webRtc,
			onProducer: (p, producer) => this.#onProducer(p, producer),
			otherProducers: (p) => this.peers.filter((other) => other !== p).flatMap((other) => other.producers),
		});
		peer.onListenerError((event, error) => this.#logger.error({ err: error, event, peerId }, 'StagePeer listener threw'));
		this.#peers.set(peerId, peer);
		peer.once('close', () => {
			if (this.#peers.get(peerId) === peer) this.#peers.delete(peerId);
		});
		return peer;
	}

	/** Closes the router, and with it every peer, transport, producer and consumer. Idempotent. */
	close(): void {
		this.#close('closed');
	}

	#close(reason: 'closed' | 'routerclosed'): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const peer of this.#peers.values()) peer.close();
		this.#peers.clear();
		this.router.close();
		this.safeEmit('close', reason);
	}

	#onProducer(peer: StagePeer, producer: types.Producer<ProducerAppData>): void {
		if (producer.kind === 'audio') {
			// Observers only take audio; errors here (a producer closed meanwhile) must not fail the produce.
			this.#activeSpeaker.addProducer({ producerId: producer.id }).catch(() => {});
			this.#audioLevels.addProducer({ producerId: producer.id }).catch(() => {});
		}
		for (const other of this.#peers.values()) {
			if (other === peer) continue;
			other.consume(producer).catch((error: unknown) => this.#logger.warn({ err: error, peerId: other.id, producerId: producer.id }, 'consume failed'));
		}
		this.safeEmit('newproducer', producer);
	}
}
