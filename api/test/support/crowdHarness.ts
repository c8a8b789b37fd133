import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transformWithOxc } from 'vite';

export interface BurstResult {
	/** Per client: from the reactions' sending to the tick that completed their count, ms. */
	delaysMs: number[];
	/** Every reaction's delivery to every client: [ms after sending, reactions] pairs. */
	histogram: [number, number][];
	/** Clients that did not see every reaction in time. */
	missing: number;
	/** Tick messages per client during the burst. */
	messagesPerClient: number;
}

/**
 * The test's handle on a crowd of bare WebSocket clients in child processes of their own (`wsCrowdChild.ts`), so
 * the crowd's sockets and CPU are not the server's. With several processes the crowd is split in contiguous
 * slices (the first clients, who react, in the first process), and the processes read their sockets in parallel,
 * as a real audience's devices do. Every wait is bounded.
 */
export class Crowd {
	readonly #children: ChildProcess[];
	readonly #dir: string;
	/** Index of each process's first client. */
	#offsets: number[] = [];

	private constructor(children: ChildProcess[], dir: string) {
		this.#children = children;
		this.#dir = dir;
	}

	static async start(processes = 1): Promise<Crowd> {
		const source = path.join(import.meta.dirname, 'wsCrowdChild.ts');
		const { code } = await transformWithOxc(fs.readFileSync(source, 'utf8'), source, { lang: 'ts' });
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-crowd-'));
		const file = path.join(dir, 'wsCrowdChild.mjs');
		fs.writeFileSync(file, code);
		const children = Array.from({ length: Math.max(1, processes) }, () => fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
		const crowd = new Crowd(children, dir);
		await Promise.all(children.map((child) => next(child, 'ready', 10_000)));
		return crowd;
	}

	get pids(): number[] {
		return this.#children.map((child) => child.pid!);
	}

	/** Opens one WebSocket per token (token i to `wsUrl`, or to the i-th URL round-robin); resolves when each is open or refused. */
	async connect(wsUrl: string | string[], tokens: string[], concurrency = 100, timeoutMs = 120_000): Promise<{ open: number; failed: number; closeCodes: Record<string, number> }> {
		const urls = Array.isArray(wsUrl) ? wsUrl : [wsUrl];
		const n = this.#children.length;
		this.#offsets = this.#children.map((_, k) => Math.floor((k * tokens.length) / n));
		const results = await Promise.all(
			this.#children.map((child, k) => {
				const offset = this.#offsets[k]!;
				const end = k + 1 < n ? this.#offsets[k + 1]! : tokens.length;
				child.send({ type: 'connect', urls, tokens: tokens.slice(offset, end), offset, concurrency: Math.ceil(concurrency / n) });
				return next<{ open: number; failed: number; closeCodes: Record<string, number> }>(child, 'connected', timeoutMs);
			}),
		);
		return { open: sum(results.map((r) => r.open)), failed: sum(results.map((r) => r.failed)), closeCodes: mergeCounts(results.map((r) => r.closeCodes)) };
	}

	/**
	 * The first `reactors` clients react at once; resolves when every client counted them all (or at the timeout).
	 * Times count from here, before the request reaches any crowd process.
	 */
	async burst(reactors: number, reaction: string, timeoutMs = 5000): Promise<BurstResult> {
		const startedAt = Date.now();
		const results = await Promise.all(
			this.#children.map((child, k) => {
				const offset = this.#offsets[k] ?? 0;
				const end = this.#offsets[k + 1] ?? Infinity;
				const here = Math.max(0, Math.min(reactors, end) - offset);
				child.send({ type: 'burst', expected: reactors, reactors: here, reaction, timeoutMs, startedAt });
				return next<BurstResult & { open?: number }>(child, 'burst', timeoutMs + 10_000);
			}),
		);
		const histogram = new Map<number, number>();
		for (const r of results) for (const [ms, count] of r.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + count);
		const clients = results.map((r) => r.delaysMs.length + r.missing);
		return {
			delaysMs: results.flatMap((r) => r.delaysMs),
			histogram: [...histogram],
			missing: sum(results.map((r) => r.missing)),
			messagesPerClient: sum(results.map((r, k) => r.messagesPerClient * clients[k]!)) / Math.max(1, sum(clients)),
		};
	}

	/** A raw text message from client `index`. */
	sendRaw(index: number, text: string): void {
		let k = this.#children.length - 1;
		while (k > 0 && (this.#offsets[k] ?? 0) > index) k--;
		this.#children[k]!.send({ type: 'send', index: index - (this.#offsets[k] ?? 0), text });
	}

	/** Open sockets and close codes over every crowd process, and their CPU time. */
	async stats(): Promise<{ open: number; closeCodes: Record<string, number>; cpuMs: number }> {
		const results = await Promise.all(
			this.#children.map((child) => {
				child.send({ type: 'stats' });
				return next<{ open: number; closeCodes: Record<string, number>; cpuMs: number }>(child, 'stats', 10_000);
			}),
		);
		return { open: sum(results.map((r) => r.open)), closeCodes: mergeCounts(results.map((r) => r.closeCodes)), cpuMs: sum(results.map((r) => r.cpuMs)) };
	}

	close(): void {
		for (const child of this.#children) {
			if (child.connected) child.send({ type: 'close' });
			setTimeout(() => child.kill('SIGKILL'), 2000).unref();
		}
		fs.rmSync(this.#dir, { recursive: true, force: true });
	}
}

function next<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			cleanup();
			reject(new Error(`crowd: no '${type}' in ${timeoutMs} ms`));
		}, timeoutMs);
		const onMessage = (message: { type: string }) => {
			if (message.type !== type) return;
			cleanup();
			resolve(message as T);
		};
		const onExit = (code: number | null) => {
			cleanup();
			reject(new Error(`crowd process exited (${code}) while waiting for '${type}'`));
		};
		const cleanup = () => {
			clearTimeout(timer);
			child.off('message', onMessage);
			child.off('exit', onExit);
		};
		child.on('message', onMessage);
		child.once('exit', onExit);
	});
}

function sum(values: readonly number[]): number {
	return values.reduce((n, v) => n + v, 0);
}

function mergeCounts(counts: readonly Record<string, number>[]): Record<string, number> {
	const merged: Record<string, number> = {};
	for (const c of counts) for (const [key, n] of Object.entries(c)) merged[key] = (merged[key] ?? 0) + n;
	return merged;
}

/** The p-th percentile (0-100) of a histogram of [value, count] pairs, nearest rank. */
export function histogramPercentile(histogram: readonly (readonly [number, number])[], p: number): number {
	const sorted = [...histogram].sort((a, b) => a[0] - b[0]);
	const total = sorted.reduce((n, [, count]) => n + count, 0);
	const rank = Math.max(1, Math.ceil((p / 100) * total));
	let seen = 0;
	for (const [value, count] of sorted) if ((seen += count) >= rank) return value;
	return NaN;
}

/** The p-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
	if (values.length === 0) return NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
