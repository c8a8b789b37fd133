import { subscribeCaptions, type CaptionCue } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CaptionCueInfo } from '../signaling/protocol.js';
import type { SpaceId } from '../spaces/Space.js';
import { batchCues } from './batchCues.js';

export interface CaptionRelayOptions {
	/** A connection for pub/sub only (the relay subscribes on it); the relay disconnects it on close. */
	subscriber: Redis;
	/** Key prefix shared by Tribune's processes. */
	prefix: string;
	logger: Logger;
	/** Sends one batch of cues to the space's connections on this node that read live captions (the stage). */
	deliver: (spaceId: SpaceId, cues: CaptionCueInfo[]) => void;
	/** Cues arriving this close together go out as one `caption` event, ms. Default 50. */
	batchMs?: number;
	/** A space's subscription outlives its last connection on this node by this long, ms. Default 10 000. */
	lingerMs?: number;
}

interface Watch {
	unsubscribe: Promise<(() => Promise<void>) | undefined>;
	pending: CaptionCueInfo[];
	timer: NodeJS.Timeout | undefined;
	/** Set while an `unwatch` waits out its linger. */
	linger: NodeJS.Timeout | undefined;
}

/** Cues held for one space between ticks; beyond it the oldest are dropped (a flood must not grow memory). */
const maxPendingCues = 200;

/**
 * Live captions to the WebSocket: subscribes to the caption channel of each space that has connections on this node
 * (recognition on a transcoder and captioners on any node publish there) and hands the cues on, batched per tick.
 */
export class CaptionRelay {
	readonly #options: CaptionRelayOptions;
	readonly #watches = new Map<SpaceId, Watch>();
	readonly #unsubscribing = new Map<SpaceId, Promise<void>>();
	#closed = false;

	constructor(options: CaptionRelayOptions) {
		this.#options = options;
		options.subscriber.on('error', (error) => options.logger.warn({ err: error }, 'caption subscriber connection error'));
	}

	/** Starts relaying a space's cues (idempotent); cancels a pending `unwatch`. */
	watch(spaceId: SpaceId): void {
		if (this.#closed) return;
		const existing = this.#watches.get(spaceId);
		if (existing) {
			if (existing.linger) clearTimeout(existing.linger);
			existing.linger = undefined;
			return;
		}
		const watch: Watch = { pending: [], timer: undefined, linger: undefined, unsubscribe: Promise.resolve(undefined) };
		// Redis subscriptions are per channel and connection: a subscribe must not overtake the last unsubscribe.
		const after = this.#unsubscribing.get(spaceId) ?? Promise.resolve();
		watch.unsubscribe = after
			.then(() => subscribeCaptions(this.#options.subscriber, this.#options.prefix, spaceId, (cue) => this.#onCue(spaceId, watch, cue), this.#options.logger))
			.catch((error: unknown) => {
				this.#options.logger.warn({ err: error, spaceId }, 'could not subscribe to captions');
				return undefined;
			});
		this.#watches.set(spaceId, watch);
	}

	/**
	 * Stops relaying a space's cues after `lingerMs` (a page reload reconnects without a new subscription); cues still
	 * pending then are dropped. Idempotent.
	 */
	unwatch(spaceId: SpaceId, lingerMs = this.#options.lingerMs ?? 10_000): void {
		const watch = this.#watches.get(spaceId);
		if (!watch || watch.linger) return;
		const stop = (): void => {
			if (this.#watches.get(spaceId) !== watch) return;
			this.#watches.delete(spaceId);
			if (watch.timer) clearTimeout(watch.timer);
			const done = watch.unsubscribe.then((off) => off?.()).catch(() => {});
			this.#unsubscribing.set(spaceId, done);
			void done.then(() => {
				if (this.#unsubscribing.get(spaceId) === done) this.#unsubscribing.delete(spaceId);
			});
		};
		if (lingerMs <= 0) stop();
		else watch.linger = setTimeout(stop, lingerMs).unref();
	}

	/** Spaces relayed now (for tests and metrics). */
	get watching(): number {
		return this.#watches.size;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const [spaceId, watch] of [...this.#watches]) {
			if (watch.linger) clearTimeout(watch.linger);
			watch.linger = undefined;
			this.unwatch(spaceId, 0);
		}
		this.#options.subscriber.disconnect();
	}

	#onCue(spaceId: SpaceId, watch: Watch, cue: CaptionCue): void {
		if (this.#watches.get(spaceId) !== watch) return;
		const { spaceId: _space, ...info } = cue;
		watch.pending.push(info);
		if (watch.pending.length > maxPendingCues) watch.pending.splice(0, watch.pending.length - maxPendingCues);
		watch.timer ??= setTimeout(() => {
			watch.timer = undefined;
			const cues = batchCues(watch.pending);
			watch.pending = [];
			if (cues.length > 0 && this.#watches.get(spaceId) === watch) this.#options.deliver(spaceId, cues);
		}, this.#options.batchMs ?? 50);
	}
}
