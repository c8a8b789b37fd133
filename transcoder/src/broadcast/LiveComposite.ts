import type { Logger } from 'pino';
import type { Layout } from './computeLayout.js';
import { layoutCommands, type LiveCommand, type SlotAssignment } from './liveLayout.js';
import { zmqCommandText } from './ffmpegToken.js';
import { ZmqCommandRefused, ZmqControl } from './ZmqControl.js';

export interface LiveCompositeOptions {
	/** The zmq (video) or azmq (audio-only encode) filter's port on 127.0.0.1. */
	port: number;
	/** Whether the encode draws the video composite; false: only the voices' stereo positions move. */
	composite: boolean;
	/** The layout and slots the encode was planned with (drawn from its first frame, except the labels' text). */
	planned: LiveView;
	signal: AbortSignal;
	logger: Logger;
	/**
	 * How long to wait for a starting ffmpeg's zmq filter to bind, and for its first reply (the filter answers as its
	 * first frame passes, which a busy machine can delay past `commandTimeoutMs`), ms. Default 10000.
	 */
	connectTimeoutMs?: number;
	/** The encode now shows `layout` (every command acknowledged by ffmpeg). */
	onApplied?: (layout: Layout) => void;
	/**
	 * Parallel connections. ffmpeg's zmq filter takes every request waiting when a frame passes and a REQ socket has
	 * one in flight, so one connection moves a layout one command a frame; several move it within a frame or two.
	 */
	connections?: number;
}

/** What a live composite has met so far, for logs, tests and the label fuzz. */
export interface LiveCompositeCounts {
	/** Commands ffmpeg acknowledged. */
	applied: number;
	/** Commands ffmpeg refused (each logged with its target); the filter kept its previous settings. */
	refused: number;
	/**
	 * Times the control connections were opened again after a lost connection or a command with no reply, once ffmpeg
	 * had answered a first command (reopening while it starts is not counted; see `#countReconnect`).
	 */
	reconnects: number;
}

/** What a running encode shows: the stage's layout and who is in which slot. */
export interface LiveView {
	layout: Layout;
	slots: SlotAssignment;
}

/** Rounds of sending (with a reconnect between them) before a layout is given up: ffmpeg is restarting or ending. */
const attempts = 3;
const commandTimeoutMs = 5000;
const key = (c: LiveCommand): string => `${c.target} ${c.command}`;

/**
 * A running encode that follows the stage: `show(view)` sends the commands that differ from what the encode shows
 * now (see `layoutCommands`), one view at a time, the newest wins. A dropped connection is reopened and the whole
 * view sent again: if ffmpeg ever rebuilt its filter graph (it does not for a camera changing size, with
 * `-reinit_filter:v 0`), every filter would be back to the plan. A command ffmpeg refuses is not a lost connection:
 * it is logged with its target and not sent again until its value changes, and the commands behind it go on.
 */
export class LiveComposite {
	readonly #options: LiveCompositeOptions;
	#controls: ZmqControl[];
	/** Command → argument the encode shows now. Labels start blank, so theirs are absent until first sent. */
	#shown = new Map<string, string>();
	/** Command → the argument ffmpeg refused for it, not sent again while it is still the one wanted. */
	#refused = new Map<string, string>();
	readonly #counts: LiveCompositeCounts = { applied: 0, refused: 0, reconnects: 0 };
	#wanted: { view: LiveView; since: number } | undefined;
	/** The last view asked for, sent again after a lost connection. */
	#last: LiveView | undefined;
	#busy = false;
	#closed = false;
	/** Whether ffmpeg has answered a command yet: until then it may still be starting, not stuck. */
	#answered = false;

	private constructor(options: LiveCompositeOptions, controls: ZmqControl[]) {
		this.#options = options;
		this.#controls = controls;
		this.#shown = LiveComposite.#planned(options);
		this.#watch(controls);
		options.signal.addEventListener('abort', () => this.close(), { once: true });
	}

