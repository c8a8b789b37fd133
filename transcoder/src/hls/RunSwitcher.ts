import { parseFragment } from './FragmentInfo.js';
import { parseInitSection, type TrackInfo } from './InitSection.js';

/** What one encoder run's fMP4 output of one rendition is made of, box by box. */
export type RunItem = { kind: 'init'; ftyp: Buffer; moov: Buffer } | { kind: 'part'; moof: Buffer; mdat: Buffer };

export interface RunSwitcherOptions {
	/** Renditions every run writes; a run takes over once each of them can start. */
	renditions: readonly string[];
	/**
	 * While the running encoder is alive, how long a new run must have been producing (since its first part of any
	 * rendition) before it may take over, ms: its first parts carry the backlog of its input probing and come in a
	 * burst. The part it takes over at must have arrived after that.
	 */
	warmupMs: number;
	/** A part or init section of the run on air, in order. */
	deliver(rendition: string, item: RunItem): void;
	/**
	 * `run` goes on air; `hadPrevious`: another run was on air before (the packager marks a discontinuity).
	 * `skippedParts`: parts it wrote before that could not start playback (not independent), for logs.
	 * `alignWaitMs`: how long it waited for the run on air's renditions to align ({@link aligned}), for logs.
	 */
	switched(run: number, hadPrevious: boolean, skippedParts: number, alignWaitMs: number): void;
	/**
	 * Whether the run on air's renditions are all at one segment number. All renditions restart at one number past
	 * the highest any reached, so a switch while one is a segment behind would make it skip a number (players fail
	 * on a number that names another URI than before: hls.js "media sequence mismatch"). While the run on air is
	 * alive and this is false, a ready new run waits; it is re-checked on each part the old run delivers (the
	 * renditions arrive on separate pipes and catch up within a part). Default: always aligned.
	 */
	aligned?: () => boolean;
	/**
	 * Longest a ready new run waits for {@link aligned}, ms (default 1000; the packager uses two part targets); then
	 * it switches anyway and the lagging rendition skips a number (the packager fills it with a gap segment).
	 */
	maxAlignWaitMs?: number;
	nowMs?: () => number;
}

interface BufferedPart {
	item: Extract<RunItem, { kind: 'part' }>;
	arrivedMs: number;
}

interface PendingRendition {
	init?: Extract<RunItem, { kind: 'init' }>;
	track?: TrackInfo;
	/** From the newest independent part on; nothing older is ever needed. */
	parts: BufferedPart[];
}

/**
 * Decides which encoder run is on air, so a stage change does not interrupt the broadcast (make before break): the
 * runner starts the next ffmpeg while the current one keeps going, the new run's output is held here, and once every
 * rendition of the new run has an independent part past its warm-up, the new run goes on air (after a
 * discontinuity) and the old one's output is dropped; the runner then stops it. All renditions switch at once, so
 * they keep sharing segment numbers. A run whose predecessor has died goes on air at its first independent parts.
 */
export class RunSwitcher {
	readonly #options: RunSwitcherOptions;
	#active: number | undefined;
	#pending: { run: number; renditions: Map<string, PendingRendition>; firstArrivedMs?: number; skipped: number; readyMs?: number } | undefined;
	/** Renditions of each run whose output is still open. */
	readonly #open = new Map<number, Set<string>>();
	/** Runs the runner gave up before they went on air; their output never goes on air. */
	readonly #abandoned = new Set<number>();

	constructor(options: RunSwitcherOptions) {
		this.#options = options;
	}

	/** The run on air, if any. */
	get active(): number | undefined {
		return this.#active;
	}

	/** A run's rendition output opened. */
	opened(run: number, rendition: string): void {
		let open = this.#open.get(run);
		if (!open) this.#open.set(run, (open = new Set()));
		open.add(rendition);
	}

	/** A run's rendition output ended (the encoder stopped or died): a pending run may take over at once. */
	closed(run: number, rendition: string): void {
		const open = this.#open.get(run);
		open?.delete(rendition);
		if (open?.size === 0) this.#open.delete(run);
		if (run === this.#active) this.#maybeSwitch();
	}

	/**
	 * The runner stopped a run that has not gone on air (the stage changed again while it warmed up): it must not go
	 * on air now, with its encoder on the way out, while the run on air still is.
	 */
	abandon(run: number): void {
		if (run === this.#active) return;
		this.#abandoned.add(run);
		if (this.#pending?.run === run) this.#pending = undefined;
	}

	push(run: number, rendition: string, item: RunItem): void {
		if (this.#abandoned.has(run)) return;
		if (this.#active !== undefined && run < this.#active) return; // a run already replaced: its output is dropped
		if (run === this.#active) {
			this.#options.deliver(rendition, item);
			// A new run may be waiting for the renditions on air to reach one segment number.
			if (item.kind === 'part' && this.#pending?.readyMs !== undefined) this.#maybeSwitch();
			return;
		}
		if (this.#pending && run < this.#pending.run) return; // superseded before it went on air
		if (!this.#pending || run > this.#pending.run) this.#pending = { run, renditions: new Map(), skipped: 0 };
		let pending = this.#pending.renditions.get(rendition);
		if (!pending) this.#pending.renditions.set(rendition, (pending = { parts: [] }));
		const now = (this.#options.nowMs ?? Date.now)();
		if (item.kind === 'init') {
			const init = parseInitSection(item.ftyp, item.moov);
			pending.init = item;
			pending.track = init.tracks.find((t) => t.kind === 'video') ?? init.tracks.find((t) => t.kind === 'audio');
			pending.parts = [];
		} else {
			this.#pending.firstArrivedMs ??= now;
			const independent = pending.track !== undefined && parseFragment(item.moof, [pending.track]).tracks[0]?.startsWithSync === true;
			if (independent) pending.parts = [{ item, arrivedMs: now }];
			else if (pending.parts.length > 0) pending.parts.push({ item, arrivedMs: now });
			else this.#pending.skipped++;
		}
		this.#maybeSwitch();
	}

	#activeAlive(): boolean {
		if (this.#active === undefined) return false;
		return (this.#open.get(this.#active)?.size ?? 0) === this.#options.renditions.length;
	}

	#maybeSwitch(): void {
		const pending = this.#pending;
		if (!pending) return;
		const immediate = !this.#activeAlive();
		for (const name of this.#options.renditions) {
			const r = pending.renditions.get(name);
			const start = r?.parts[0];
			if (!r?.init || !start) return;
			if (!immediate && start.arrivedMs - (pending.firstArrivedMs ?? start.arrivedMs) < this.#options.warmupMs) return;
		}
		if (!immediate && this.#options.aligned && !this.#options.aligned()) {
			const now = (this.#options.nowMs ?? Date.now)();
			pending.readyMs ??= now;
			if (now - pending.readyMs < (this.#options.maxAlignWaitMs ?? 1000)) return;
		}
		const hadPrevious = this.#active !== undefined;
		this.#active = pending.run;
		this.#pending = undefined;
		const alignWaitMs = pending.readyMs === undefined ? 0 : (this.#options.nowMs ?? Date.now)() - pending.readyMs;
		this.#options.switched(pending.run, hadPrevious, pending.skipped, alignWaitMs);
		for (const name of this.#options.renditions) {
			const r = pending.renditions.get(name)!;
			this.#options.deliver(name, r.init!);
			for (const part of r.parts) this.#options.deliver(name, part.item);
		}
	}
}
