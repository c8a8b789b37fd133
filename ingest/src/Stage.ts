import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { StageError } from './StageError.js';
import { defaultScreenShareLimits, ScreenShareGuard, type ScreenShareLimits, type ScreenShareViolation } from './ScreenShareGuard.js';
import { producerSource, StagePeer, type ProducerAppData, type PublishGrants, type WebRtcListenOptions } from './StagePeer.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { WorkerPool } from './WorkerPool.js';

export interface StageOptions {
	webRtc: WebRtcListenOptions;
	/** How often the active speaker may change, in ms (mediasoup's ActiveSpeakerObserver interval). */
	activeSpeakerIntervalMs: number;
	/** How often audio levels are reported, in ms. */
	audioLevelIntervalMs: number;
	/** What a screen share may send (default `defaultScreenShareLimits`). */
	screenShare?: ScreenShareLimits;
}

export const defaultStageOptions: Readonly<StageOptions> = Object.freeze({
	webRtc: { listenIp: '127.0.0.1', initialAvailableOutgoingBitrate: 600_000 },
	activeSpeakerIntervalMs: 300,
	audioLevelIntervalMs: 500,
	screenShare: defaultScreenShareLimits,
});

/**
 * Why a screen share ended: `stopped` by its sharer (or the browser's own "stop sharing"), `stopped_by_moderator`,
 * `replaced` by another share, `left` (the sharer's peer closed: left the stage or disconnected), `demoted` (their
 * role no longer shares), `not_allowed` (their grant was withdrawn otherwise), `too_large`/`too_fast` (past the
 * stage's `ScreenShareLimits`), `stage_closed`.
 */
export type ShareEndReason = 'stopped' | 'stopped_by_moderator' | 'replaced' | 'left' | 'demoted' | 'not_allowed' | 'too_large' | 'too_fast' | 'stage_closed';

/** The stage's one screen share. */
export interface ScreenShare {
	peerId: string;
	videoProducerId: string;
	/** The shared tab's sound, when there is one. */
	audioProducerId?: string;
	/** When it started, epoch ms. */
	startedAt: number;
}

export type StageEvents = {
	/** The dominant speaker changed. */
	activespeaker: [peerId: string];
	/** Loudness of the loudest speakers (dBov, -127…0); empty when all are silent. */
	audiolevels: [levels: { peerId: string; volumeDb: number }[]];
	/** A producer appeared (for tests and the broadcast, which consumes the stage). */
	newproducer: [producer: types.Producer<ProducerAppData>];
	/** A screen share started, or its tab audio came or went. */
	sharechanged: [share: ScreenShare];
	/** The screen share ended. */
	shareended: [share: ScreenShare, reason: ShareEndReason];
	/** `routerclosed`: the worker died; the owner should open a new stage for the space. */
	close: [reason: 'closed' | 'routerclosed'];
};

