import { RetryLaterError, TribuneError } from '../errors.js';
import type { Role } from '../spaces/Space.js';
import { TokenBucket } from './TokenBucket.js';

/** What one API node takes on before it answers "full" (`NODE_MAX_AUDIENCE`, `NODE_MAX_JOINS_PER_S`, …). */
export interface AdmissionLimits {
	/** Listener WebSockets on this node, over all spaces. Default 10 000 (what bench:fanout measures). */
	maxAudience: number;
	/** REST joins per second on this node (bursts of as many); protects Redis from a stampede. Default 2000. */
	maxJoinsPerS: number;
	/** What a refused client is told to wait before retrying, in s. Default 10. */
	retryAfterS: number;
	/**
	 * Listener WebSockets in one space over every node (`SPACE_MAX_AUDIENCE`). Default 50 000. On each node one space
	 * fills at most 80 % of `maxAudience` beyond its share (`admitConnection`).
	 */
	maxSpaceAudience: number;
	/** Signaling WebSockets of one client address (IPv6: a /64) over every node (`ADDRESS_MAX_CONNECTIONS`). Default 500. */
	maxAddressConnections: number;
}

export const defaultAdmissionLimits: Readonly<AdmissionLimits> = Object.freeze({ maxAudience: 10_000, maxJoinsPerS: 2000, retryAfterS: 10, maxSpaceAudience: 50_000, maxAddressConnections: 500 });

/** The part of a node's audience any one space may fill; the rest goes to spaces holding less than their share. */
const sharedFrom = 0.8;

/** This node is full: HTTP 503 with `Retry-After`, or WebSocket close `closeCodes.full` with "retry-after=N". */
export class NodeFullError extends TribuneError {
	readonly retryAfterS: number;

	constructor(retryAfterS: number) {
		super('unavailable', 'this space is full on this server; retry later');
		this.retryAfterS = retryAfterS;
	}
}

/**
 * Admission control for one node: beyond its capacity a node refuses new audience members (who retry later, or
 * elsewhere behind a load balancer) instead of slowing down everyone it already serves. Those on stage are always
 * let in: the host must never be locked out of their own space.
 */
export class Admission {
	readonly limits: Readonly<AdmissionLimits>;
	readonly #audience: () => number;
	readonly #joins: TokenBucket;

	/** `audience`: listener connections on this node now. */
	constructor(limits: Partial<AdmissionLimits>, audience: () => number, now?: () => number) {
		this.limits = Object.freeze({ ...defaultAdmissionLimits, ...limits });
		this.#audience = audience;
		this.#joins = new TokenBucket({ burst: this.limits.maxJoinsPerS, perSecond: this.limits.maxJoinsPerS }, now);
	}

	/**
	 * A REST join by someone who would be in the `role` (a new visitor: listener), to a space with `spaceListeners`
	 * listeners over every node when known. Throws NodeFullError, or a `space_full` RetryLaterError.
	 */
	admitJoin(role: Role, spaceListeners?: number): void {
		if (role !== 'listener') return;
		if (spaceListeners !== undefined && spaceListeners >= this.limits.maxSpaceAudience) {
			throw new RetryLaterError('space_full', 'this space has as many listeners as it can take; try again later', this.limits.retryAfterS);
		}
		if (this.#audience() >= this.limits.maxAudience || !this.#joins.take()) throw new NodeFullError(this.limits.retryAfterS);
	}

	/**
	 * A new WebSocket of someone in `role`, in a space holding `here.spaceListeners` of this node's listeners, while
	 * `here.spaces` spaces hold any; false if this node has no room for them. Past `sharedFrom` of the node, a space
	 * holding at least its share (the node over those spaces and one more) is refused: the rest of the node stays for
	 * other spaces, however many idle sockets one space's crowd opens.
	 */
	admitConnection(role: Role, here: { spaceListeners: number; spaces: number } = { spaceListeners: 0, spaces: 0 }): boolean {
		if (role !== 'listener') return true;
		const audience = this.#audience();
		if (audience >= this.limits.maxAudience) return false;
		return audience < this.limits.maxAudience * sharedFrom || here.spaceListeners < this.limits.maxAudience / (here.spaces + 1);
	}

	/** A new WebSocket of someone in `role` in a space with `spaceListeners` listeners (all nodes); false: it is full. */
	admitSpaceConnection(role: Role, spaceListeners: number): boolean {
		return role !== 'listener' || spaceListeners < this.limits.maxSpaceAudience;
	}
}
