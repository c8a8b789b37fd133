import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { IngestConfig } from './config.js';
import { routerMediaCodecs } from './mediaCodecs.js';
import { TypedEmitter } from './TypedEmitter.js';

export type WorkerPoolEvents = {
	/** A worker process died; its routers are gone. Owners of those routers must move their spaces. */
	workerdied: [info: { index: number; pid: number; routers: types.Router[] }];
	/** A replacement worker is up at `index`. */
	workerrestarted: [info: { index: number; pid: number }];
};

interface Slot {
	worker: types.Worker;
	routers: Set<types.Router>;
}

/** How long to wait before replacing a dead worker, doubled per consecutive death up to the maximum. */
const restartDelayMs = { initial: 250, max: 10_000 };

/**
 * One mediasoup worker per configured slot (default: per core). Routers go on the least-loaded worker. A worker
 * that dies is replaced, with backoff, and `workerdied` tells the owners of its routers so they can fail their
 * spaces over to another worker.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
	readonly #config: IngestConfig;
	readonly #logger: Logger;
	readonly #slots: (Slot | undefined)[];
	readonly #deaths: number[];
	#closed = false;

	private constructor(config: IngestConfig, logger: Logger) {
		super();
		this.#config = config;
		this.#logger = logger;
		this.#slots = new Array<Slot | undefined>(config.numWorkers).fill(undefined);
		this.#deaths = new Array<number>(config.numWorkers).fill(0);
		this.onListenerError((event, error) => logger.error({ err: error, event }, 'WorkerPool listener threw'));
	}

	static async create(config: IngestConfig, logger: Logger): Promise<WorkerPool> {
		const pool = new WorkerPool(config, logger);
		try {
			await Promise.all(pool.#slots.map((_, index) => pool.#startWorker(index)));
		} catch (error) {
			pool.close();
			throw error;
		}
		return pool;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Live workers' process ids, by slot. */
	get pids(): number[] {
		return this.#slots.flatMap((slot) => (slot ? [slot.worker.pid] : []));
	}

	/** Routers per live worker, for placement decisions, metrics and tests. */
	get load(): { pid: number; routers: number }[] {
		return this.#slots.flatMap((slot) => (slot ? [{ pid: slot.worker.pid, routers: slot.routers.size }] : []));
	}

	/** Creates a router with Tribune's codecs on the worker that carries the fewest routers. */
	async createRouter<A extends types.AppData>(appData: A): Promise<types.Router<A>> {
		this.#assertOpen();
		const slot = this.#leastLoaded();
		const router = await slot.worker.createRouter<A>({ mediaCodecs: routerMediaCodecs, appData });
		slot.routers.add(router);
		// A dying worker closes its routers before it emits 'died'; keep them so `workerdied` can name them.
		router.observer.once('close', () => {
			if (!slot.worker.died) slot.routers.delete(router);
		});
		return router;
	}

	/** Closes every worker (and so every router). Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const slot of this.#slots) slot?.worker.close();
		this.#slots.fill(undefined);
	}

	#leastLoaded(): Slot {
		let best: Slot | undefined;
		for (const slot of this.#slots) {
			if (slot && (!best || slot.routers.size < best.routers.size)) best = slot;
		}
		if (!best) throw new Error('WorkerPool: no mediasoup worker is running');
		return best;
	}

	async #startWorker(index: number): Promise<void> {
		const c = this.#config;
		const worker = await mediasoup.createWorker({
			logLevel: c.workerLogLevel,
			rtcMinPort: c.rtcMinPort,
			rtcMaxPort: c.rtcMaxPort,
			appData: { index },
		});
		if (this.#closed) {
			worker.close();
			return;
		}
		const slot: Slot = { worker, routers: new Set() };
		this.#slots[index] = slot;
		worker.once('died', (error) => this.#onDied(index, slot, error));
		this.#logger.info({ workerPid: worker.pid, index }, 'mediasoup worker started');
	}

	#onDied(index: number, slot: Slot, error: Error): void {
		if (this.#closed || this.#slots[index] !== slot) return;
		this.#slots[index] = undefined;
		this.#logger.error({ err: error, workerPid: slot.worker.pid, index }, 'mediasoup worker died; replacing it');
		this.safeEmit('workerdied', { index, pid: slot.worker.pid, routers: [...slot.routers] });
		this.#scheduleRestart(index);
	}

	#scheduleRestart(index: number): void {
		const deaths = ++this.#deaths[index]!;
		const delayMs = Math.min(restartDelayMs.initial * 2 ** (deaths - 1), restartDelayMs.max);
		setTimeout(() => {
			if (this.#closed) return;
			this.#startWorker(index).then(
				() => {
					const replacement = this.#slots[index];
					if (!replacement) return;
					// A worker that stays up for a minute resets the backoff.
					setTimeout(() => {
						if (this.#slots[index] === replacement) this.#deaths[index] = 0;
					}, 60_000).unref();
					this.safeEmit('workerrestarted', { index, pid: replacement.worker.pid });
				},
				(error: unknown) => {
					this.#logger.error({ err: error, index }, 'mediasoup worker failed to start; retrying');
					this.#scheduleRestart(index);
				},
			);
		}, delayMs).unref();
	}

	#assertOpen(): void {
		if (this.#closed) throw new Error('WorkerPool is closed');
	}
}
