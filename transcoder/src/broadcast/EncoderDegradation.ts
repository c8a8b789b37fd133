/**
 * When to shed work from the broadcast encode and when to give it back: the decisions alone (pure, fed one
 * measurement at a time); the runner applies them by putting a run of the chosen level on air (see
 * `planEncodeLevels`, `runStageBroadcast`).
 *
 * - **Shed** one level when the encoder's windowed speed stays below `shedBelowSpeed` for `shedAfterMs` (every
 *   measurement in between), or when its output has fallen `maxLagMs` behind the wall clock since the run settled,
 *   or when what reaches the packager comes `maxOutputLagMs` later than it did at its quickest in the last
 *   `outputLagFloorMs`, for the `outputLagEpisodes`th time within `outputLagEpisodesMs` (an encode that keeps pace on
 *   average but delivers in bursts: listeners stall in every gap; one stall alone is a busy moment, such as a space's
 *   start, which a new run started then would only make longer).
 * - **Restore** one level when, for `restoreAfterMs`, the speed is at least `restoreAtSpeed`, the output came
 *   within half of `maxOutputLagMs` of its quickest, and the machine's idle CPU would pay for the level restored (the
 *   encoder's CPU now × that level's cost ratio × `idleMargin`), and the level has lasted `minDwellMs`.
 * - A run's first `settleMs` on air is not judged by these (its start is a burst), though its time below
 *   `settlingSlowBelowSpeed` then counts towards `shedAfterMs`; nor is anything while a change waits to go on air.
 *   Except a run that has all but stopped: below `stalledBelowSpeed` for `stalledAfterMs` sheds at once, settling or
 *   not (a first run starved by a busy machine made almost nothing for 10–13 s).
 * - A run whose main thread neither runs nor waits for a CPU, and none of whose threads waits for one either
 *   (`inputBoundBelow`), is waiting on its inputs or outputs:
 *   slow, but not from its work, so nothing is shed for it (a new run would wait the same) and its lag is measured
 *   afresh once it runs again.
 * - A shed goes as deep as the run's speed says (see `shedMargin`, `maxShedStep`).
 * - A level shed again within `relapseWindowMs` of being restored doubles the time the next restore waits, up to
 *   `maxRestoreAfterMs`: a machine that cannot hold a level is not made to try every 20 s.
 */
export interface DegradationPolicy {
	/** Windowed encoder speed (1 = real time) below which the encode is behind. Default 0.97. */
	shedBelowSpeed: number;
	/** How long the speed must stay below `shedBelowSpeed` to shed a level, ms. Default 4000. */
	shedAfterMs: number;
	/** Output this far behind the wall clock since the run settled sheds a level too, ms. Default 1500. */
	maxLagMs: number;
	/**
	 * Output at the packager this much later than its least lateness over `outputLagFloorMs` sheds a level, ms (see
	 * {@link EncoderDegradation.outputLag}). Default 1500: a listener holds about a second ahead of the live edge. The
	 * encoder's own progress misses this: on a machine at its limit the encode kept 1.0× on average while its parts
	 * reached the packager in bursts 2–5 s apart (`bench:pressure`, no hog: the listener stalled 3–10 s).
	 */
	maxOutputLagMs: number;
	/** Window of the output's least lateness, the floor {@link maxOutputLagMs} counts from, ms. Default 10000. */
	outputLagFloorMs: number;
	/**
	 * Times the output must come {@link maxOutputLagMs} late (each from below it) within `outputLagEpisodesMs` to shed.
	 * Default 2: a space's start on a busy machine stalled its first run once for 6–10 s (recognisers, the first
	 * listeners' players and the encode starting together), and a lighter run started during that stall had not gone on
	 * air before it ended, while the run on air lost what it had not encoded at the switch (8–9 s of replay).
	 */
	outputLagEpisodes: number;
	/** See {@link outputLagEpisodes}, ms. Default 30000. */
	outputLagEpisodesMs: number;
	/** Speed a restore needs. Default 0.99 (a live encode cannot go faster than its input: 1 at most). */
	restoreAtSpeed: number;
	/** How long speed and idle CPU must allow a restore before it happens, ms. Default 20000. */
	restoreAfterMs: number;
	/** Shortest time between a change and a restore, ms. Default 20000. */
	minDwellMs: number;
	/** A run's first time on air not judged, ms. Default 5000. */
	settleMs: number;
	/** Below this speed while settling, a run is slow for `shedAfterMs` already (not judged before it settles). Default 0.8. */
	settlingSlowBelowSpeed: number;
	/** Speed below which a run has all but stopped. Default 0.5. */
	stalledBelowSpeed: number;
	/** How long below `stalledBelowSpeed` sheds a level, even while the run settles, ms. Default 3000. */
	stalledAfterMs: number;
	/** Idle CPU a restore needs, as a multiple of its estimated cost. Default 1.25. */
	idleMargin: number;
	/** A shed this soon after a restore of the same level is a relapse, ms. Default 60000. */
	relapseWindowMs: number;
	/** Longest `restoreAfterMs` after relapses, ms. Default 300000. */
	maxRestoreAfterMs: number;
	/**
	 * A shed goes as far as the level whose estimated cost the run can pay at its speed × this (see `restoreCost`),
	 * at least one level and at most `maxShedStep`. Default 0.9.
	 */
	shedMargin: number;
	/** Most levels one shed goes down. Default 2. */
	maxShedStep: number;
	/**
	 * The encoder's main thread on a CPU plus waiting for one, as a share of the time, below which a slow run is
	 * waiting on I/O rather than behind on work (see `DegradationSample.mainThread`). Default 0.15: starved runs
	 * measured in a busy Chromium journey ran 2–26 % of the time and waited 12–98 %, never below 0.24 in all.
	 */
	inputBoundBelow: number;
}

