import { performance } from 'node:perf_hooks';
import { connectRedis } from '@tribune/transcoder';
import WebSocket from 'ws';
import { authSubprotocols } from '../../src/signaling/protocol.js';

/**
 * What `npm run bench:abuse` watches from the side of the people an abusive crowd must not hurt: the host's
 * signaling connection, a listener's join, the space's broadcast, and the Redis under it. Every wait is bounded.
 */

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes a server-to-client frame of `payload` bytes takes on the wire (RFC 6455 §5.2: unmasked, no extensions). */
export function frameBytes(payload: number): number {
	return payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);
}

/** A JSON request with an optional bearer; throws with the answer unless it is 2xx. */
export async function call<T = Record<string, unknown>>(url: string, init: { method?: string; body?: unknown; bearer?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: T }> {
	const res = await fetch(url, {
		method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
		headers: { 'content-type': 'application/json', ...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}) },
		...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
		signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
	});
	const text = await res.text();
	if (!res.ok) throw Object.assign(new Error(`${init.method ?? 'POST'} ${url}: ${res.status} ${text.slice(0, 300)}`), { status: res.status });
	return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Queue-length bands the cost of a hand change is reported in: whatever the queue's length, it should be the same. */
const lengthBands = [
	['0-9', 10],
	['10-99', 100],
	['100-999', 1000],
	['1000+', Infinity],
] as const;

export interface HostCounters {
	/** Every byte the host's socket received (frames with their headers). */
	bytes: number;
	frames: number;
	/** `handQueueChanged` events, the hand changes they listed (a raise or a lowering each), and their bytes. */
	handEvents: number;
	handChanges: number;
	handEventBytes: number;
	/** Events that said `resync` instead of listing changes, and the bytes of the first pages read again for them. */
	resyncs: number;
	resyncBytes: number;
}

/**
 * The measured space's host: a real signaling connection (from the test process, as the player holds it) that
 * counts what it receives — every frame's bytes, and those of hand events apart — and checks it stays connected:
 * a WebSocket ping every second (its round trip says how busy the server's loop is) and a `getState` every 10 s.
 * As the host panel does, it reads the queue's first page again (`listHands`, at most once a second) when a
 * `handQueueChanged` says `resync` (more changes in one tick than an event lists): those bytes count as hands' too.
 */
export class HostWatch {
	readonly #socket: WebSocket;
	readonly counters: HostCounters = { bytes: 0, frames: 0, handEvents: 0, handChanges: 0, handEventBytes: 0, resyncs: 0, resyncBytes: 0 };
	/** Bytes received by message: each event by name, replies as `reply` (where the host's bytes go). */
	readonly bytesByMessage: Record<string, number> = {};
	/** Events that listed changes, by queue-length band: their bytes and changes (a cost per change by queue length). */
	readonly handBands: Record<string, { events: number; changes: number; bytes: number }> = {};
	maxQueueLength = 0;
	/** The queue's length as the latest hand event said. */
	queueLength = 0;
	closeCode: number | undefined;
	pings = 0;
	/** Pings unanswered within 5 s and getState requests refused or unanswered within 10 s. */
	pingFailures = 0;
	stateFailures = 0;
	readonly #pingRttsMs: number[] = [];
	readonly #timers: NodeJS.Timeout[] = [];
	readonly #pending = new Map<number, (ok: boolean) => void>();
	/** Request ids of the `listHands` a resync asked for: their replies count as hand bytes. */
	readonly #pageRequests = new Set<number>();
	#lastPageAt = -Infinity;
	#pageWanted = false;
	#nextId = 1;
	#pingSentAt: number | undefined;

