import type { Logger } from 'pino';
import { Stage, type StageOptions } from './Stage.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { WorkerPool } from './WorkerPool.js';

export type StageRegistryEvents = {
	/** A stage opened for a space (first open, or a replacement after its worker died). */
	stageopened: [stage: Stage, info: { replaced: boolean }];
};

/**
 * The stages of this process, one per live space. Opening is idempotent (concurrent opens share one stage). When a
 * worker dies, each of its stages is opened again on a live worker and announced with `replaced: true`, so
 * signaling can tell that space's clients to reconnect their media.
 */
export class StageRegistry extends TypedEmitter<StageRegistryEvents> {
	readonly #pool: WorkerPool;
	readonly #options: StageOptions;
	readonly #logger: Logger;
	readonly #stages = new Map<string, Promise<Stage>>();
	/** The same stages once open, for synchronous lookups. */
	readonly #ready = new Map<string, Stage>();
	#closed = false;

	constructor(pool: WorkerPool, options: StageOptions, logger: Logger) {
		super();
		this.#pool = pool;
		this.#options = options;
		this.#logger = logger;
		this.onListenerError((event, error) => logger.error({ err: error, event }, 'StageRegistry listener threw'));
	}

	get options(): Readonly<StageOptions> {
		return this.#options;
	}

	/** The open stage of a space right now, if any (a stage still being created is not returned). */
	get(spaceId: string): Stage | undefined {
		const stage = this.#ready.get(spaceId);
		return stage && !stage.closed ? stage : undefined;
	}

	/** The open stage of a space, if any (without opening one; waits for one being created). */
	async find(spaceId: string): Promise<Stage | undefined> {
		const stage = await this.#stages.get(spaceId)?.catch(() => undefined);
		return stage && !stage.closed ? stage : undefined;
	}

	open(spaceId: string): Promise<Stage> {
		return this.#open(spaceId, false);
	}

	/** Closes the space's stage (the space ended). */
	async close(spaceId: string): Promise<void> {
		const pending = this.#stages.get(spaceId);
		this.#stages.delete(spaceId);
		const stage = await pending?.catch(() => undefined);
		stage?.close();
	}

	/** Closes every stage. Idempotent. */
	closeAll(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const pending of this.#stages.values()) pending.then((s) => s.close(), () => {});
		this.#stages.clear();
		this.#ready.clear();
	}

	#open(spaceId: string, replaced: boolean): Promise<Stage> {
		if (this.#closed) return Promise.reject(new Error('StageRegistry is closed'));
		const existing = this.#stages.get(spaceId);
		if (existing) return existing;
		const pending = Stage.create(this.#pool, spaceId, this.#options, this.#logger).then((stage) => {
			this.#ready.set(spaceId, stage);
			stage.once('close', (reason) => {
				if (this.#ready.get(spaceId) === stage) this.#ready.delete(spaceId);
				if (this.#stages.get(spaceId) !== pending) return;
				this.#stages.delete(spaceId);
				if (reason === 'routerclosed' && !this.#closed) this.#failOver(spaceId);
			});
			this.safeEmit('stageopened', stage, { replaced });
			return stage;
		});
		this.#stages.set(spaceId, pending);
		pending.catch(() => {
			if (this.#stages.get(spaceId) === pending) this.#stages.delete(spaceId);
		});
		return pending;
	}

	#failOver(spaceId: string, attempt = 1): void {
		this.#logger.warn({ spaceId, attempt }, 'stage lost its worker; opening it on another');
		this.#open(spaceId, true).catch((error: unknown) => {
			// No live worker yet (the only one died): retry while the pool replaces it.
			this.#logger.error({ err: error, spaceId }, 'stage failover failed');
			if (attempt < 20 && !this.#closed) setTimeout(() => this.#failOver(spaceId, attempt + 1), 500).unref();
		});
	}
}