export const defaultDegradationPolicy: Readonly<DegradationPolicy> = Object.freeze({
	shedBelowSpeed: 0.97,
	shedAfterMs: 4000,
	maxLagMs: 1500,
	maxOutputLagMs: 1500,
	outputLagFloorMs: 10_000,
	outputLagEpisodes: 2,
	outputLagEpisodesMs: 30_000,
	restoreAtSpeed: 0.99,
	restoreAfterMs: 20_000,
	minDwellMs: 20_000,
	settleMs: 5000,
	settlingSlowBelowSpeed: 0.8,
	stalledBelowSpeed: 0.5,
	stalledAfterMs: 3000,
	idleMargin: 1.25,
	relapseWindowMs: 60_000,
	maxRestoreAfterMs: 300_000,
	shedMargin: 0.9,
	maxShedStep: 2,
	inputBoundBelow: 0.15,
});

/** One measurement of the encode on air. */
export interface DegradationSample {
	atMs: number;
	/** Windowed speed (see `EncoderPace`). */
	speed: number;
	/** Media time the encode has written, s (for the output's lag behind the wall clock). */
	mediaS?: number;
	/** CPU the encoder uses now, cores. */
	encoderCores?: number;
	/** The machine's idle CPU now, cores. */
	idleCores?: number;
	/** The encoder's main thread since the last check: shares of the time on a CPU and runnable but waiting for one. */
	mainThread?: { busy: number; waiting: number };
	/** All the encoder's threads' time runnable but waiting for a CPU since the last check, cores. */
	waitingCores?: number;
}

/** How late the output on air reaches the packager now (see {@link EncoderDegradation.outputLag}). */
export interface OutputLagSample {
	atMs: number;
	/** Wall clock now minus the wall-clock instant of the newest media every rendition on air has delivered, ms. */
	lagMs: number;
	/** As in {@link DegradationSample}: a run waiting on its inputs is not judged. */
	mainThread?: DegradationSample['mainThread'];
	waitingCores?: number;
}

/** A decision: put level `to` on air. */
export interface DegradationChange {
	direction: 'shed' | 'restore';
	from: number;
	to: number;
	/** The measurement that decided it, for the log. */
	speed: number;
	lagMs?: number;
	/** How much later than at its quickest the output reached the packager (see {@link EncoderDegradation.outputLag}). */
	outputLagMs?: number;
	idleCores?: number;
	neededCores?: number;
}

