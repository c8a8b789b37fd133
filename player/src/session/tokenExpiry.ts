/**
 * When a participant token expires, epoch ms, read from its payload (`exp`), or undefined if it cannot be read. Only
 * to schedule a renewal: the server verifies every token; the player never trusts what it reads here.
 */
export function tokenExpiresAtMs(token: string): number | undefined {
	const payload = token.split('.')[1];
	if (!payload) return undefined;
	try {
		const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
		return typeof json.exp === 'number' && Number.isFinite(json.exp) ? json.exp * 1000 : undefined;
	} catch {
		return undefined;
	}
}

/**
 * How long to wait before renewing a token that expires at `expiresAtMs`: when four fifths of what is left have
 * passed (a renewal that fails has time to be tried again), at least 1 s from now, within the timer range.
 */
export function renewalDelayMs(expiresAtMs: number, nowMs: number): number {
	return Math.min(2 ** 31 - 1, Math.max(1000, Math.round((expiresAtMs - nowMs) * 0.8)));
}
