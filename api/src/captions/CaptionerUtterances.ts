import { randomBytes } from 'node:crypto';

/** One push from a captioner: text of the utterance so far (`final: false`) or all of it (`final: true`). */
export interface CaptionerPush {
	captionerId: string;
	text: string;
	speakerName: string;
	final: boolean;
}

/** The cue fields a push becomes (the space and source are added by the caller). */
export interface CaptionerCueFields {
	id: string;
	speakerName: string;
	text: string;
	final: boolean;
	startMs: number;
	endMs: number;
}

/**
 * Where a captioner's open utterance is kept: in memory (`CaptionerUtterances`, one node and unit tests) or on the
 * shared Redis (`RedisCaptionerUtterances`, what the app uses, so any API node continues an utterance).
 */
export interface CaptionerUtteranceStore {
	cueOf(push: CaptionerPush): CaptionerCueFields | Promise<CaptionerCueFields>;
}

interface Open {
	id: string;
	startMs: number;
	lastMs: number;
}

export interface CaptionerUtterancesOptions {
	/** A partial left this long without a follow-up starts a new utterance on the next push, ms. Default 30 000. */
	idleMs?: number;
	/** Captioners tracked at once; the longest idle is forgotten beyond it. Default 10 000. */
	maxCaptioners?: number;
	now?: () => number;
}

/**
 * Turns a captioner's pushes into cues the way recognition makes them: the partials of one utterance and the final
 * that ends it share a cue id (so clients replace the partials) and the time the utterance began. State is per
 * captioner, bounded in count, in this process only.
 */
export class CaptionerUtterances implements CaptionerUtteranceStore {
	readonly #open = new Map<string, Open>();
	readonly #idleMs: number;
	readonly #max: number;
	readonly #now: () => number;

	constructor(options: CaptionerUtterancesOptions = {}) {
		this.#idleMs = options.idleMs ?? 30_000;
		this.#max = options.maxCaptioners ?? 10_000;
		this.#now = options.now ?? Date.now;
	}

	cueOf(push: CaptionerPush): CaptionerCueFields {
		const now = this.#now();
		let open = this.#open.get(push.captionerId);
		if (open && now - open.lastMs > this.#idleMs) open = undefined;
		open ??= { id: `cap-${randomBytes(9).toString('base64url')}`, startMs: now, lastMs: now };
		// Re-inserted so the Map's order is least recently used first.
		this.#open.delete(push.captionerId);
		// After a final the utterance is over and the next push begins another; a partial keeps it open.
		if (!push.final) {
			open.lastMs = now;
			this.#open.set(push.captionerId, open);
			if (this.#open.size > this.#max) this.#open.delete(this.#open.keys().next().value!);
		}
		return { id: open.id, speakerName: push.speakerName, text: push.text, final: push.final, startMs: open.startMs, endMs: Math.max(now, open.startMs) };
	}

	/** Utterances in progress (for tests). */
	get size(): number {
		return this.#open.size;
	}
}