	private constructor(socket: WebSocket) {
		this.#socket = socket;
		socket.on('message', (raw: Buffer) => this.#onMessage(raw));
		socket.on('pong', () => {
			if (this.#pingSentAt === undefined) return;
			if (this.#pingRttsMs.length < 100_000) this.#pingRttsMs.push(now() - this.#pingSentAt);
			this.#pingSentAt = undefined;
		});
		socket.on('close', (code) => {
			this.closeCode = code;
			for (const resolve of this.#pending.values()) resolve(false);
			this.#pending.clear();
		});
		socket.on('error', () => {});
	}

	static connect(wsUrl: string, token: string): Promise<HostWatch> {
		return new Promise((resolve, reject) => {
			const socket = new WebSocket(wsUrl, authSubprotocols(token), { perMessageDeflate: false });
			const watch = new HostWatch(socket);
			socket.once('open', () => {
				watch.#start();
				resolve(watch);
			});
			socket.once('unexpected-response', (_req, res) => reject(new Error(`host upgrade refused: ${res.statusCode}`)));
			socket.once('error', reject);
		});
	}

	get connected(): boolean {
		return this.#socket.readyState === WebSocket.OPEN;
	}

	/** Ping round trips so far, ms: [p50, p99, max]. */
	pingRtts(): { p50: number | null; p99: number | null; max: number | null } {
		const sorted = [...this.#pingRttsMs].sort((a, b) => a - b);
		const at = (p: number): number | null => (sorted.length === 0 ? null : round1(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!));
		return { p50: at(50), p99: at(99), max: at(100) };
	}

	snapshot(): HostCounters {
		return { ...this.counters };
	}

	close(): void {
		for (const timer of this.#timers) clearInterval(timer);
		this.#socket.close();
	}

	#start(): void {
		this.#timers.push(setInterval(() => {
			if (!this.connected) return;
			if (this.#pingSentAt !== undefined && now() - this.#pingSentAt > 5000) {
				this.pingFailures++;
				this.#pingSentAt = undefined;
			}
			if (this.#pingSentAt !== undefined) return;
			this.#pingSentAt = now();
			this.pings++;
			this.#socket.ping();
		}, 1000));
		this.#timers.push(setInterval(() => {
			if (!this.connected) return;
			void this.#request('getState').then((ok) => {
				if (!ok) this.stateFailures++;
			});
		}, 10_000));
		// A resync's page read, at most once a second (a later resync within the second is answered by that read).
		this.#timers.push(setInterval(() => this.#readPageIfWanted(), 250));
	}

	#readPageIfWanted(): void {
		if (!this.#pageWanted || !this.connected || now() - this.#lastPageAt < 1000) return;
		this.#pageWanted = false;
		this.#lastPageAt = now();
		const id = this.#nextId;
		this.#pageRequests.add(id);
		void this.#request('listHands').finally(() => this.#pageRequests.delete(id));
	}

	#request(name: string, timeoutMs = 10_000): Promise<boolean> {
		const id = this.#nextId++;
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				resolve(false);
			}, timeoutMs);
			this.#pending.set(id, (ok) => {
				clearTimeout(timer);
				resolve(ok);
			});
			this.#socket.send(JSON.stringify({ id, name, data: {} }));
		});
	}

	#onMessage(raw: Buffer): void {
		const bytes = frameBytes(raw.length);
		this.counters.bytes += bytes;
		this.counters.frames++;
		const message = JSON.parse(raw.toString()) as { id?: number | null; ok?: boolean; event?: string; data?: Record<string, unknown> };
		const kind = message.event ?? 'reply';
		this.bytesByMessage[kind] = (this.bytesByMessage[kind] ?? 0) + bytes;
		if (message.event === undefined) {
			if (typeof message.id === 'number') {
				if (this.#pageRequests.has(message.id)) this.counters.resyncBytes += bytes;
				this.#pending.get(message.id)?.(message.ok === true);
				this.#pending.delete(message.id);
			}
			return;
		}
		if (message.event !== 'handQueueChanged' || !message.data) return;
		const data = message.data as { changes?: { raised: unknown; lowered: unknown }[]; length?: number; resync?: boolean; raised?: unknown; lowered?: unknown; queue?: unknown[] };
		// `{ changes, length, resync? }`; a server of one change per event sent `{ raised, lowered, length }`, an older
		// one the whole `queue` with every change.
		const changes = data.changes ?? [{ raised: data.raised, lowered: data.lowered }];
		const changed = changes.reduce((n, c) => n + (c.raised ? 1 : 0) + (c.lowered ? 1 : 0), 0);
		const length = data.length ?? data.queue?.length ?? 0;
		this.counters.handEvents++;
		this.counters.handChanges += changed;
		this.counters.handEventBytes += bytes;
		this.maxQueueLength = Math.max(this.maxQueueLength, length);
		this.queueLength = length;
		if (data.resync) {
			this.counters.resyncs++;
			this.#pageWanted = true;
			this.#readPageIfWanted();
			return;
		}
		const band = lengthBands.find(([, below]) => length < below)![0];
		const entry = (this.handBands[band] ??= { events: 0, changes: 0, bytes: 0 });
		entry.events++;
		entry.changes += changed;
		entry.bytes += bytes;
	}

	/** Bytes per listed change in each queue-length band (events that said `resync` aside). */
	bytesPerChangeByQueueLength(): Record<string, number> {
		return Object.fromEntries(Object.entries(this.handBands).map(([band, b]) => [band, b.changes === 0 ? 0 : Math.round(b.bytes / b.changes)]));
	}
}

