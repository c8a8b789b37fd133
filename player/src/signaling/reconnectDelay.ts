/** Reconnect backoff: `initialMs` doubling per failed attempt up to `maxMs`, with ±`jitter` so a restarted server is not hit by every client at once. */
export interface ReconnectPolicy {
	/** First retry delay, ms. Default 500. */
	initialMs: number;
	/** Largest delay, ms. Default 10 000. */
	maxMs: number;
	/** Fraction of the delay added or removed at random, 0–1. Default 0.2. */
	jitter: number;
}

export const defaultReconnectPolicy: Readonly<ReconnectPolicy> = Object.freeze({ initialMs: 500, maxMs: 10_000, jitter: 0.2 });

/** Delay before reconnect attempt `attempt` (0 = the first after a drop); `random` in [0, 1). */
export function reconnectDelayMs(attempt: number, policy: ReconnectPolicy = defaultReconnectPolicy, random: number = Math.random()): number {
	const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
	return Math.round(base * (1 + policy.jitter * (2 * random - 1)));
}

/** WebSocket close codes after which reconnecting is pointless (see api/src/signaling/SignalingServer.ts `closeCodes`). */
export const finalCloseCodes = { removed: 4003, replaced: 4009, spaceEnded: 4010 } as const;

/**
 * Close codes after which the stored token is useless (see `closeCodes` there): it expired unrenewed, the session
 * reached its maximum age, or a host revoked it (or it was rotated elsewhere). The player goes back to the join form.
 */
export const rejoinCloseCodes = { tokenExpired: 4011, sessionExpired: 4012, revoked: 4013 } as const;

/** Close code of a node that is full (api/src/signaling/SignalingServer.ts `closeCodes.full`); its reason is "retry-after=N". */
export const fullCloseCode = 4503;

/** N from a "retry-after=N" close reason (seconds, 1 h at most), or undefined. */
export function parseRetryAfter(reason: string): number | undefined {
	const match = /^retry-after=(\d{1,4})$/.exec(reason);
	return match ? Math.min(3600, Number(match[1])) : undefined;
}

/**
 * Delay before reconnect attempt `attempt` when the server said to wait `retryAfterS`: at least that long (spread
 * by the jitter, only ever later, so a full node is not hit by everyone it turned away at the same instant).
 */
export function retryAfterDelayMs(retryAfterS: number, attempt: number, policy: ReconnectPolicy = defaultReconnectPolicy, random: number = Math.random()): number {
	return Math.max(Math.round(retryAfterS * 1000 * (1 + policy.jitter * random)), reconnectDelayMs(attempt, policy, random));
}