export class EncoderDegradation {
	readonly #policy: DegradationPolicy;
	/** Per level, what restoring the level below it costs, as a multiple of the encoder's CPU at that level. */
	readonly #restoreCost: readonly number[];
	#wanted: number;
	#onAir: { level: number; atMs: number } | undefined;
	#slowSinceMs: number | undefined;
	#stalledSinceMs: number | undefined;
	#headroomSinceMs: number | undefined;
	#lagBase: { atMs: number; mediaS: number } | undefined;
	/** The output's lateness over the last `outputLagFloorMs` of the run on air, oldest first. */
	#outputLags: { atMs: number; lagMs: number }[] = [];
	/** When the output last came `maxOutputLagMs` late (from below it), within `outputLagEpisodesMs`; and whether it still is. */
	#lateEpisodes: number[] = [];
	#late = false;
	/** The speed last measured, for how deep an output-lag shed goes. */
	#lastSpeed = 1;
	#changedAtMs = -Infinity;
	#restoreAfterMs: number;
	/** When each level was last restored (left for the one below), for relapses. */
	readonly #restoredAtMs = new Map<number, number>();

	/**
	 * `restoreCost[n]`: for level n ≥ 1, the CPU restoring level n − 1 adds, as a multiple of the encoder's CPU at
	 * level n (index 0 unused); its length is the number of levels. `initialLevel`: the level the first run encodes.
	 */
	constructor(restoreCost: readonly number[], policy: Partial<DegradationPolicy> = {}, initialLevel = 0) {
		if (restoreCost.length === 0) throw new RangeError('EncoderDegradation: at least one level');
		if (!Number.isInteger(initialLevel) || initialLevel < 0 || initialLevel >= restoreCost.length) throw new RangeError(`EncoderDegradation: no level ${initialLevel}`);
		this.#policy = { ...defaultDegradationPolicy, ...policy };
		this.#restoreCost = restoreCost;
		this.#wanted = initialLevel;
		this.#restoreAfterMs = this.#policy.restoreAfterMs;
	}

	/** The level runs should encode now. */
	get level(): number {
		return this.#wanted;
	}

	get maxLevel(): number {
		return this.#restoreCost.length - 1;
	}

	/** A run encoding `level` went on air at `atMs`: it is judged from `settleMs` later on. */
	onAir(level: number, atMs: number): void {
		this.#onAir = { level, atMs };
		this.#slowSinceMs = this.#headroomSinceMs = this.#lagBase = this.#stalledSinceMs = undefined;
		this.#outputLags = [];
		this.#lateEpisodes = [];
		this.#late = false;
	}

