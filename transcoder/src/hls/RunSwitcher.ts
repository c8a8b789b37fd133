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
	/** `run` goes on air; `hadPrevious`: another run was on air before (the packager marks a discontinuity). */
	switched(run: number, hadPrevious: boolean, details: SwitchDetails): void;
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

/** How a run went on air, for the packager and its logs. */
export interface SwitchDetails {
	/** Parts it wrote before that could not start playback (not independent), for logs. */
	skippedParts: number;
	/** How long it waited for the run on air's renditions to align ({@link RunSwitcherOptions.aligned}), for logs. */
	alignWaitMs: number;
	/**
	 * The wall-clock time its first delivered media was captured, as estimated from when its parts arrived (see
	 * `RunClock.zeroMs`; it can start with parts held for seconds while the run before delivered its backlog).
	 */
	startCapturedAtMs?: number;
	/** Per rendition, the media time of the run's first part (its GOP grid), where known. */
	originS: ReadonlyMap<string, number>;
	/**
	 * What placed it after the run before: `encoder` when both runs' encoders told their media clocks
	 * ({@link RunSwitcher.mediaOrigin}), `arrivals` when estimated from when their parts arrived, `none` when the run
	 * before was not delivering (nothing to follow).
	 */
	placedBy: 'encoder' | 'arrivals' | 'none';
	/**
	 * How much later than its encoder's own clock the arrivals put the run's media instant 0, ms: what its parts took
	 * from capture to the packager at their quickest (the encode's latency; seconds on a starved machine).
	 */
	arrivalLagMs?: number;
}

interface BufferedPart {
	item: Extract<RunItem, { kind: 'part' }>;
	arrivedMs: number;
	/** Media time of its first sample, s. */
	startS: number;
	/** Media time its samples end at, s. */
	endS: number;
	independent: boolean;
}

/** A run held until it can go on air. */
interface PendingRun {
	run: number;
	renditions: Map<string, PendingRendition>;
	firstArrivedMs?: number;
	skipped: number;
	readyMs?: number;
	/** While the run on air is alive: the media instant every rendition starts at, fixed once all were ready. */
	startAtS?: number;
	startReadyMs?: number;
	/** Since when it has waited for the run on air's backlog. */
	backlogSinceMs?: number;
	/** What fixed {@link startAtS} (see {@link SwitchDetails.placedBy}). */
	placedBy?: SwitchDetails['placedBy'];
}

/**
 * What is known of one run's timing: when its media was captured, estimated from when its parts arrived. A part
 * cannot arrive before its last sample was captured, so the smallest `arrivedMs − end of its media` over a run's
 * parts is the closest estimate of the wall-clock time of its media instant 0 (plus the encoder's least latency,
 * alike for every run). Runs have their own media timelines; this puts them on one clock.
 */
interface RunClock {
	/** Wall-clock ms of media instant 0, as estimated so far. */
	zeroMs: number;
	/**
	 * Wall-clock ms of media instant 0 as the run's encoder told it ({@link RunSwitcher.mediaOrigin}): the capture
	 * clock itself, without the encode's latency that {@link zeroMs} carries.
	 */
	originMs?: number;
	/** Per rendition, where the media it delivered (on air) or holds (pending) ends, s. */
	endS: Map<string, number>;
	/** Per rendition, where the parts it went on air with end, s ({@link endS} counts what it delivered after). */
	wentOnAirEndS: Map<string, number>;
	tracks: Map<string, TrackInfo>;
	/** Per rendition, the least `arrival − end of its media` of its parts so far, ms ({@link zeroMs} is the least of these). */
	renditionZeroMs: Map<string, number>;
	/**
	 * Per rendition, how many of its latest parts in a row came at most at real-time pace (none lowered the
	 * rendition's {@link renditionZeroMs} by more than {@link clockJitterMs}). A starting run writes its first second
	 * or so in a burst (what its input held while ffmpeg started), with pauses in it: until that burst has arrived,
	 * its clock says its media began later than it did. See {@link settledParts}.
	 */
	steadyParts: Map<string, number>;
}

