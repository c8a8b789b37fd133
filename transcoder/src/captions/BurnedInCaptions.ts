import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { CaptionCue } from './captionFeed.js';
import { burnedInCaptionStyle, formatBurnedInText, type BurnedInLine } from './formatBurnedInText.js';

export interface BurnedInCaptionsOptions {
	/** The file the composite's drawtext reloads (see `burnedInCaptionFilter`); Tribune-made path. */
	file: string;
	/** The composite canvas, for the line length. */
	canvas: { width: number; height: number };
	/** How long the last words stay on screen after the speaker stops, ms. Default 3500. */
	holdMs?: number;
	logger: Logger;
}

/**
 * Keeps the burned-in caption file up to date: the latest cue (partial or final) of whoever spoke last, wrapped to
 * two lines, cleared once nobody has spoken for `holdMs` or when the mode stops including 'burned-in'. Each write is
 * a temporary file renamed over the old one, so drawtext, which rereads the file on every frame, never reads half a
 * caption. Writes are serialised; a newer text replaces one still waiting.
 */
export class BurnedInCaptions {
	readonly #options: BurnedInCaptionsOptions;
	readonly #maxLineChars: number;
	#enabled = false;
	#line: BurnedInLine | undefined;
	#clearTimer: NodeJS.Timeout | undefined;
	#written = '';
	#wanted = '';
	#writing: Promise<void> | undefined;
	#closed = false;

	private constructor(options: BurnedInCaptionsOptions) {
		this.#options = options;
		this.#maxLineChars = burnedInCaptionStyle(options.canvas).maxLineChars;
	}

	/** Creates the (empty) file, which must exist before ffmpeg starts. */
	static async create(options: BurnedInCaptionsOptions): Promise<BurnedInCaptions> {
		const captions = new BurnedInCaptions(options);
		await captions.#write('');
		return captions;
	}

	get file(): string {
		return this.#options.file;
	}

	/** The text on screen now (tests). */
	get text(): string {
		return this.#written;
	}

	/** Captions are drawn only while enabled (the mode includes 'burned-in'); disabling clears the picture. */
	setEnabled(enabled: boolean): void {
		if (enabled === this.#enabled) return;
		this.#enabled = enabled;
		if (!enabled) this.#line = undefined;
		this.#update();
	}

	show(cue: CaptionCue): void {
		if (!this.#enabled || this.#closed) return;
		this.#line = { speakerName: cue.speakerName, text: cue.text };
		clearTimeout(this.#clearTimer);
		this.#clearTimer = setTimeout(() => {
			this.#line = undefined;
			this.#update();
		}, this.#options.holdMs ?? 3500);
		this.#update();
	}

	/** Waits for pending writes; the file stays (the job's work directory is removed with it). */
	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#clearTimer);
		await this.#writing;
	}

	/** Resolves once the file holds the latest text (tests). */
	async flushed(): Promise<void> {
		while (this.#writing) await this.#writing;
	}

	#update(): void {
		this.#wanted = formatBurnedInText(this.#line, { maxLineChars: this.#maxLineChars });
		if (this.#writing || this.#closed || this.#wanted === this.#written) return;
		this.#writing = this.#drain();
	}

	/** Writes until the file holds the wanted text; a text wanted meanwhile is written next. */
	async #drain(): Promise<void> {
		try {
			while (this.#wanted !== this.#written && !this.#closed) await this.#write(this.#wanted);
		} catch (error) {
			this.#options.logger.warn({ err: error }, 'burned-in captions not written');
		} finally {
			this.#writing = undefined;
		}
	}

	async #write(text: string): Promise<void> {
		const temp = `${this.#options.file}.tmp`;
		await fs.writeFile(temp, text, 'utf8');
		await fs.rename(temp, this.#options.file);
		this.#written = text;
	}
}
