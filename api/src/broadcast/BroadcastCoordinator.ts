import type { Stage, StageRegistry } from '@tribune/ingest';
import type { BroadcastQueue, ExportQueue, StageLinkSnapshot } from '@tribune/transcoder';
import type { Logger } from 'pino';
import type { StageLinkServer } from '../stageLink/StageLinkServer.js';
import { screenShareOf, stageMediaOf } from '../stageLink/stageMedia.js';
import type { Space, SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import type { SpaceStore } from '../spaces/SpaceStore.js';

export interface BroadcastCoordinatorOptions {
	service: SpaceService;
	store: SpaceStore;
	stages: StageRegistry;
	link: StageLinkServer;
	queue: BroadcastQueue;
	/** Where a recorded space's MP4 export is queued when it ends; without it, none is. */
	exports?: Pick<ExportQueue, 'request'>;
	logger: Logger;
	/** Stage changes this close together are published as one snapshot. Default 50 ms. */
	coalesceMs?: number;
}

/**
 * The API node's side of broadcasting: when a space goes live it queues the space's broadcast job, when it ends it
 * stops it (and, if it was recorded, queues the MP4 export of its replay), and whenever its stage changes (who is on
 * it, their producers, mutes, pins, the active speaker) it publishes a stage snapshot for the transcoder that runs
 * the job.
 */
export class BroadcastCoordinator {
	readonly #options: BroadcastCoordinatorOptions;
	readonly #pending = new Map<string, NodeJS.Timeout>();
	readonly #hooked = new WeakSet<Stage>();
	/** Versions grow across restarts of this node: milliseconds, then a counter within one. */
	#lastVersion = 0;
	#closed = false;

	constructor(options: BroadcastCoordinatorOptions) {
		this.#options = options;
		const { service, stages } = options;
		service.on('spaceState', ({ space }) => void this.#onSpaceState(space));
		service.on('roleChanged', ({ spaceId }) => this.#schedule(spaceId));
		service.on('muteChanged', ({ spaceId }) => this.#schedule(spaceId));
		service.on('pinnedChanged', ({ spaceId }) => this.#schedule(spaceId));
		service.on('participantRemoved', ({ spaceId }) => this.#schedule(spaceId));
		// The snapshot carries the caption mode: the transcoder follows a change made while live.
		service.on('settingsChanged', ({ space }) => this.#schedule(space.id));
		stages.on('stageopened', (stage) => this.#hook(stage));
	}

	/** Publishes a space's stage now (also used when a transcoder asks for a fresh snapshot). */
	async publish(spaceId: SpaceId): Promise<StageLinkSnapshot | undefined> {
		const { store, stages, link } = this.#options;
		const stage = stages.get(spaceId);
		if (!stage) return undefined;
		const [participants, pinned, space] = await Promise.all([store.listStage(spaceId), store.pinned(spaceId), store.getSpace(spaceId)]);
		const activeSpeakerId = stage.activeSpeaker ?? undefined;
		const share = screenShareOf(stage);
		const snapshot: StageLinkSnapshot = {
			spaceId,
			node: link.node,
			version: this.#nextVersion(),
			// Microphones and cameras only: a screen share is the stage's, in `screenShare`.
			speakers: participants.map((p) => ({ peerId: p.id, name: p.displayName, muted: p.mute !== 'none', ...stageMediaOf(stage, p.id) })),
			pinned: pinned.filter((id) => participants.some((p) => p.id === id)),
			...(activeSpeakerId && participants.some((p) => p.id === activeSpeakerId) && { activeSpeakerId }),
			// The transcoder follows the caption mode live from the snapshots (captions, burned-in text).
			captionMode: space?.settings.captionMode ?? 'off',
			...(share && participants.some((p) => p.id === share.peerId) && { screenShare: share }),
		};
		await link.publishSnapshot(snapshot);
		return snapshot;
	}

	close(): void {
		this.#closed = true;
		for (const timer of this.#pending.values()) clearTimeout(timer);
		this.#pending.clear();
	}

	async #onSpaceState(space: Space): Promise<void> {
		const { queue, stages, logger } = this.#options;
		try {
			if (space.state === 'live') {
				// The stage must exist for the broadcast to consume it, even before anyone publishes.
				const stage = await stages.open(space.id);
				this.#hook(stage);
				await this.publish(space.id);
				// Transcoders are shared fairly between owners (BroadcastQueue's priorities).
				const owner = await this.#fairnessOwner(space);
				const queued = await queue.start({ spaceId: space.id, composite: space.settings.video, recording: space.settings.recording, requestedAt: Date.now(), owner });
				logger.info({ spaceId: space.id, queued }, 'broadcast requested');
			} else if (space.state === 'ended') {
				await queue.stop(space.id);
				logger.info({ spaceId: space.id }, 'broadcast stop requested');
				if (space.settings.recording && this.#options.exports) {
					// The export job waits for the broadcast to finish writing the replay.
					const queued = await this.#options.exports.request({ spaceId: space.id, requestedAt: Date.now() });
					logger.info({ spaceId: space.id, queued }, 'replay export requested');
				}
			}
		} catch (error) {
			logger.error({ err: error, spaceId: space.id, state: space.state }, 'broadcast coordination failed');
		}
	}

	/**
	 * Whose share of the transcoders a space's broadcast takes: its owner identity; for an anonymous one (free to make
	 * under open hosting) the address tag of the host's latest join (`addr:<tag>`, IPv6 per /64), when the host's
	 * record has one, so one client cannot take several shares by minting identities.
	 */
	async #fairnessOwner(space: Space): Promise<string> {
		if (!space.owner.startsWith('anon:')) return space.owner;
		const host = await this.#options.store.getParticipant(space.id, space.hostId);
		return host?.addr ? `addr:${host.addr}` : space.owner;
	}

	#hook(stage: Stage): void {
		if (this.#hooked.has(stage)) return;
		this.#hooked.add(stage);
		const spaceId = stage.spaceId as SpaceId;
		stage.on('newproducer', (producer) => {
			this.#schedule(spaceId);
			producer.observer.on('close', () => this.#schedule(spaceId));
			producer.observer.on('pause', () => this.#schedule(spaceId));
			producer.observer.on('resume', () => this.#schedule(spaceId));
		});
		stage.on('activespeaker', () => this.#schedule(spaceId));
	}

	#schedule(spaceId: SpaceId): void {
		if (this.#closed || this.#pending.has(spaceId)) return;
		this.#pending.set(
			spaceId,
			setTimeout(() => {
				this.#pending.delete(spaceId);
				this.publish(spaceId).catch((error: unknown) => this.#options.logger.warn({ err: error, spaceId }, 'stage snapshot not published'));
			}, this.#options.coalesceMs ?? 50),
		);
	}

	#nextVersion(): number {
		this.#lastVersion = Math.max(this.#lastVersion + 1, Date.now() * 1000);
		return this.#lastVersion;
	}
}
