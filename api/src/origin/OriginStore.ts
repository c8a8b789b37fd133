import type { Logger } from 'pino';
import type { HlsFeed } from './HlsFeed.js';
import { OriginStream, type OriginWindow } from './OriginStream.js';

export interface OriginStoreOptions extends OriginWindow {
	/** Where packager events come from (RedisHlsFeed). */
	feed: HlsFeed;
	/** A stream nobody asked for during this long is dropped from memory (default 60 000 ms). */
	idleMs?: number;
	logger: Logger;
}

/**
 * The streams this origin follows. A stream is followed on its first request and dropped after `idleMs` without
 * one, so an origin holds only what its listeners watch.
 */
export class OriginStore {
	readonly #options: OriginStoreOptions;
	readonly #streams = new Map<string, Promise<{ stream: OriginStream; stop: () => void }>>();
	/** The streams whose follow has resolved, for {@link peek}. */
	readonly #ready = new Map<string, OriginStream>();
	readonly #sweeper: NodeJS.Timeout;
	#closed = false;

	constructor(options: OriginStoreOptions) {
		this.#options = options;
		const idleMs = options.idleMs ?? 60_000;
		this.#sweeper = setInterval(() => this.#sweep(idleMs), Math.min(idleMs, 15_000));
		this.#sweeper.unref();
	}

	/**
	 * The stream, following it first if needed; undefined when no packager has published it (only streams that
	 * exist are followed, so requests for made-up ids cannot pile up subscriptions). Rejects when Redis is down.
	 */
	async get(streamId: string): Promise<OriginStream | undefined> {
		if (this.#closed) throw new Error('origin store is closed');
		let entry = this.#streams.get(streamId);
		if (!entry) {
			if (!(await this.#options.feed.exists(streamId))) return undefined;
			entry = this.#streams.get(streamId) ?? this.#follow(streamId);
			if (!this.#streams.has(streamId)) {
				this.#streams.set(streamId, entry);
				entry.catch(() => this.#streams.delete(streamId));
			}
		}
		const { stream } = await entry;
		stream.lastAccessMs = Date.now();
		return stream;
	}

	/** The stream if this origin already follows it, without waiting (the hot path for parts). */
	peek(streamId: string): OriginStream | undefined {
		const stream = this.#ready.get(streamId);
		if (stream) stream.lastAccessMs = Date.now();
		return stream;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#sweeper);
		for (const entry of this.#streams.values()) {
			void entry.then(({ stream, stop }) => {
				stop();
				stream.waiters.close();
			}, () => {});
		}
		this.#streams.clear();
		this.#ready.clear();
	}

	async #follow(streamId: string): Promise<{ stream: OriginStream; stop: () => void }> {
		const stream = new OriginStream(streamId, { windowSegments: this.#options.windowSegments });
		const stop = await this.#options.feed.follow(streamId, (message) => {
			try {
				stream.apply(message);
			} catch (error) {
				this.#options.logger.warn({ err: error, streamId, seq: message.event.seq }, 'HLS event not applied');
			}
		});
		this.#options.logger.debug({ streamId }, 'origin follows stream');
		this.#ready.set(streamId, stream);
		return { stream, stop };
	}

	#sweep(idleMs: number): void {
		const now = Date.now();
		for (const [streamId, entry] of this.#streams) {
			void entry.then(({ stream, stop }) => {
				if (now - stream.lastAccessMs < idleMs || stream.waiters.size > 0) return;
				if (this.#streams.get(streamId) !== entry) return;
				this.#streams.delete(streamId);
				this.#ready.delete(streamId);
				stop();
				stream.waiters.close();
			}, () => {});
		}
	}
}