interface PendingRendition {
	init?: Extract<RunItem, { kind: 'init' }>;
	track?: TrackInfo;
	/**
	 * The latest {@link pendingHistoryS} of media, from an independent part on: a rendition that arrives ahead of
	 * another starts, at the switch, from the part at the other's start (see `#startIndex`).
	 */
	parts: BufferedPart[];
	/** Media time of the first part the run wrote (its first frame: the run's GOP grid starts there). */
	originS?: number;
}

/**
 * Media a new run's rendition keeps buffered behind its newest part, s: the lag one rendition can have on another, and
 * what a backlog of the run on air (below) can need.
 */
const pendingHistoryS = 8;
/**
 * Longest a ready new run waits, while the run on air is alive and still delivering, for the run on air to deliver
 * its backlog up to where the new run's media begins, ms. A slow encoder is seconds behind its input; dropping it at
 * the switch lost those seconds for every listener and the replay.
 */
const maxBacklogWaitMs = 5000;
/**
 * Longest a ready new run waits to encode up to where the run on air has delivered to (by the encoders' clocks), ms.
 * The run on air keeps listeners served meanwhile; a run started on a starved machine writes its first seconds late
 * (6 s behind its input at its start, caught up 12 s later, in `bench:pressure`), and going on air before it had
 * caught up repeated the difference (2.5–3 s).
 */
const maxCatchUpWaitMs = 15_000;
/**
 * A rendition on air this much media behind another has stopped, s: a composite that stopped while its sound goes on,
 * no backlog coming for it. Renditions all late together are a late encoder (a starved machine pauses it for
 * seconds), whose backlog comes when it runs again; they resume on separate pipes, a part or so apart.
 */
const stoppedBehindS = 1;
/**
 * A part that lowers its rendition's clock by no more than this came at real-time pace, ms: a fifth of a part, above
 * the arrival jitter of a steady encode and below a burst's (a part's media in a few ms).
 */
const clockJitterMs = 40;
/**
 * A run's clock is settled once each rendition's latest parts, this many in a row, came at real-time pace: one alone
 * was seen in a pause of a start-up burst (the clock then dropped 0.56 s more).
 */
const settledParts = 2;
/** Renditions start together within this, s: about half a part (audio parts are 192 ms, video parts 200). */
const startToleranceS = 0.1;
/**
 * Longest a ready new run waits, while the run on air is alive, for its lagging renditions to reach the instant the
 * leading one starts at, ms; then all start at the newest instant every rendition has reached instead.
 */