interface ActiveShare {
	peer: StagePeer;
	video: types.Producer<ProducerAppData>;
	audio: types.Producer<ProducerAppData> | undefined;
	startedAt: number;
	guard: ScreenShareGuard | undefined;
	/** Set by whoever ends it, before its producer closes. */
	endReason: ShareEndReason | undefined;
}

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
	#share: ActiveShare | undefined;

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
			claimShare: (p, replacing) => {
				const share = this.#share;
				if (share && share.peer !== p && !share.video.closed && share.peer.id !== replacing) throw new StageError('conflict', 'someone else is sharing their screen');
			},
		});
		peer.onListenerError((event, error) => this.#logger.error({ err: error, event, peerId }, 'StagePeer listener threw'));
		this.#peers.set(peerId, peer);
		peer.once('close', () => {
			if (this.#peers.get(peerId) === peer) this.#peers.delete(peerId);
		});
		return peer;
	}

	/** The screen share on stage now, if any. */
	get share(): ScreenShare | undefined {
		return this.#share && shareInfo(this.#share);
	}

	/**
	 * Ends the screen share (its screen and tab audio producers close; the sharer's client hears of it as
	 * `shareended` through the API). Returns the share it ended, or undefined when there was none.
	 */
	stopShare(reason: ShareEndReason): ScreenShare | undefined {
		const share = this.#share;
		if (!share) return undefined;
		share.endReason ??= reason;
		const info = shareInfo(share);
		share.video.close();
		return info;
	}

	/** Closes the router, and with it every peer, transport, producer and consumer. Idempotent. */
	close(): void {
		this.#close('closed');
	}

	#close(reason: 'closed' | 'routerclosed'): void {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#share) this.#share.endReason ??= 'stage_closed';
		for (const peer of this.#peers.values()) peer.close();
		this.#peers.clear();
		this.router.close();
		this.safeEmit('close', reason);
	}

	#onProducer(peer: StagePeer, producer: types.Producer<ProducerAppData>): void {
		const source = producerSource(producer);
		const replaced = source === 'screen' ? this.#onShare(peer, producer) : undefined;
		if (source === 'screenAudio' && this.#share?.peer === peer) {
			const share = this.#share;
			share.audio = producer;
			producer.observer.once('close', () => {
				if (this.#share !== share || share.audio !== producer) return;
				share.audio = undefined;
				if (!share.video.closed) this.safeEmit('sharechanged', shareInfo(share));
			});
			this.safeEmit('sharechanged', shareInfo(share));
		}
		// Tab audio is not a voice: it neither makes its sharer the active speaker nor shows as their level.
		if (source === 'mic') {
			// Observers only take audio; errors here (a producer closed meanwhile) must not fail the produce.
			this.#activeSpeaker.addProducer({ producerId: producer.id }).catch(() => {});
			// As above: a producer closed meanwhile leaves the observer by itself.
			this.#audioLevels.addProducer({ producerId: producer.id }).catch(() => {});
		}
		const consumed = [...this.#peers.values()]
			.filter((other) => other !== peer)
			.map((other) => other.consume(producer).catch((error: unknown) => this.#logger.warn({ err: error, peerId: other.id, producerId: producer.id }, 'consume failed')));
		this.safeEmit('newproducer', producer);
		// A replaced share ends once every peer has its successor's consumer, so each client sets up the new picture
		// first and shows it in the old one's place. Ended first, every client would renegotiate its connection to
		// drop the old share's consumers (and lay its page out without a share) before it could take the new one.
		if (replaced) void Promise.all(consumed).then(() => replaced.video.close());
	}

	/**
	 * A screen producer passed the peer's checks: it becomes the stage's share. A share still live is the one it
	 * replaces (the caller said so, see `claimShare`), returned for `#onProducer` to end.
	 */
	#onShare(peer: StagePeer, producer: types.Producer<ProducerAppData>): ActiveShare | undefined {
		const replaced = this.#share && !this.#share.video.closed ? this.#share : undefined;
		if (replaced) replaced.endReason ??= 'replaced';
		const share: ActiveShare = { peer, video: producer, audio: undefined, startedAt: Date.now(), guard: undefined, endReason: undefined };
		this.#share = share;
		producer.observer.once('close', () => {
			share.guard?.close();
			// A replaced share is no longer the stage's when it ends, after its successor started.
			if (this.#share === share) this.#share = undefined;
			const reason = share.endReason ?? (peer.closed ? 'left' : peer.grants.screen ? 'stopped' : 'not_allowed');
			this.safeEmit('shareended', shareInfo(share), reason);
		});
		const limits = this.#options.screenShare ?? defaultScreenShareLimits;
		ScreenShareGuard.watch(this.router, producer, limits, (violation) => this.#overLimits(share, violation)).then(
			(guard) => {
				if (producer.closed) guard.close();
				else share.guard = guard;
			},
			(error: unknown) => {
				// A share ingest cannot measure is not let through: it could be any size.
				if (producer.closed) return;
				this.#logger.warn({ err: error, peerId: peer.id }, 'screen share guard failed; ending the share');
				share.endReason ??= 'too_large';
				producer.close();
			},
		);
		this.safeEmit('sharechanged', shareInfo(share));
		return replaced;
	}

	#overLimits(share: ActiveShare, violation: ScreenShareViolation): void {
		this.#logger.info({ peerId: share.peer.id, violation }, 'screen share past its limits; ending it');
		share.endReason ??= violation.reason;
		share.video.close();
	}
}

function shareInfo(share: ActiveShare): ScreenShare {
	return {
		peerId: share.peer.id,
		videoProducerId: share.video.id,
		...(share.audio && !share.audio.closed && { audioProducerId: share.audio.id }),
		startedAt: share.startedAt,
	};
}
