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
 * The test's handle on a crowd of bare WebSocket clients in a child process (`wsCrowdChild.ts`), so the crowd's
 * sockets and CPU are not the server's. Every wait is bounded.
 */
export class Crowd {
	readonly #child: ChildProcess;
	readonly #dir: string;

	private constructor(child: ChildProcess, dir: string) {
		this.#child = child;
		this.#dir = dir;
	}

	static async start(): Promise<Crowd> {
		const source = path.join(import.meta.dirname, 'wsCrowdChild.ts');
		const { code } = await transformWithOxc(fs.readFileSync(source, 'utf8'), source, { lang: 'ts' });
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-crowd-'));
		const file = path.join(dir, 'wsCrowdChild.mjs');
		fs.writeFileSync(file, code);
		const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		const crowd = new Crowd(child, dir);
		await crowd.#next('ready', 10_000);
		return crowd;
	}

	get pid(): number {
		return this.#child.pid!;
	}

	/** Opens one WebSocket per token (token i to `wsUrl`, or to the i-th URL round-robin); resolves when each is open or refused. */
	async connect(wsUrl: string | string[], tokens: string[], concurrency = 100, timeoutMs = 120_000): Promise<{ open: number; failed: number; closeCodes: Record<string, number> }> {
		this.#child.send({ type: 'connect', urls: Array.isArray(wsUrl) ? wsUrl : [wsUrl], tokens, concurrency });
		return this.#next('connected', timeoutMs);
	}

	/** The first `reactors` clients react at once; resolves when every client counted them all (or at the timeout). */
	async burst(reactors: number, reaction: string, timeoutMs = 5000): Promise<BurstResult> {
		this.#child.send({ type: 'burst', reactors, reaction, timeoutMs });
		return this.#next('burst', timeoutMs + 10_000);
	}

	/** A raw text message from client `index`. */
	sendRaw(index: number, text: string): void {
		this.#child.send({ type: 'send', index, text });
	}

	async stats(): Promise<{ open: number; closeCodes: Record<string, number>; cpuMs: number }> {
		this.#child.send({ type: 'stats' });
		return this.#next('stats', 10_000);
	}

	close(): void {
		if (this.#child.connected) this.#child.send({ type: 'close' });
		setTimeout(() => this.#child.kill('SIGKILL'), 2000).unref();
		fs.rmSync(this.#dir, { recursive: true, force: true });
	}

	#next<T>(type: string, timeoutMs: number): Promise<T> {
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
				this.#child.off('message', onMessage);
				this.#child.off('exit', onExit);
			};
			this.#child.on('message', onMessage);
			this.#child.once('exit', onExit);
		});
	}
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