/** Counters between two snapshots. */
export function hostDelta(from: HostCounters, to: HostCounters): HostCounters {
	return {
		bytes: to.bytes - from.bytes,
		frames: to.frames - from.frames,
		handEvents: to.handEvents - from.handEvents,
		handChanges: to.handChanges - from.handChanges,
		handEventBytes: to.handEventBytes - from.handEventBytes,
		resyncs: to.resyncs - from.resyncs,
		resyncBytes: to.resyncBytes - from.resyncBytes,
	};
}

export interface JoinTiming {
	/** POST /join answered. */
	restMs: number;
	/** The signaling socket open. */
	socketMs: number;
	/** `getState` answered: the player can draw the space. */
	stateMs: number;
	/** The media playlist fetched: the player can start the audio. Total from the first request. */
	totalMs: number;
}

/**
 * A real listener joining as the player does (from the test's own address, a fresh anonymous identity): POST /join,
 * the signaling socket, `getState`, the media playlist; then it leaves. Throws if any step fails or takes over 15 s.
 */
export async function listenerJoin(baseUrl: string, wsUrl: string, spaceId: string, hlsDir: string): Promise<JoinTiming> {
	const started = now();
	const { body } = await call<{ token: string }>(`${baseUrl}/api/spaces/${spaceId}/join`, { body: { displayName: 'Real listener' } });
	const restMs = now() - started;
	const socket = new WebSocket(wsUrl, authSubprotocols(body.token), { perMessageDeflate: false, handshakeTimeout: 15_000 });
	try {
		await new Promise<void>((resolve, reject) => {
			socket.once('open', () => resolve());
			socket.once('unexpected-response', (_req, res) => reject(new Error(`listener upgrade refused: ${res.statusCode}`)));
			socket.once('error', reject);
			socket.once('close', (code) => reject(new Error(`listener socket closed: ${code}`)));
		});
		const socketMs = now() - started;
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('no getState reply in 15 s')), 15_000);
			socket.on('message', (raw: Buffer) => {
				const reply = JSON.parse(raw.toString()) as { id?: number; ok?: boolean; error?: unknown };
				if (reply.id !== 1) return;
				clearTimeout(timer);
				if (reply.ok) resolve();
				else reject(new Error(`getState refused: ${JSON.stringify(reply.error)}`));
			});
			socket.send(JSON.stringify({ id: 1, name: 'getState', data: {} }));
		});
		const stateMs = now() - started;
		const playlist = await fetch(`${baseUrl}${hlsDir}audio/index.m3u8`, { signal: AbortSignal.timeout(15_000) });
		await playlist.text();
		if (!playlist.ok) throw new Error(`playlist: ${playlist.status}`);
		return { restMs: round1(restMs), socketMs: round1(socketMs), stateMs: round1(stateMs), totalMs: round1(now() - started) };
	} finally {
		socket.terminate();
	}
}

/** `join` every `everyMs` from `delayMs` on, until `stop()`; failures are kept (their messages) apart. */
export function sampleJoins(join: () => Promise<JoinTiming>, everyMs: number, maxSamples: number, delayMs = 0): { stop: () => Promise<{ samples: JoinTiming[]; failures: string[] }> } {
	const samples: JoinTiming[] = [];
	const failures: string[] = [];
	let running = true;
	const loop = (async () => {
		await sleep(delayMs);
		while (running && samples.length + failures.length < maxSamples) {
			const startedAt = now();
			try {
				samples.push(await join());
			} catch (error) {
				failures.push(String(error).slice(0, 200));
			}
			await sleep(Math.max(0, everyMs - (now() - startedAt)));
		}
	})();
	return {
		stop: async () => {
			running = false;
			await loop;
			return { samples, failures };
		},
	};
}

/**
 * The space's broadcast state as its host sees it (GET /api/spaces/:id/broadcast), every `everyMs`: every state
 * seen, with how often, and whether any sample was not `active`.
 */
export class BroadcastWatch {
	readonly states: Record<string, number> = {};
	samples = 0;
	readonly #timer: NodeJS.Timeout;
	#busy = false;