	/** Judges one measurement of the run on air; returns the change to make, if any. */
	sample(sample: DegradationSample): DegradationChange | undefined {
		const onAir = this.#onAir;
		const policy = this.#policy;
		// A change waiting to go on air: nothing to judge yet.
		if (!onAir || onAir.level !== this.#wanted) return undefined;
		this.#lastSpeed = sample.speed;
		if (this.#waitingOnIo(sample)) {
			this.#slowSinceMs = this.#stalledSinceMs = this.#lagBase = this.#headroomSinceMs = undefined;
			return undefined;
		}
		if (sample.speed < policy.stalledBelowSpeed) this.#stalledSinceMs ??= sample.atMs;
		else this.#stalledSinceMs = undefined;
		if (this.#stalledSinceMs !== undefined && sample.atMs - this.#stalledSinceMs >= policy.stalledAfterMs && this.#wanted < this.maxLevel) {
			return this.#change('shed', this.#shedTo(sample.speed), sample, {});
		}
		// A run just started is judged once it has settled; but time it spends clearly slow while settling counts
		// towards `shedAfterMs` (a first run at a third of real time was shed 9 s after going on air, not 5).
		const settling = sample.atMs < onAir.atMs + policy.settleMs;
		const slow = sample.speed < (settling ? policy.settlingSlowBelowSpeed : policy.shedBelowSpeed);
		if (slow) this.#slowSinceMs ??= sample.atMs;
		else this.#slowSinceMs = undefined;
		if (settling) return undefined;
		let lagMs: number | undefined;
		if (sample.mediaS !== undefined) {
			this.#lagBase ??= { atMs: sample.atMs, mediaS: sample.mediaS };
			lagMs = sample.atMs - this.#lagBase.atMs - (sample.mediaS - this.#lagBase.mediaS) * 1000;
		}
		const behind = (this.#slowSinceMs !== undefined && sample.atMs - this.#slowSinceMs >= policy.shedAfterMs) || (lagMs !== undefined && lagMs >= policy.maxLagMs);
		if (behind) {
			if (this.#wanted >= this.maxLevel) return undefined;
			return this.#shed(sample, lagMs === undefined ? {} : { lagMs: Math.round(lagMs) });
		}
		if (this.#wanted === 0 || slow) {
			this.#headroomSinceMs = undefined;
			return undefined;
		}
		const neededCores = sample.encoderCores !== undefined ? sample.encoderCores * (this.#restoreCost[this.#wanted] ?? 1) * policy.idleMargin : undefined;
		const headroom = sample.speed >= policy.restoreAtSpeed && (neededCores === undefined || sample.idleCores === undefined || sample.idleCores >= neededCores);
		if (!headroom) {
			this.#headroomSinceMs = undefined;
			return undefined;
		}
		this.#headroomSinceMs ??= sample.atMs;
		if (sample.atMs - this.#headroomSinceMs < this.#restoreAfterMs || sample.atMs - this.#changedAtMs < policy.minDwellMs) return undefined;
		this.#restoredAtMs.set(this.#wanted, sample.atMs);
		return this.#change('restore', this.#wanted - 1, sample, {
			...(sample.idleCores !== undefined && { idleCores: round2(sample.idleCores) }),
			...(neededCores !== undefined && { neededCores: round2(neededCores) }),
		});
	}

	/**
	 * Judges how late the output on air reaches the packager (polled, so an encode that writes nothing for seconds is
	 * seen while it does, not after): `lagMs` is measured against the least lateness of the last `outputLagFloorMs`,
	 * which is the encode's own latency; more than `maxOutputLagMs` over it, for the `outputLagEpisodes`th time within
	 * `outputLagEpisodesMs`, sheds (as deep as the last speed says), and over half of it holds off a restore. Not
	 * judged while the run settles, a change waits to go on air, or the encoder waits on its inputs.
	 */
	outputLag(sample: OutputLagSample): DegradationChange | undefined {
		const onAir = this.#onAir;
		const policy = this.#policy;
		if (!onAir || onAir.level !== this.#wanted || !Number.isFinite(sample.lagMs)) return undefined;
		if (sample.atMs < onAir.atMs + policy.settleMs || this.#waitingOnIo({ ...sample, speed: 0 })) {
			this.#outputLags = [];
			return undefined;
		}
		const lags = this.#outputLags;
		lags.push({ atMs: sample.atMs, lagMs: sample.lagMs });
		while (lags.length > 1 && lags[0]!.atMs < sample.atMs - policy.outputLagFloorMs) lags.shift();
		const overMs = sample.lagMs - Math.min(...lags.map((l) => l.lagMs));
		if (overMs >= policy.maxOutputLagMs / 2) this.#headroomSinceMs = undefined;
		const late = overMs >= policy.maxOutputLagMs;
		if (late && !this.#late) this.#lateEpisodes.push(sample.atMs);
		this.#late = late;
		while (this.#lateEpisodes.length > 0 && this.#lateEpisodes[0]! < sample.atMs - policy.outputLagEpisodesMs) this.#lateEpisodes.shift();
		if (!late || this.#lateEpisodes.length < policy.outputLagEpisodes || this.#wanted >= this.maxLevel) return undefined;
		return this.#shed({ atMs: sample.atMs, speed: this.#lastSpeed }, { outputLagMs: Math.round(overMs) });
	}

	/** Sheds from the level wanted (as deep as `sample.speed` says); a relapse makes the next restore wait longer. */
	#shed(sample: Pick<DegradationSample, 'atMs' | 'speed'>, extra: Partial<DegradationChange>): DegradationChange {
		const restoredAt = this.#restoredAtMs.get(this.#wanted + 1);
		if (restoredAt !== undefined && sample.atMs - restoredAt < this.#policy.relapseWindowMs) {
			this.#restoreAfterMs = Math.min(this.#restoreAfterMs * 2, this.#policy.maxRestoreAfterMs);
		}
		return this.#change('shed', this.#shedTo(sample.speed), sample, extra);
	}

	/**
	 * Slow, its main thread neither working nor waiting for a CPU, and no thread of it starved (the main thread also
	 * sleeps while it waits for its own starved encoder threads): it waits on an input or output.
	 */
	#waitingOnIo(sample: DegradationSample): boolean {
		const thread = sample.mainThread;
		const limit = this.#policy.inputBoundBelow;
		return sample.speed < this.#policy.shedBelowSpeed && thread !== undefined && thread.busy + thread.waiting < limit && sample.waitingCores !== undefined && sample.waitingCores < limit;
	}

	/**
	 * A run of the level wanted never started (no stats line by its start-up deadline: on a starved machine its
	 * start-up alone outran the deadline): the next one sheds `maxShedStep` levels rather than try the same again.
	 * Undefined at the last level.
	 */
	startFailed(atMs: number): DegradationChange | undefined {
		if (this.#wanted >= this.maxLevel) return undefined;
		return this.#change('shed', Math.min(this.maxLevel, this.#wanted + this.#policy.maxShedStep), { atMs, speed: 0 }, {});
	}

	/**
	 * The level to shed to from a run going at `speed`: the next one, or further (up to `maxShedStep` levels) when the
	 * next one's estimated cost is still more than the run can pay at that speed (with `shedMargin`). A first run at
	 * a quarter of real time took three switches of 5–10 s each, one level at a time.
	 */
	#shedTo(speed: number): number {
		const fitting = levelFitting(speed * this.#policy.shedMargin, this.#restoreCost, this.#wanted);
		return Math.min(this.maxLevel, this.#wanted + this.#policy.maxShedStep, Math.max(this.#wanted + 1, fitting));
	}

	#change(direction: 'shed' | 'restore', to: number, sample: Pick<DegradationSample, 'atMs' | 'speed'>, extra: Partial<DegradationChange>): DegradationChange {
		const change: DegradationChange = { direction, from: this.#wanted, to, speed: sample.speed, ...extra };
		this.#wanted = to;
		this.#changedAtMs = sample.atMs;
		this.#slowSinceMs = this.#headroomSinceMs = this.#stalledSinceMs = undefined;
		this.#outputLags = [];
		this.#lateEpisodes = [];
		this.#late = false;
		return change;
	}
}

/**
 * Free CPU (idle, or spent by lower-priority processes; cores) a broadcast's first run is taken to need, at its
 * start, to encode every rendition. On a busy machine a first run at full level made almost nothing for its first
 * 10–13 s, and what it had not encoded was lost when a lighter run replaced it.
 */
export const defaultStartIdleCores = 1;

/**
 * The level a broadcast's first run encodes, from the machine's free CPU when it starts (`freeCores`; undefined
 * when it cannot be read): everything with at least `startIdleCores` free (0: always), else the first level whose
 * estimated cost (`restoreCost`, relative to everything costing `startIdleCores`) fits what is free. From there the
 * usual rules apply: shed further when still behind, restore once the machine has room.
 */
export function startLevel(freeCores: number | undefined, startIdleCores: number, restoreCost: readonly number[]): number {
	if (startIdleCores <= 0 || freeCores === undefined) return 0;
	return levelFitting(freeCores / startIdleCores, restoreCost, 0);
}

/**
 * The first level from `from` on whose estimated cost, relative to level `from`'s, is at most `ratio` (the last
 * level when none is). Level n costs level n − 1's divided by 1 + `restoreCost[n]`.
 */
export function levelFitting(ratio: number, restoreCost: readonly number[], from: number): number {
	let cost = 1;
	for (let level = from; level < restoreCost.length; level++) {
		if (level > from) cost /= 1 + (restoreCost[level] ?? 0);
		if (cost <= ratio) return level;
	}
	return restoreCost.length - 1;
}

function round2(value: number): number {
	return Math.round(value * 100) / 100;
}
