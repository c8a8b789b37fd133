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
};

export function describeError(code: string, fallback = 'Something went wrong.'): string {
	return messages[code] ?? fallback;
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
