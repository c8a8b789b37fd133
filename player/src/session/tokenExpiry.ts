/** A token's `iat` and `exp`, in ms of the server's clock. */
export interface TokenTimes {
	issuedAtMs: number;
	expiresAtMs: number;
}

/**
 * When a participant token was issued and expires, read from its payload (`iat`, `exp`), or undefined if they cannot
 * be read. Only to schedule a renewal and to tell which of two tokens is newer: the server verifies every token; the
 * player never trusts what it reads here. Both are the server's clock: compare them with each other, not with
 * `Date.now()` (a device's clock may be minutes off).
 */
export function tokenTimes(token: string): TokenTimes | undefined {
	const payload = token.split('.')[1];
	if (!payload) return undefined;
	try {
		const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { iat?: unknown; exp?: unknown };
		const seconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
		return seconds(json.iat) && seconds(json.exp) ? { issuedAtMs: (json.iat as number) * 1000, expiresAtMs: (json.exp as number) * 1000 } : undefined;
	} catch {
		return undefined;
	}
}

/**
 * When a token received at `receivedAtMs` (this device's clock) expires on this device's clock: its lifetime
 * (`exp − iat`) counted from its arrival, so a skewed clock does not move the renewal.
 */
export function localExpiryMs(times: TokenTimes, receivedAtMs: number): number {
	return receivedAtMs + Math.max(0, times.expiresAtMs - times.issuedAtMs);
}

/**
 * How long to wait before renewing a token that expires at `expiresAtMs` (`localExpiryMs`, this device's clock): when four fifths of what is left have
 * passed (a renewal that fails has time to be tried again), at least 1 s from now, within the timer range.
 */
export function renewalDelayMs(expiresAtMs: number, nowMs: number): number {
	return Math.min(2 ** 31 - 1, Math.max(1000, Math.round((expiresAtMs - nowMs) * 0.8)));
}
