/**
 * How far behind the live edge a live listener aims: the stream's own target (PART-HOLD-BACK, 0.6 s for Tribune's
 * 200 ms parts) plus a margin that grows by each stall's length and shrinks again while playback flows. At
 * PART-HOLD-BACK a listener holds about half a second of media; on a busy server or a bad network parts come late by
 * more than that, and the same listener stalled again and again (hls.js adds 0.3 s a stall, at most one target
 * duration, and never gives it back). Here one stall of a second buys a second of margin, and 30 s without a stall
 * starts handing it back, 0.1 s every 10 s, so a listener drifts back to the low latency the stream allows.
 * A page that could not run for a while (a busy phone or computer: its main thread waiting for the CPU) takes half as
 * much margin again as it was blocked, before it stalls: while it is blocked nothing is fetched or appended, and only
 * what is buffered plays on; then the block's worth of parts is fetched, one request each, on the same busy machine
 * (in `bench:pressure`, a listener on the busy machine waited for a core 4–18 s in 45, up to 1.4 s at a time, and
 * stalled after each long wait). A margin of just the block left 0.34–0.6 s to fetch a second's five parts
 * (player/test/liveLatency.test.ts), one request after another: a round trip of 70–120 ms each, less than a phone's
 * mobile network takes.
 * A stream whose new media comes unevenly (an encoder on a busy machine, a bad network) takes enough margin that a
 * wait as long as the longest one seen would not empty the buffer: a listener at PART-HOLD-BACK holds about 0.6 s, and
 * in `bench:pressure` parts came up to 0.75 s apart at times, so the listener stalled at each such wait before the
 * margin moved. Taken when the wait ends (see `EdgeWaits`), it covers the next one before it comes.
 * A stall with media buffered ahead is not a want of media: the listener's own machine could not play what it had (its
 * decoder short of CPU), and more margin would not help. In `bench:pressure` a listener on the busy machine stopped
 * for 20–150 ms again and again with 3–4 s buffered, and each such stall moved its target back 0.3 s, up to the 3 s
 * cap: 3.6 s behind the edge for nothing. Such a stall moves nothing.
 */
/** One look at the page: when (ms) and whether it was in sight. */
export interface PageTick {
	atMs: number;
	visible: boolean;
}

/**
 * How long the page could not run before `now`, ms, judged from the tick before: the time
 * between them when it is 0.5–5 s and the page was in sight throughout, else 0. A hidden page's timers are slowed or
 * stopped on purpose, and a longer wait is a suspended page (a locked phone), not one starved of CPU.
 */
export function blockedMs(previous: PageTick | undefined, now: PageTick, minMs = 500, maxMs = 5000): number {
	if (!previous?.visible || !now.visible) return 0;
	const sinceMs = now.atMs - previous.atMs;
	return sinceMs >= minMs && sinceMs <= maxMs ? sinceMs : 0;
}

export interface LiveTargetSettings {
	/** A stall counts only with less than this buffered ahead as it begins, s (see `bufferedAheadS`). Default 0.5. */
	starvedBelowS: number;
	/** Least a stall adds, s. Default 0.3. */
	minStepS: number;
	/** Most margin in all, s. Default 3. */
	maxExtraS: number;
	/** Margin per second the page was blocked, s: the block, and time to fetch what it missed. Default 1.5. */
	blockedFactor: number;
	/**
	 * Beyond a wait for new media, the margin covers this much more, s: fetching and appending the part that ends it.
	 * Default 0.2.
	 */
	lateReserveS: number;
	/** Playback flowing this long starts giving margin back, ms. Default 30000. */
	calmMs: number;
	/** Margin given back each `decayEveryMs`, s. Default 0.1. */
	decayStepS: number;
	decayEveryMs: number;
}

export const liveTargetDefaults: LiveTargetSettings = { starvedBelowS: 0.5, minStepS: 0.3, maxExtraS: 3, blockedFactor: 1.5, lateReserveS: 0.2, calmMs: 30_000, decayStepS: 0.1, decayEveryMs: 10_000 };

export class LiveTarget {
	readonly #settings: LiveTargetSettings;
	#extraS = 0;
	#stalledAtMs: number | undefined;
	/** The margin when the open stall began: a wait that ended during it was the same hiccup (see `flowing`). */
	#extraAtStallS = 0;
	#calmSinceMs: number;
	#decayedAtMs: number;

	constructor(nowMs: number, settings: LiveTargetSettings = liveTargetDefaults) {
		this.#settings = settings;
		this.#calmSinceMs = this.#decayedAtMs = nowMs;
	}

	/**
	 * Playback stopped (the element's `waiting` while playing, not seeking) with `aheadS` buffered: for want of media
	 * when that is little.
	 */
	stalled(nowMs: number, aheadS: number): void {
		if (aheadS >= this.#settings.starvedBelowS) return;
		if (this.#stalledAtMs !== undefined) return;
		this.#stalledAtMs = nowMs;
		this.#extraAtStallS = this.#extraS;
	}

	/**
	 * Media time moved on: a stall that was open adds its length (at least `minStepS`) to the margin it began with. A
	 * wait for new media that ended meanwhile (`late`) was the same hiccup, and the two are not added up.
	 */
	flowing(nowMs: number): void {
		if (this.#stalledAtMs === undefined) return;
		const stallS = (nowMs - this.#stalledAtMs) / 1000;
		this.#stalledAtMs = undefined;
		const wantedS = this.#extraAtStallS + Math.max(this.#settings.minStepS, stallS);
		this.#extraS = Math.min(this.#settings.maxExtraS, Math.max(this.#extraS, wantedS));
		this.#calmSinceMs = this.#decayedAtMs = nowMs;
	}

	/** The page could not run for `blockedS` (a timer that fired that late): at least `blockedFactor` times that margin. */
	blocked(nowMs: number, blockedS: number): void {
		const wantedS = Math.round(blockedS * this.#settings.blockedFactor * 1000) / 1000;
		if (wantedS <= this.#extraS) return;
		this.#extraS = Math.min(this.#settings.maxExtraS, wantedS);
		this.#calmSinceMs = this.#decayedAtMs = nowMs;
	}

	/**
	 * The stream went `waitS` without new media (a playlist's live edge did not move): a target of at least the wait
	 * and `lateReserveS`, as margin over the stream's own target `baseS`.
	 */
	late(nowMs: number, waitS: number, baseS: number): void {
		const wantedS = Math.round((waitS + this.#settings.lateReserveS - baseS) * 1000) / 1000;
		if (wantedS <= this.#extraS) return;
		this.#extraS = Math.min(this.#settings.maxExtraS, wantedS);
		this.#calmSinceMs = this.#decayedAtMs = nowMs;
	}

	/** A new load (another stream, or a reload after an error): the stream's own target again. */
	reset(nowMs: number): void {
		this.#extraS = 0;
		this.#stalledAtMs = undefined;
		this.#calmSinceMs = this.#decayedAtMs = nowMs;
	}

	/** The margin to add to the stream's target now, s (given back step by step once playback has been calm). */
	extraS(nowMs: number): number {
		const { calmMs, decayStepS, decayEveryMs } = this.#settings;
		if (this.#extraS > 0 && this.#stalledAtMs === undefined && nowMs - this.#calmSinceMs >= calmMs && nowMs - this.#decayedAtMs >= decayEveryMs) {
			this.#extraS = Math.max(0, Math.round((this.#extraS - decayStepS) * 1000) / 1000);
			this.#decayedAtMs = nowMs;
		}
		return this.#extraS;
	}
}
