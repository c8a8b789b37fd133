/** Words for the failures a person can meet, by the API's stable error codes (api/src/errors.ts). */
const messages: Record<string, string> = {
	space_ended: 'This space has ended.',
	banned: 'You were removed from this space by a host.',
	not_found: 'There is no space at this link. Check the link you were given.',
	stage_full: 'The stage is full right now. Try again when someone leaves.',
	rate_limited: 'Slow down a little and try again.',
	forbidden: 'You are not allowed to do that.',
	unauthorized: 'Your session has expired. Join again.',
	token_expired: 'Your session has expired. Join again.',
	session_expired: 'Your session reached its maximum length. Join again to carry on.',
	revoked: 'Your access to this space was revoked, or your token was replaced. Join again to carry on.',
	conflict: 'That changed meanwhile. Try again.',
	unavailable: 'The server is busy. Try again in a moment.',
	mic_denied: 'Microphone access was denied. Allow it in your browser\'s site settings to speak.',
	no_mic: 'No microphone was found.',
	closed: 'Connection lost — reconnecting…',
	timeout: 'The server did not answer in time.',
	name_taken: 'Someone on stage here already goes by that name. Choose another name.',
	hand_queue_full: 'Too many hands are raised in this space right now. Try again in a while.',
	limit_reached: 'You already have as many live spaces as this server allows. End one to go live with another.',
	capacity: 'This server is running as many live spaces as it can. Try again in a few minutes.',
	space_full: 'This space is full. Try again in a moment.',
	host_required: 'Creating a space on this server needs a host invite: ask this server\'s operator for a host invite link.',
	host_revoked: 'The operator of this server revoked this browser\'s host access: ask them for a new host invite link.',
	too_many_connections: 'Too many connections come from your network. Close other Tribune tabs, or try again later.',
	invite_invalid: 'This host invite link cannot be used: it has expired, was used as many times as it may be, or was revoked. Ask the operator for a new one.',
};

export function describeError(code: string, fallback = 'Something went wrong.'): string {
	return messages[code] ?? fallback;
}

/** Sentences that say to come back later get when, when the server said (`Retry-After`). */
const waitable = new Set(['rate_limited', 'capacity', 'space_full', 'limit_reached', 'unavailable', 'too_many_connections']);

/** A refusal in words, with the server's `Retry-After` (s) told as the wait when there is one. */
export function describeRefusal(code: string, retryAfterS: number | undefined, fallback?: string): string {
	if (retryAfterS === undefined || !waitable.has(code)) return describeError(code, fallback);
	const wait = formatWait(retryAfterS);
	if (code === 'rate_limited') return `Too many attempts. Try again in ${wait}.`;
	return `${describeError(code, fallback).replace(/ Try again[^.]*\.$/, '')} Try again in ${wait}.`;
}

/** 75 → "1 min 15 s"; never less than 1 s. */
export function formatWait(seconds: number): string {
	const s = Math.max(1, Math.round(seconds));
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
}

/**
 * Why the server closed a signaling WebSocket it refused to keep (api/src/signaling/SignalingServer.ts `closeCodes`):
 * 4429 too many connections from this address (across nodes), 4503 full (its reason `retry-after=N`). Undefined for
 * other codes.
 */
export function describeCloseCode(code: number, retryAfterS?: number): string | undefined {
	if (code === 4429) return describeRefusal('too_many_connections', retryAfterS);
	if (code === 4503) return describeFull(retryAfterS ?? 10);
	return undefined;
}

/** A full server turned us away and said when to come back. */
export function describeFull(retryInS: number): string {
	return `This space is full here, retrying in ${Math.max(1, Math.round(retryInS))} s.`;
}

/** getUserMedia failures → an error code above. */
export function mediaErrorCode(error: unknown): string {
	const name = (error as { name?: string } | null)?.name;
	if (name === 'NotAllowedError' || name === 'SecurityError') return 'mic_denied';
	if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'no_mic';
	return 'internal';
}
