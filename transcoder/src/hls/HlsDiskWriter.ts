import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes one stream's files under `<root>/<streamId>/`: the replay store. Every file appears complete or not at
 * all (written to a `.tmp` name, then renamed). Segments grow part by part in their `.tmp` file, so the packager
 * never holds a segment in memory. Operations run one after another in call order.
 */
export class HlsDiskWriter {
	readonly dir: string;
	#queue: Promise<void> = Promise.resolve();
	#error: unknown;
	readonly #onError: ((error: unknown) => void) | undefined;

	/**
	 * @param onError called once, with the first write that fails (a full disk: `ENOSPC`), so the broadcast can say
	 *   at once that its replay is incomplete; the live stream does not depend on the disk and goes on.
	 */
	constructor(root: string, streamId: string, options: { onError?: (error: unknown) => void } = {}) {
		this.dir = path.join(root, streamId);
		this.#onError = options.onError;
	}

	/** The first write error, if any: the replay on disk is incomplete from then on. */
	get error(): unknown {
		return this.#error;
	}

	/** Writes a whole file (`<rendition>/init-0.mp4`, `vod.m3u8`). */
	writeFile(relative: string, bytes: Buffer | string): void {
		this.#enqueue(async () => {
			const target = path.join(this.dir, relative);
			await fs.mkdir(path.dirname(target), { recursive: true });
			await fs.writeFile(`${target}.tmp`, bytes);
			await fs.rename(`${target}.tmp`, target);
		});
	}

	/** Appends a part to the segment being written. */
	appendToFile(relative: string, bytes: Buffer): void {
		this.#enqueue(async () => {
			const target = path.join(this.dir, relative);
			await fs.mkdir(path.dirname(target), { recursive: true });
			await fs.appendFile(`${target}.tmp`, bytes);
		});
	}

	/** Appends one line to a journal (the file is never renamed; a reader skips a torn last line). */
	appendLine(relative: string, line: string): void {
		this.#enqueue(async () => {
			const target = path.join(this.dir, relative);
			await fs.mkdir(path.dirname(target), { recursive: true });
			await fs.appendFile(target, `${line}\n`);
		});
	}

	/** Reads a journal written with {@link appendLine}: its whole JSON lines, in order; none when it is missing. */
	async readLines(relative: string): Promise<unknown[]> {
		const text = await fs.readFile(path.join(this.dir, relative), 'utf8').catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return '';
			throw error;
		});
		const lines: unknown[] = [];
		for (const line of text.split('\n')) {
			if (!line) continue;
			try {
				lines.push(JSON.parse(line));
			} catch {
				// A line torn by a crash mid-write: the segment it described is not in the replay.
			}
		}
		return lines;
	}

	/** Reads a whole file now (not queued), or undefined when it is missing. */
	async readFile(relative: string): Promise<Buffer | undefined> {
		return fs.readFile(path.join(this.dir, relative)).catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return undefined;
			throw error;
		});
	}

	/** Removes a file (a missing one is fine). */
	removeFile(relative: string): void {
		this.#enqueue(() => fs.rm(path.join(this.dir, relative), { force: true }));
	}

	/** Publishes a file built with {@link appendToFile}. */
	completeFile(relative: string): void {
		this.#enqueue(async () => {
			const target = path.join(this.dir, relative);
			await fs.rename(`${target}.tmp`, target);
		});
	}

	/** Resolves when every queued write is on disk; rejects with the first write error. */
	async flush(): Promise<void> {
		await this.#queue;
		if (this.#error) throw this.#error;
	}

	#enqueue(operation: () => Promise<void>): void {
		this.#queue = this.#queue.then(operation).catch((error: unknown) => {
			if (this.#error !== undefined) return;
			this.#error = error;
			try {
				this.#onError?.(error);
			} catch {
				// A throwing listener must not stop the writes that follow.
			}
		});
	}
}
