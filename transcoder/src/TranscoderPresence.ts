import os from 'node:os';
import type { Redis } from 'ioredis';

/** What a transcoder process announces about itself. */
export interface TranscoderInfo {
	id: string;
	host: string;
	pid: number;
	concurrency: number;
	startedAt: number;
}

/** How often a transcoder refreshes its presence key, and how long the key outlives a silent process. */
export const presenceTiming = { refreshMs: 5_000, ttlMs: 15_000 };

/**
 * A transcoder's heartbeat in Redis: one key per process (`<prefix>:transcoders:<id>`, JSON, expiring), so the API
 * can tell operators how many transcoders are alive and a dead process disappears by itself within `ttlMs`.
 */
export class TranscoderPresence {
	readonly #redis: Redis;
	readonly #key: string;
	readonly #info: TranscoderInfo;
	#timer: NodeJS.Timeout | undefined;
	#closed = false;

	constructor(redis: Redis, prefix: string, concurrency: number) {
		this.#redis = redis;
		const id = `${os.hostname()}-${process.pid}`;
		this.#key = `${prefix}:transcoders:${id}`;
		this.#info = { id, host: os.hostname(), pid: process.pid, concurrency, startedAt: Date.now() };
	}

	get info(): Readonly<TranscoderInfo> {
		return this.#info;
	}

	/** Announces this process now and every `refreshMs`; resolves once the first announcement is stored. */
	async start(): Promise<void> {
		if (this.#closed) throw new Error('TranscoderPresence is closed');
		await this.#refresh();
		this.#timer = setInterval(() => void this.#refresh().catch(() => {}), presenceTiming.refreshMs);
		this.#timer.unref();
	}

	/** Stops announcing and removes the key. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		await this.#redis.del(this.#key).catch(() => {});
	}

	/** Every live transcoder under `prefix`. */
	static async list(redis: Redis, prefix: string): Promise<TranscoderInfo[]> {
		const keys: string[] = [];
		let cursor = '0';
		do {
			const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:transcoders:*`, 'COUNT', 100);
			cursor = next;
			keys.push(...batch);
		} while (cursor !== '0');
		if (keys.length === 0) return [];
		const values = await redis.mget(keys);
		return values.flatMap((value) => (value ? [JSON.parse(value) as TranscoderInfo] : []));
	}

	async #refresh(): Promise<void> {
		await this.#redis.set(this.#key, JSON.stringify(this.#info), 'PX', presenceTiming.ttlMs);
	}
}