	constructor(baseUrl: string, spaceId: string, hostToken: string, everyMs = 2000) {
		this.#timer = setInterval(() => {
			if (this.#busy) return;
			this.#busy = true;
			call<{ state: string }>(`${baseUrl}/api/spaces/${spaceId}/broadcast`, { bearer: hostToken, timeoutMs: 10_000 })
				.then(({ body }) => body.state, (error: { status?: number }) => `error ${error.status ?? 'timeout'}`)
				.then((state) => {
					this.states[state] = (this.states[state] ?? 0) + 1;
					this.samples++;
				})
				.finally(() => (this.#busy = false));
		}, everyMs);
	}

	/** Every sample said `active`. */
	get activeThroughout(): boolean {
		return this.samples > 0 && this.states.active === this.samples;
	}

	stop(): void {
		clearInterval(this.#timer);
	}
}

/** `INFO memory`'s used_memory and the key count of a Redis, through a connection of its own. */
export class RedisMemory {
	readonly #redis: ReturnType<typeof connectRedis>;

	constructor(url: string) {
		this.#redis = connectRedis(url, 'tribune-bench-abuse');
	}

	async read(): Promise<{ usedMemory: number; keys: number }> {
		const info = await this.#redis.info('memory');
		const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
		return { usedMemory, keys: await this.#redis.dbsize() };
	}

	/**
	 * Waits until the stream at `key` has been trimmed once (its length went down), so that it holds all it ever will:
	 * a capped log (XADD MAXLEN ~) grows for a while after a space goes live, and a baseline taken before it is full
	 * would count that growth against the crowd. Polls every second within `timeoutMs`.
	 */
	async untilTrimmed(key: string, timeoutMs: number): Promise<{ trimmed: boolean; length: number; waitedMs: number }> {
		const started = now();
		let last = await this.#redis.xlen(key);
		while (now() - started < timeoutMs) {
			await sleep(1000);
			const length = await this.#redis.xlen(key);
			if (length < last) return { trimmed: true, length, waitedMs: Math.round(now() - started) };
			last = length;
		}
		return { trimmed: false, length: last, waitedMs: Math.round(now() - started) };
	}

	/**
	 * Keys under `prefix` by shape (ids replaced by `<id>`), with their count, members and MEMORY USAGE (every member
	 * counted, not sampled): what a difference in used_memory is made of. At most `maxKeys` keys are looked at.
	 */
	async keysByShape(prefix: string, maxKeys = 5000): Promise<Record<string, Shape>> {
		const shapes: Record<string, Shape> = {};
		let cursor = '0';
		let seen = 0;
		do {
			const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
			cursor = next;
			for (const key of keys) {
				if (seen++ >= maxKeys) break;
				const shape = key.replace(/\{[^}]*\}/g, '{<id>}').replace(/[A-Za-z0-9_-]{16,}/g, '<id>');
				const bytes = Number((await this.#redis.memory('USAGE', key, 'SAMPLES', 0)) ?? 0);
				const entry = (shapes[shape] ??= { keys: 0, bytes: 0, elements: 0 });
				entry.keys++;
				entry.bytes += bytes;
				entry.elements += await this.#elements(key);
			}
		} while (cursor !== '0' && seen < maxKeys);
		return shapes;
	}

	close(): void {
		this.#redis.disconnect();
	}

	/** Members of a collection key (fields, entries), 1 for a string. */
	async #elements(key: string): Promise<number> {
		switch (await this.#redis.type(key)) {
			case 'zset':
				return this.#redis.zcard(key);
			case 'hash':
				return this.#redis.hlen(key);
			case 'set':
				return this.#redis.scard(key);
			case 'list':
				return this.#redis.llen(key);
			case 'stream':
				return this.#redis.xlen(key);
			default:
				return 1;
		}
	}
}

/** Keys of one shape: how many, their MEMORY USAGE, and their members (fields, entries; 1 per string). */
export interface Shape {
	keys: number;
	bytes: number;
	elements: number;
}

/** Shapes that differ between two `keysByShape` readings: [keys, bytes, members] after minus before. */
export function shapeGrowth(before: Record<string, Shape>, after: Record<string, Shape>): Record<string, [number, number, number]> {
	const growth: Record<string, [number, number, number]> = {};
	for (const shape of new Set([...Object.keys(before), ...Object.keys(after)])) {
		const keys = (after[shape]?.keys ?? 0) - (before[shape]?.keys ?? 0);
		const bytes = (after[shape]?.bytes ?? 0) - (before[shape]?.bytes ?? 0);
		const elements = (after[shape]?.elements ?? 0) - (before[shape]?.elements ?? 0);
		if (keys !== 0 || elements !== 0 || Math.abs(bytes) >= 1024) growth[shape] = [keys, bytes, elements];
	}
	return growth;
}

export function round1(value: number): number {
	return Math.round(value * 10) / 10;
}

/** The p-th percentile (0-100) of `values`, nearest rank; null when there are none. */
export function percentileOf(values: readonly number[], p: number): number | null {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
