/**
 * The limits that keep one host, one address or one crowd from taking a public Tribune for itself. Each is kept in
 * Redis (so it holds across every API node) and checked atomically where it is spent.
 */
export interface SpaceLimits {
	/** Live spaces in the cluster at once (`LIVE_SPACES_MAX`). Going live past it: 503 `capacity`. */
	liveSpacesMax: number;
	/** Live spaces of one owner identity at once (`LIVE_SPACES_PER_HOST`). Past it: 429 `limit_reached`. */
	liveSpacesPerHost: number;
	/** Spaces one identity creates a minute (`CREATES_PER_MIN_PER_IDENTITY`; operator subjects excepted). */
	createsPerMinPerIdentity: number;
	/** Spaces one client address creates a minute (`CREATES_PER_MIN_PER_ADDRESS`). */
	createsPerMinPerAddress: number;
	/**
	 * Joins that add a participant record, from one client address a minute, over all spaces
	 * (`JOINS_PER_MIN_PER_ADDRESS`) and in one space (`JOINS_PER_MIN_PER_ADDRESS_IN_SPACE`); a bucket that holds a
	 * minute's worth, so a venue's crowd behind one NAT arriving at once gets in. Rejoins of a record are not counted.
	 * Past it: 429 `rate_limited` with Retry-After.
	 */
	joinsPerMinPerAddress: number;
	joinsPerMinPerAddressInSpace: number;
	/**
	 * A participant record whose owner never opened a WebSocket goes this long after its join, s
	 * (`UNCONNECTED_PARTICIPANT_TTL_S`; a connected one lasts `PARTICIPANT_IDLE_TTL_S` after its last connection).
	 */
	unconnectedParticipantTtlS: number;
	/** Participant records in one space (`SPACE_MAX_PARTICIPANTS`). A new join past it: 503 `space_full`. */
	maxParticipants: number;
	/** Raised hands in one space at once (`SPACE_MAX_HANDS`). Past it: 409 `hand_queue_full`. */
	maxHands: number;
	/** A space never started expires this long after creation, s (`SPACE_UNSTARTED_TTL_S`). */
	unstartedTtlS: number;
}

export const defaultSpaceLimits: Readonly<SpaceLimits> = Object.freeze({
	liveSpacesMax: 50,
	liveSpacesPerHost: 2,
	createsPerMinPerIdentity: 10,
	createsPerMinPerAddress: 30,
	joinsPerMinPerAddress: 1200,
	joinsPerMinPerAddressInSpace: 600,
	unconnectedParticipantTtlS: 120,
	maxParticipants: 100_000,
	maxHands: 500,
	unstartedTtlS: 86_400,
});

/** Retry-After of a cluster at its live-space capacity, s: spaces end on their own time, not in seconds. */
export const capacityRetryAfterS = 60;

/** Retry-After of a space at its participant limit when nothing says how soon a record goes, s. */
export const spaceFullRetryAfterS = 30;
