import type { Logger } from 'pino';
import type { ParticipantId, SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';

/** How long a mark waits for others of its space before it is written, ms (a burst of connections is one write). */
const batchMs = 20;

export interface PresenceOptions {
	service: SpaceService;
	logger: Logger;
	/** Everyone connected to this node, per space. */
	connected: () => Iterable<[SpaceId, Iterable<ParticipantId>]>;
	/** How often everyone connected here is marked again, ms. */
	refreshMs: number;
	/** How long a space's presence lives after its last mark, s. */
	keepS: number;
}

/**
 * Tells the store who is connected to this node, so that what is timed from someone's last connection (their raised
 * hand, their listener record) is timed over every node: marked when they connect and when they leave, and every
 * `refreshMs` while they stay. Writes are batched per space.
 */
export class Presence {
	readonly #options: PresenceOptions;
	readonly #pending = new Map<SpaceId, Set<ParticipantId>>();
	readonly #refresh: NodeJS.Timeout;
	#flushTimer: NodeJS.Timeout | undefined;
	#closed = false;

	constructor(options: PresenceOptions) {
		this.#options = options;
		this.#refresh = setInterval(() => {
			for (const [spaceId, ids] of options.connected()) for (const id of ids) this.mark(spaceId, id);
		}, options.refreshMs).unref();
	}

	/** `participantId` is (or was, until now) connected to `spaceId`. */
	mark(spaceId: SpaceId, participantId: ParticipantId): void {
		if (this.#closed) return;
		let ids = this.#pending.get(spaceId);
		if (!ids) this.#pending.set(spaceId, (ids = new Set()));
		ids.add(participantId);
		this.#flushTimer ??= setTimeout(() => void this.flush(), batchMs);
	}

	/** Writes the pending marks now. */
	async flush(): Promise<void> {
		clearTimeout(this.#flushTimer);
		this.#flushTimer = undefined;
		const batches = [...this.#pending];
		this.#pending.clear();
		await Promise.all(
			batches.map(([spaceId, ids]) =>
				this.#options.service.touchParticipants(spaceId, [...ids], this.#options.keepS).catch((error: unknown) => this.#options.logger.warn({ err: error, spaceId }, 'presence: could not mark participants')),
			),
		);
	}

	close(): void {
		if (this.#closed) return;
		void this.flush();
		this.#closed = true;
		clearInterval(this.#refresh);
	}
}
