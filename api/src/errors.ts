/**
 * Tribune's error catalogue: one stable code per failure a client can see, and its HTTP status. WebSocket error
 * replies carry the same codes.
 */
export const errorCatalogue = {
	bad_request: 400,
	unauthorized: 401,
	/** Creating a space needs a host credential (an invite from the operator) unless hosting is open. */
	host_required: 401,
	forbidden: 403,
	/** Banned from this space. */
	banned: 403,
	not_found: 404,
	method_not_allowed: 405,
	payload_too_large: 413,
	/** A Range request beyond the end of a file (the reply's Content-Range gives its size). */
	range_not_satisfiable: 416,
	/** The space has no room for this: the stage or the co-host seats are full. */
	stage_full: 409,
	/** The request conflicts with the current state (no raised hand to approve, already pinned, …). */
	conflict: 409,
	/** Someone on stage in this space goes by that display name already. */
	name_taken: 409,
	/** The space's queue of raised hands is as long as it may be (`SPACE_MAX_HANDS`). */
	hand_queue_full: 409,
	/** The space has ended. */
	space_ended: 410,
	/** A WebSocket message whose name is not in the protocol. */
	unknown_message: 400,
	rate_limited: 429,
	/** A standing limit of this identity is reached (live spaces per host, `LIVE_SPACES_PER_HOST`). */
	limit_reached: 429,
	/** One client address holds as many connections as the node lets one address hold (`HTTP_MAX_CONNECTIONS_PER_ADDRESS`). */
	too_many_connections: 429,
	internal: 500,
	unavailable: 503,
	/** The cluster runs as many live spaces as it may (`LIVE_SPACES_MAX`); try again later. */
	capacity: 503,
	/** The space holds as many participants, or audience connections, as it may; try again later. */
	space_full: 503,
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class TribuneError extends Error {
	override readonly name = 'TribuneError';
	readonly code: ErrorCode;

	constructor(code: ErrorCode, message: string) {
		super(message);
		this.code = code;
	}

	get status(): number {
		return errorCatalogue[this.code];
	}
}

/** A refusal that waiting helps: HTTP replies carry `Retry-After: retryAfterS`. */
export class RetryLaterError extends TribuneError {
	readonly retryAfterS: number;

	constructor(code: ErrorCode, message: string, retryAfterS: number) {
		super(code, message);
		this.retryAfterS = Math.max(1, Math.ceil(retryAfterS));
	}
}

/** The JSON body of every error response: `{ "error": { "code": "not_found", "message": "…" } }`. */
export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
	return { error: { code, message } };
}
