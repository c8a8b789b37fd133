/**
 * How a live listener holds its target latency (hls.js' target: PART-HOLD-BACK behind the live edge, a little more
 * after stalls). hls.js' own catch-up (`maxLiveSyncPlaybackRate`) speeds up only with more than a second buffered
 * ahead and only within one target duration of the target: at PART-HOLD-BACK 0.6 s a listener a little behind never
 * has that buffer, and one several seconds behind (after stalls on a busy machine) is out of its range and stayed
 * there. So the player decides itself, every tick, from what it sees:
 * - in the first seconds after a load, a few jumps to the target once more than half a part behind, within the
 *   buffer (the live edge moves on while the first parts load; little has been heard yet);
 * - moderately behind: play faster, up to `maxRate` (the browser keeps the pitch), in proportion to the distance,
 *   while enough is buffered ahead that playing faster cannot run dry — the sound never stops;
 * - far behind (`jumpBehindS`): jump to the target, at most once per `jumpIntervalMs` (a stream that keeps falling
 *   behind is not skipped through every tick, and is never left drifting);
 * - ahead of a target that moved back (margin taken after the page was blocked, see LiveTarget): play a little
 *   slower, `minRate`, until within `slowAheadS` of it, so the margin is buffered before the next block rather than
 *   earned by a stall (as Shaka's `liveSync.minPlaybackRate` does).
 */
export interface CatchUpSettings {
	/** Fastest playback rate, ×. Default 1.1 (faster is audible). */
	maxRate: number;
	/** Slowest playback rate, ×, ahead of the target. Default 0.95 (pitch kept; barely heard in speech). */
	minRate: number;
	/** Further than this ahead of the target plays at `minRate`, s. Default 0.2 (a part). */
	slowAheadS: number;
	/** Rate added per second behind the target, ×/s. Default 0.2 (0.5 s behind plays at 1.1×). */
	rateGainPerS: number;
	/** Closer than this to the target plays at 1×, s. Default 0.1. */
	deadbandS: number;
	/** Less than this buffered ahead plays at 1× (speeding up would stall), s. Default 0.3. */
	minBufferAheadS: number;
	/** Further than this behind the target jumps to it, s. Default 2. */
	jumpBehindS: number;
	/** At most one such jump per this long, ms. Default 10000. */
	jumpIntervalMs: number;
	/** Start-up jumps to the target within the buffer, per load, within `startupMs` of it. Default 3. */
	startupJumps: number;
	/** How long after a load start-up jumps may come, ms. Default 10000. */
	startupMs: number;
}

export const catchUpDefaults: CatchUpSettings = {
	maxRate: 1.1,
	minRate: 0.95,
	slowAheadS: 0.2,
	rateGainPerS: 0.2,
	deadbandS: 0.1,
	minBufferAheadS: 0.3,
	jumpBehindS: 2,
	jumpIntervalMs: 10_000,
	startupJumps: 3,
	startupMs: 10_000,
};

/** What the player sees on a tick (media times in seconds, `nowMs` on the clock `lastJumpAtMs` was read from). */
export interface CatchUpState {
	/** Distance behind the live edge (hls.js `latency`), s. */
	latencyS: number;
	/** hls.js' target latency, s. */
	targetS: number;
	/** The media time at the target (hls.js `liveSyncPosition`), s. */
	syncPositionS: number;
	currentTimeS: number;
	/** End of the buffered media, s. */
	bufferedEndS: number;
	/** Part duration, s. */
	partS: number;
	nowMs: number;
	/** When the player last jumped (any jump), ms; undefined: not since this load. */
	lastJumpAtMs: number | undefined;
	/** Jumps since this load. */
	jumps: number;
	/** Time since this load, ms. */
	sinceLoadMs: number;
}

/** Jump to a media time, or play at a rate. */
export type CatchUp = { jumpTo: number } | { rate: number };

export function planCatchUp(state: CatchUpState, settings: CatchUpSettings = catchUpDefaults): CatchUp {
	const behind = state.latencyS - state.targetS;
	const ahead = state.bufferedEndS - state.currentTimeS;
	const forward = state.syncPositionS > state.currentTimeS;
	// Two parts buffered beyond the target: a jump into the buffer's last tenth of a second would leave the next
	// part's fetch no margin.
	const targetBuffered = forward && state.bufferedEndS >= state.syncPositionS + 2 * state.partS;
	const startingUp = state.sinceLoadMs < settings.startupMs && state.jumps < settings.startupJumps;
	if (startingUp && behind > state.partS / 2 && targetBuffered) return { jumpTo: state.syncPositionS };
	const mayJump = state.lastJumpAtMs === undefined || state.nowMs - state.lastJumpAtMs >= settings.jumpIntervalMs;
	// Far behind: to the target, buffered or not (hls.js then loads from there).
	if (behind > settings.jumpBehindS && forward && mayJump) return { jumpTo: state.syncPositionS };
	if (behind > settings.deadbandS && ahead > settings.minBufferAheadS) {
		return { rate: Math.round(Math.min(settings.maxRate, 1 + behind * settings.rateGainPerS) * 100) / 100 };
	}
	if (-behind > settings.slowAheadS) return { rate: settings.minRate };
	return { rate: 1 };
}