const maxStartWaitMs = 2000;

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
	#pending: PendingRun | undefined;
	/** Timing of the run on air and of the pending run (see {@link RunClock}). */
	readonly #clocks = new Map<number, RunClock>();
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

	/**
	 * The wall-clock time of run `run`'s media instant 0 as its encoder read it, ms: ffmpeg stamps what it reads from
	 * the stage with the wall clock (`-use_wallclock_as_timestamps`) and starts its media time at its first packet, so
	 * the run's media instant t was read from the stage at `wallMs + t`. A run's clock estimated from when its parts
	 * arrived ({@link RunClock}) carries its encode's latency: alike for every run on a steady machine, but a run
	 * started on a starved one has seconds more than the run it replaces, and was started that much too early (what
	 * listeners had seen went out again: replays up to 5.6 s longer than the space was on air). Runs whose encoders
	 * both told it are placed by it.
	 */
	mediaOrigin(run: number, wallMs: number): void {
		if (this.#abandoned.has(run) || (this.#active !== undefined && run < this.#active) || !Number.isFinite(wallMs)) return;
		this.#clockOf(run).originMs = wallMs;
	}

	/**
	 * How late the output on air is now, ms: the wall clock less the instant (by the run's encoder clock, else by its
	 * arrivals, see {@link RunClock}) up to which every rendition has delivered. It grows while nothing arrives, so a
	 * poller sees an encode that stalls while it stalls. Undefined until every rendition of the run on air delivered.
	 */
	outputLagMs(nowMs = (this.#options.nowMs ?? Date.now)()): number | undefined {
		const clock = this.#active === undefined ? undefined : this.#clocks.get(this.#active);
		const zeroMs = clock?.originMs ?? clock?.zeroMs;
		if (!clock || zeroMs === undefined || !Number.isFinite(zeroMs)) return undefined;
		const ends = this.#options.renditions.map((name) => Math.max(clock.endS.get(name) ?? -Infinity, clock.wentOnAirEndS.get(name) ?? -Infinity));
		if (!ends.every(Number.isFinite)) return undefined;
		return nowMs - (zeroMs + Math.min(...ends) * 1000);
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
		this.#clocks.delete(run);
	}

	push(run: number, rendition: string, item: RunItem): void {
		if (this.#abandoned.has(run)) return;
		if (this.#active !== undefined && run < this.#active) return; // a run already replaced: its output is dropped
		if (run === this.#active) {
			this.#options.deliver(rendition, item);
			this.#clock(run, rendition, item);
			// A new run may be waiting for the renditions on air to reach one segment number, or to deliver their backlog.
			if (item.kind === 'part' && (this.#pending?.readyMs !== undefined || this.#pending?.backlogSinceMs !== undefined)) this.#maybeSwitch();
			return;
		}
		if (this.#pending && run < this.#pending.run) return; // superseded before it went on air
		if (!this.#pending || run > this.#pending.run) {
			if (this.#pending) this.#clocks.delete(this.#pending.run);
			this.#pending = { run, renditions: new Map(), skipped: 0 };
		}
		this.#clock(run, rendition, item);
		let pending = this.#pending.renditions.get(rendition);
		if (!pending) this.#pending.renditions.set(rendition, (pending = { parts: [] }));
		const now = (this.#options.nowMs ?? Date.now)();
		if (item.kind === 'init') {
			const init = parseInitSection(item.ftyp, item.moov);
			pending.init = item;
			pending.track = init.tracks.find((t) => t.kind === 'video') ?? init.tracks.find((t) => t.kind === 'audio');
			pending.parts = [];
			delete pending.originS;
		} else {
			this.#pending.firstArrivedMs ??= now;
			const fragment = pending.track === undefined ? undefined : parseFragment(item.moof, [pending.track]).tracks[0];
			const independent = fragment?.startsWithSync === true;
			const startS = fragment && pending.track ? fragment.baseTime / pending.track.timescale : 0;
			const endS = fragment && pending.track ? (fragment.baseTime + fragment.duration) / pending.track.timescale : startS;
			if (fragment) pending.originS ??= startS;
			if (independent || pending.parts.length > 0) {
				pending.parts.push({ item, arrivedMs: now, startS, endS, independent });
				// Only so much history, and always from an independent part.
				let first = 0;
				for (let i = 1; i < pending.parts.length; i++) if (pending.parts[i]!.independent && pending.parts[i]!.startS <= startS - pendingHistoryS) first = i;
				if (first > 0) pending.parts.splice(0, first);
			} else {
				this.#pending.skipped++;
			}
		}
		this.#maybeSwitch();
	}

	/** Keeps `run`'s clock (see {@link RunClock}) up to date with one of its items, as it arrives. */
	#clock(run: number, rendition: string, item: RunItem): void {
		const clock = this.#clockOf(run);
		if (item.kind === 'init') {
			const init = parseInitSection(item.ftyp, item.moov);
			const track = init.tracks.find((t) => t.kind === 'video') ?? init.tracks.find((t) => t.kind === 'audio');
			if (track) clock.tracks.set(rendition, track);
			return;
		}
		const track = clock.tracks.get(rendition);
		const fragment = track && parseFragment(item.moof, [track]).tracks[0];
		if (!track || !fragment) return;
		const now = (this.#options.nowMs ?? Date.now)();
		const endS = (fragment.baseTime + fragment.duration) / track.timescale;
		clock.endS.set(rendition, Math.max(clock.endS.get(rendition) ?? 0, endS));
		const zeroMs = now - endS * 1000;
		const own = clock.renditionZeroMs.get(rendition);
		clock.steadyParts.set(rendition, own !== undefined && zeroMs >= own - clockJitterMs ? (clock.steadyParts.get(rendition) ?? 0) + 1 : 0);
		clock.renditionZeroMs.set(rendition, Math.min(own ?? Infinity, zeroMs));
		clock.zeroMs = Math.min(clock.zeroMs, zeroMs);
	}

	#clockOf(run: number): RunClock {
		let clock = this.#clocks.get(run);
		if (!clock) this.#clocks.set(run, (clock = { zeroMs: Infinity, endS: new Map(), wentOnAirEndS: new Map(), tracks: new Map(), renditionZeroMs: new Map(), steadyParts: new Map() }));
		return clock;
	}

	/**
	 * While the run on air is open and none of its renditions has stopped (see {@link stoppedBehindS}): where the new run should start so that
	 * it follows what the run on air has delivered, in the new run's media time (see {@link RunClock}), and whether to
	 * wait for the run on air to deliver more of its backlog first (it is behind the start of what the new run holds),
	 * or for the new run's clock to settle (by arrivals, see {@link RunClock.steadyParts}), while the wait has lasted
	 * less than {@link maxBacklogWaitMs}; or for the new run to encode up to where the run on air delivered to (by the
	 * encoders' clocks), less than {@link maxCatchUpWaitMs}. Undefined when a rendition on air has stopped while others go on (nothing more is
	 * coming for it) or its timing is unknown.
	 */
	#backlogStart(pending: PendingRun, firstCommonS: number, now: number): { atS: number; wait: boolean; placedBy: 'encoder' | 'arrivals' } | undefined {
		const active = this.#active === undefined ? undefined : this.#clocks.get(this.#active);
		const next = this.#clocks.get(pending.run);
		if (!active || !next) return undefined;
		// Both encoders' own clocks where known; else both clocks as estimated from arrivals (one of each would mix
		// an encode's latency into the difference).
		const byEncoder = active.originMs !== undefined && next.originMs !== undefined;
		const [activeZeroMs, nextZeroMs] = byEncoder ? [active.originMs!, next.originMs!] : [active.zeroMs, next.zeroMs];
		if (!Number.isFinite(activeZeroMs) || !Number.isFinite(nextZeroMs)) return undefined;
		const ends = this.#options.renditions.map((name) => active.endS.get(name));
		if (ends.some((e) => e === undefined)) return undefined;
		// A rendition that stopped while others go on has no backlog coming; a starved encoder has all of it (a new run
		// that did not wait for one that had gone quiet for a second lost its backlog: 4–5 s of replay).
		if (Math.max(...(ends as number[])) - Math.min(...(ends as number[])) > stoppedBehindS) return undefined;
		// Where every rendition on air has delivered to, on the wall clock, then in the new run's media time.
		const deliveredToMs = activeZeroMs + Math.min(...(ends as number[])) * 1000;
		const atS = (deliveredToMs - nextZeroMs) / 1000;
		const behind = atS < firstCommonS - startToleranceS;
		// The new run, started on a busier machine than the run on air had, may not have encoded what follows it yet:
		// started at its newest part, it repeated what it lacked (by the encoders' clocks; arrivals cannot tell this lag
		// from the run's own). It catches up while it runs, being the lighter encode.
		const nextEnds = this.#options.renditions.map((name) => next.endS.get(name) ?? -Infinity);
		const ahead = byEncoder && atS > Math.min(...nextEnds);
		// Until the new run's start-up burst has arrived its clock from arrivals is late, which put the start before
		// where the run on air had delivered to: what listeners had seen went out again, and into the replay (0.2–0.4 s
		// measured). The encoders' clocks need no settling.
		const settled = byEncoder || this.#options.renditions.every((name) => (next.steadyParts.get(name) ?? 0) >= settledParts);
		pending.backlogSinceMs ??= now;
		const waitedMs = now - pending.backlogSinceMs;
		const wait = ((behind || !settled) && waitedMs < maxBacklogWaitMs) || (ahead && !behind && waitedMs < maxCatchUpWaitMs);
		return { atS: Math.max(atS, firstCommonS), wait, placedBy: byEncoder ? 'encoder' : 'arrivals' };
	}

	#activeAlive(): boolean {
		if (this.#active === undefined) return false;
		return (this.#open.get(this.#active)?.size ?? 0) === this.#options.renditions.length;
	}

	/** Index of the newest independent part of a rendition's buffered parts, or -1. */
	static #newestIndependent(parts: readonly BufferedPart[]): number {
		for (let i = parts.length - 1; i >= 0; i--) if (parts[i]!.independent) return i;
		return -1;
	}

	/**
	 * Where a rendition of the new run starts: at its latest independent part that does not begin after the media
	 * instant `atS` (within {@link startToleranceS}) — a rendition ahead of the others starts back there, so all start
	 * together in media time and none holds a stretch the others lack — else at its first independent part.
	 */
	static #startIndex(parts: readonly BufferedPart[], atS: number): number {
		let index = -1;
		for (let i = 0; i < parts.length; i++) {
			if (!parts[i]!.independent) continue;
			if (index < 0 || parts[i]!.startS <= atS + startToleranceS) index = i;
		}
		return Math.max(0, index);
	}

	/**
	 * Where a new run that waited (for its lagging renditions, or for the renditions on air to align) starts: the run
	 * on air went on delivering meanwhile, so at the latest instant every rendition can start at (an independent part
	 * of each, within {@link startToleranceS}) that the run on air has delivered up to, if that is past `startAtS`.
	 * Started at the instant fixed when it was first ready, it repeated what the run on air delivered during the wait
	 * (0.4–1.1 s measured).
	 */
	#caughtUpStart(pending: PendingRun, startAtS: number, now: number): number {
		const firstCommonS = Math.max(...this.#options.renditions.map((name) => pending.renditions.get(name)!.parts.find((p) => p.independent)!.startS));
		const deliveredToS = this.#backlogStart(pending, firstCommonS, now)?.atS;
		if (deliveredToS === undefined || deliveredToS <= startAtS + startToleranceS) return startAtS;
		const [first, ...others] = this.#options.renditions.map((name) => pending.renditions.get(name)!.parts.filter((p) => p.independent).map((p) => p.startS));
		const common = (first ?? []).filter((at) => at > startAtS && at <= deliveredToS + startToleranceS && others.every((starts) => starts.some((s) => Math.abs(s - at) <= startToleranceS)));
		return common.length > 0 ? Math.max(...common) : startAtS;
	}

	#maybeSwitch(): void {
		const pending = this.#pending;
		if (!pending) return;
		const immediate = !this.#activeAlive();
		for (const name of this.#options.renditions) {
			const r = pending.renditions.get(name);
			const start = r?.parts[RunSwitcher.#newestIndependent(r?.parts ?? [])];
			if (!r?.init || !start) return;
			if (!immediate && start.arrivedMs - (pending.firstArrivedMs ?? start.arrivedMs) < this.#options.warmupMs) return;
		}
		// Renditions arrive on separate pipes, and one can be seconds behind another (a slow x264 behind the sound, the
		// 720p encoder starting later): all start at one media instant. While the run on air is alive, it stays on air
		// until the lagging renditions reach the newest instant of the leading one when all were first ready (so the
		// new run repeats at most that lag of what the old one showed); a run replacing a dead one, or one whose lagging
		// renditions did not catch up within maxStartWaitMs, starts at the newest instant all renditions have reached.
		// Before, each started at its own newest independent part: renditions of one segment number held media up to
		// a GOP apart, and a lagging rendition repeated its whole lag.
		const newest = this.#options.renditions.map((name) => {
			const parts = pending.renditions.get(name)!.parts;
			return parts[RunSwitcher.#newestIndependent(parts)]!.startS;
		});
		let startAtS = Math.min(...newest);
		if (!immediate) {
			const now = (this.#options.nowMs ?? Date.now)();
			// The run on air may be behind (a slow encoder): the new run starts where its media follows what the run on
			// air delivered — after the run on air has delivered its backlog up to where the new run's media begins, while
			// it still delivers (at most maxBacklogWaitMs) — not at its newest part, which skipped that backlog.
			const firstCommonS = Math.max(
				...this.#options.renditions.map((name) => {
					const parts = pending.renditions.get(name)!.parts;
					return parts.find((p) => p.independent)!.startS;
				}),
			);
			const backlog = pending.startAtS === undefined ? this.#backlogStart(pending, firstCommonS, now) : undefined;
			if (backlog?.wait) return;
			if (pending.startAtS === undefined) {
				pending.startAtS = backlog ? Math.min(Math.max(...newest), backlog.atS) : Math.max(...newest);
				pending.placedBy = backlog?.placedBy ?? 'none';
			}
			pending.startReadyMs ??= now;
			if (newest.every((s) => s >= (pending.startAtS as number) - startToleranceS)) startAtS = pending.startAtS;
			else if (now - pending.startReadyMs < maxStartWaitMs) return;
		}
		if (!immediate && this.#options.aligned && !this.#options.aligned()) {
			const now = (this.#options.nowMs ?? Date.now)();
			pending.readyMs ??= now;
			if (now - pending.readyMs < (this.#options.maxAlignWaitMs ?? 1000)) return;
		}
		if (!immediate) startAtS = this.#caughtUpStart(pending, startAtS, (this.#options.nowMs ?? Date.now)());
		const hadPrevious = this.#active !== undefined;
		// Older runs' clocks go (the run on air's, and any of runs that told their origin and never delivered).
		for (const run of this.#clocks.keys()) if (run < pending.run) this.#clocks.delete(run);
		this.#active = pending.run;
		this.#pending = undefined;
		const clock = this.#clocks.get(pending.run);
		// The new run on air's clock goes on from what it delivers now.
		clock?.endS.clear();
		const alignWaitMs = pending.readyMs === undefined ? 0 : (this.#options.nowMs ?? Date.now)() - pending.readyMs;
		const zeroMs = clock?.zeroMs;
		const startCapturedAtMs = zeroMs !== undefined && Number.isFinite(zeroMs) ? Math.round(zeroMs + startAtS * 1000) : undefined;
		const originS = new Map<string, number>();
		for (const [name, r] of pending.renditions) if (r.originS !== undefined) originS.set(name, r.originS);
		const arrivalLagMs = zeroMs !== undefined && Number.isFinite(zeroMs) && clock?.originMs !== undefined ? Math.round(zeroMs - clock.originMs) : undefined;
		this.#options.switched(pending.run, hadPrevious, {
			skippedParts: pending.skipped,
			alignWaitMs,
			...(startCapturedAtMs !== undefined && { startCapturedAtMs }),
			originS,
			placedBy: pending.placedBy ?? 'none',
			...(arrivalLagMs !== undefined && { arrivalLagMs }),
		});
		for (const name of this.#options.renditions) {
			const r = pending.renditions.get(name)!;
			this.#options.deliver(name, r.init!);
			const parts = r.parts.slice(RunSwitcher.#startIndex(r.parts, startAtS));
			for (const part of parts) this.#options.deliver(name, part.item);
			if (clock && parts.length > 0) clock.wentOnAirEndS.set(name, parts.at(-1)!.endS);
		}
	}
}
