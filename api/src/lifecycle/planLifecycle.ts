/** Why a live space ends on its own (see `SpaceEndReason` in the protocol). */
export type EndReason = 'idle' | 'max_duration';

/** What the lifecycle remembers of a live space between sweeps (`<prefix>:space:{id}:lifecycle`). */
export interface LifecycleState {
	/** Since when no host or co-host has been connected on any node, epoch ms; null while one is. */
	idleSince: number | null;
	/** The end the stage was last warned of, or null. */
	warned: { reason: EndReason; endsAt: number } | null;
}

export interface LifecycleTimes {
	/** A live space with no host or co-host connected for this long ends, ms (`SPACE_IDLE_END_S`). */
	idleEndMs: number;
	/** A space live this long ends, ms (`SPACE_MAX_LIVE_S`). */
	maxLiveMs: number;
	/** The stage is warned this long before an end, ms (at once when the end is nearer). */
	warnMs: number;
}

export interface LifecyclePlan {
	state: LifecycleState;
	/** Warn the stage of this end, or tell it that the end it was warned of is off. */
	announce: { reason: EndReason; endsAt: number } | 'cancel' | null;
	/** End the space now, for this reason. */
	end: EndReason | null;
}

/**
 * What to do with one live space at `nowMs`, given when it started, whether a host or co-host is connected anywhere,
 * and what the last sweep left. Pure: the sweeper applies the plan.
 */
export function planLifecycle(input: { startedAt: number; nowMs: number; moderatorsConnected: boolean; state: LifecycleState; times: LifecycleTimes }): LifecyclePlan {
	const { startedAt, nowMs, moderatorsConnected, state, times } = input;
	const idleSince = moderatorsConnected ? null : (state.idleSince ?? nowMs);
	const maxEnd = startedAt + times.maxLiveMs;
	const idleEnd = idleSince === null ? Infinity : idleSince + times.idleEndMs;
	const reason: EndReason = idleEnd < maxEnd ? 'idle' : 'max_duration';
	const endsAt = Math.min(maxEnd, idleEnd);
	if (nowMs >= endsAt) return { state: { idleSince, warned: state.warned }, announce: null, end: reason };
	if (nowMs >= endsAt - times.warnMs) {
		const warned = { reason, endsAt };
		const same = state.warned?.reason === reason && state.warned.endsAt === endsAt;
		return { state: { idleSince, warned }, announce: same ? null : warned, end: null };
	}
	return { state: { idleSince, warned: null }, announce: state.warned ? 'cancel' : null, end: null };
}
