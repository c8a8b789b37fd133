import { watchdogFailure, type FfmpegFailure } from './ffmpegOutput.js';

/**
 * How a running encoder is doing, as the job's progress says it: `starting` (no stats line yet), `ok` (keeping real
 * time), `slow` (stats or output advance, or it uses CPU, but slower than real time) or `stuck` (no stats line, no
 * output and no CPU time for a while: stopped, or blocked on something that will not come).
 */
export type EncoderHealth = 'starting' | 'ok' | 'slow' | 'stuck';

/** The watchdog's limits. */
export interface WatchdogLimits {
	/** From spawning to the first stats line, ms; then the encoder did not start and is killed. */
	startTimeoutMs: number;
	/**
	 * Once started: no stats line, no output byte and (almost) no CPU time for this long, ms, and the encoder is stuck
	 * and killed. A slow encoder (it advances, or it works) is never killed for being slow.
	 */
	stallTimeoutMs: number;
	/** Once started: no stats line and no output byte for this long, ms, however much CPU it uses: hung, killed. */
	hungTimeoutMs: number;
	/** Below this windowed speed a working encoder is `slow`. */
	slowBelowSpeed: number;
}

export const defaultWatchdogLimits: Readonly<WatchdogLimits> = Object.freeze({
	startTimeoutMs: 30_000,
	stallTimeoutMs: 5000,
	hungTimeoutMs: 60_000,
	slowBelowSpeed: 0.97,
});

/** What the watchdog knows at one check. */
export interface WatchedEncoder {
	nowMs: number;
	spawnedAtMs: number;
	/** The first stats line (the outputs run); undefined while starting. */
	startedAtMs?: number;
	/** The latest progress: a stats line or output bytes. */
	progressAtMs: number;
	/** CPU time the process used over the last `ms` (undefined: unknown, such as /proc not readable or not covered yet). */
	cpuMsOver(ms: number): number | undefined;
	/** Windowed speed (see EncoderPace), if known. */
	speed?: number;
}

/** Quiet (no stats line, no output) for this long makes a started encoder at least `slow`, ms. */
const quietSlowMs = 2000;

/**
 * Whether CPU time used over a window is "almost none": at most half a percent of a core, 20 ms at least (the
 * counters move in 10 ms ticks). A stopped process or one blocked in a read uses none; one starved by busier
 * processes still gets its share (a nice-19 process against a nice-0 busy loop on its core: about 1.4 %).
 */
export function usedNoCpu(cpuMs: number | undefined, windowMs: number): boolean {
	return cpuMs !== undefined && cpuMs <= Math.max(20, windowMs * 0.005);
}

/** The watchdog's verdict on a running encoder: its health, and a failure when it must be killed. */
export function judgeEncoder(watched: WatchedEncoder, limits: WatchdogLimits): { health: EncoderHealth; kill?: FfmpegFailure } {
	const { nowMs } = watched;
	if (watched.startedAtMs === undefined) {
		const elapsed = nowMs - watched.spawnedAtMs;
		return elapsed >= limits.startTimeoutMs ? { health: 'starting', kill: watchdogFailure('starting', limits.startTimeoutMs) } : { health: 'starting' };
	}
	const quietMs = nowMs - watched.progressAtMs;
	if (quietMs >= limits.stallTimeoutMs && usedNoCpu(watched.cpuMsOver(limits.stallTimeoutMs), limits.stallTimeoutMs)) {
		return { health: 'stuck', kill: watchdogFailure('stuck', limits.stallTimeoutMs) };
	}
	if (quietMs >= limits.hungTimeoutMs) return { health: 'slow', kill: watchdogFailure('hung', limits.hungTimeoutMs) };
	if (quietMs >= quietSlowMs) {
		const windowMs = Math.min(quietMs, limits.stallTimeoutMs);
		return { health: usedNoCpu(watched.cpuMsOver(windowMs), windowMs) ? 'stuck' : 'slow' };
	}
	if (watched.speed !== undefined && watched.speed < limits.slowBelowSpeed) return { health: 'slow' };
	return { health: 'ok' };
}