	/** Connects to a starting ffmpeg (waiting for its zmq filter to bind). */
	static async connect(options: LiveCompositeOptions): Promise<LiveComposite> {
		return new LiveComposite(options, await LiveComposite.#open(options));
	}

	/** Puts `view` (slots of the same encode) on the air; `since`: when the change was seen (for logs). */
	show(view: LiveView, since = Date.now()): void {
		if (this.#closed) return;
		this.#last = view;
		this.#wanted = { view, since };
		if (!this.#busy) void this.#drain();
	}

	/** Commands applied and refused, and reconnects, since `connect`. */
	get counts(): Readonly<LiveCompositeCounts> {
		return { ...this.#counts };
	}

	close(): void {
		this.#closed = true;
		this.#drop();
	}

	#drop(): void {
		for (const control of this.#controls) control.close();
		this.#controls = [];
	}

	/**
	 * A connection lost while nothing was being sent (a rebuilt filter graph binds its zmq socket anew, every filter
	 * back to the plan) is noticed here, and the last view sent again over new connections.
	 */
	#watch(controls: ZmqControl[]): void {
		void Promise.race(controls.map((c) => c.closed)).then(() => {
			if (this.#closed || this.#options.signal.aborted || controls !== this.#controls) return;
			this.#drop();
			// Nothing asked for yet: the next show() opens new connections.
			if (!this.#last) return;
			this.#forget();
			this.#countReconnect();
			this.show(this.#last);
		});
	}

	/**
	 * Counts a reconnect of an encode that had answered. While ffmpeg starts, a connection can land on a zmq socket
	 * that is about to go: ffmpeg 5.1 parses `-filter_complex` once into a throwaway graph (whose zmq filter binds the
	 * port, then unbinds it) before it builds the real one. Opening again then is part of starting, not a lost encode.
	 */
	#countReconnect(): void {
		if (this.#answered) this.#counts.reconnects++;
	}

	/** After a lost connection the graph may have been rebuilt from the plan: nothing is known to be shown. */
	#forget(): void {
		this.#shown = new Map();
		this.#refused = new Map();
	}

	static #planned(options: LiveCompositeOptions): Map<string, string> {
		const { layout, slots } = options.planned;
		return new Map(layoutCommands(layout, slots, options.composite).filter((c) => !c.target.startsWith('drawtext@name')).map((c) => [key(c), c.arg]));
	}

	static async #open(options: LiveCompositeOptions): Promise<ZmqControl[]> {
		const first = await ZmqControl.connect(options.port, { signal: options.signal, ...(options.connectTimeoutMs !== undefined && { timeoutMs: options.connectTimeoutMs }) });
		const rest = await Promise.allSettled(Array.from({ length: (options.connections ?? 8) - 1 }, () => ZmqControl.connect(options.port, { signal: options.signal, timeoutMs: 2000 })));
		return [first, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
	}

	async #drain(): Promise<void> {
		this.#busy = true;
		const { logger, signal } = this.#options;
		try {
			while (this.#wanted && !signal.aborted && !this.#closed) {
				const { view, since } = this.#wanted;
				this.#wanted = undefined;
				for (let attempt = 1; attempt <= attempts && !signal.aborted && !this.#closed; attempt++) {
					const changed = layoutCommands(view.layout, view.slots, this.#options.composite).filter((c) => this.#shown.get(key(c)) !== c.arg && this.#refused.get(key(c)) !== c.arg);
					try {
						const refused = await this.#send(changed);
						logger.debug({ commands: changed.length, refused, sinceChangeMs: Date.now() - since }, 'live layout applied');
						this.#options.onApplied?.(view.layout);
						break;
					} catch (error) {
						if (signal.aborted) break;
						logger.debug({ err: error, attempt }, 'live layout not applied; reconnecting');
						this.#drop();
						if (attempt === attempts || this.#closed) break;
						// A rebuilt graph starts over from the plan (labels blank): send everything.
						this.#forget();
						this.#countReconnect();
						this.#controls = await LiveComposite.#open(this.#options).catch(() => []);
						this.#watch(this.#controls);
					}
				}
			}
		} finally {
			this.#busy = false;
		}
	}

	/**
	 * Sends commands spread over the connections; each connection sends its share in order. A refused command is
	 * logged and skipped (resolves with how many were); a lost connection or a missing reply rejects.
	 */
	async #send(commands: LiveCommand[]): Promise<number> {
		if (this.#controls.length === 0) {
			this.#controls = await LiveComposite.#open(this.#options);
			this.#watch(this.#controls);
		}
		const controls = this.#controls;
		const shares = controls.map(() => [] as LiveCommand[]);
		commands.forEach((c, i) => shares[i % controls.length]!.push(c));
		let refused = 0;
		const results = await Promise.allSettled(
			shares.map(async (share, i) => {
				for (const c of share) {
					try {
						// ffmpeg answers as a frame passes its zmq filter: a starting or loaded encode can take seconds.
						await controls[i]!.send(zmqCommandText(c), this.#answered ? commandTimeoutMs : (this.#options.connectTimeoutMs ?? 10_000));
						this.#answered = true;
					} catch (error) {
						if (!(error instanceof ZmqCommandRefused)) throw error;
						this.#answered = true;
						// The filter keeps its previous settings; what it shows is unchanged.
						refused++;
						this.#counts.refused++;
						this.#refused.set(key(c), c.arg);
						this.#options.logger.warn({ target: c.target, command: c.command, code: error.code, reply: error.reply }, 'ffmpeg refused a live command');
						continue;
					}
					this.#shown.set(key(c), c.arg);
					this.#refused.delete(key(c));
					this.#counts.applied++;
				}
			}),
		);
		const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
		if (failed) throw failed.reason;
		return refused;
	}
}
