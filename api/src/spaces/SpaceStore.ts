import type { RateLimit } from '../signaling/TokenBucket.js';
import type { CaptionMode, MuteState, Participant, ParticipantId, Role, Space, SpaceId, SpaceState } from './Space.js';

/** A role change with the conditions under which it may happen, checked atomically with the change. */
export interface RoleChange {
	participantId: ParticipantId;
	/** The change happens only if the participant has one of these roles now. */
	from: readonly Role[];
	to: Role;
	/** Only if the participant's hand is raised (approving a hand); the hand is lowered by the change. */
	requireHand?: boolean;
	/** Only if the stage (host, co-hosts, speakers) would then hold at most this many people. */
	maxStage?: number;
	/** Only if there would then be at most this many co-hosts. */
	maxCoHosts?: number;
}

export type RoleChangeResult =
	| { ok: true; participant: Participant; previousRole: Role }
	| { ok: false; reason: 'not_found' | 'wrong_role' | 'no_hand' | 'stage_full' | 'cohosts_full' };

/** `full`: the space holds as many participant records as it may (a rejoin is never `full`). */
export type AddParticipantResult = 'added' | 'rejoined' | 'banned' | 'ended' | 'no_space' | 'full';
/** `queue_full`: the space has as many raised hands as it may. */
export type RaiseHandResult = 'raised' | 'already_raised' | 'not_listener' | 'not_found' | 'queue_full';

/** What `startSpace` checks atomically with going live. */
export interface LiveLimits {
	/** Live spaces on this store (the cluster) at once. */
	maxLive: number;
	/** Live spaces of one owner identity at once. */
	maxLivePerOwner: number;
}

export type StartResult = { ok: true; space: Space } | { ok: false; reason: 'not_found' | 'wrong_state' | 'capacity' | 'limit_reached' };

/** One page of a listing; `nextCursor` is null on the last page. */
export interface Page<T> {
	items: T[];
	nextCursor: string | null;
}
export type PinResult = 'pinned' | 'already_pinned' | 'not_on_stage';

/** What verifying a participant token needs from the store, read in one round trip (`readAuth`). */
export interface AuthRecord {
	space: Space | undefined;
	participant: Participant | undefined;
	banned: boolean;
	/** The participant's token generation: 0 until their tokens are first revoked; a token must carry this one. */
	tokenGeneration: number;
}

/**
 * Where spaces live. Every method that checks and changes state does both atomically, so several API processes can
 * serve one space. Implementations: `RedisSpaceStore` (the app) and `MemorySpaceStore` (unit tests).
 *
 * Invariants every implementation keeps: a participant off stage has no pin and no mute; a participant on stage
 * has no raised hand; a removed participant appears nowhere.
 */
export interface SpaceStore {
	/**
	 * Creates a space with its host, indexed by creation time (`listSpaces`). Every key of the space expires
	 * `unstartedTtlS` after creation unless it goes live first; keys made for it later get the same expiry.
	 */
	createSpace(space: Space, host: Participant, options: { unstartedTtlS: number }): Promise<void>;
	getSpace(spaceId: SpaceId): Promise<Space | undefined>;
	/**
	 * Moves the space to `to` if it is in one of `from`; returns the space as it is afterwards, or undefined. Going
	 * live makes the space's keys permanent and counts it live; ending stops counting it and gives its keys the
	 * ended spaces' expiry. Live limits are `startSpace`'s.
	 */
	/**
	 * `unlessModeratorsConnected`: refused (undefined) while the space's connection tally counts a host or co-host
	 * connected on a live node, read in the same step (Redis; an idle end never races a host's return).
	 */
	transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number, options?: { unlessModeratorsConnected?: boolean }): Promise<Space | undefined>;
	/** `created` → `live`, refused when the cluster or the space's owner already has as many live spaces as `limits` allow. */
	startSpace(spaceId: SpaceId, atMs: number, limits: LiveLimits): Promise<StartResult>;
	/** Spaces, newest first, optionally only those in `state`; ids whose space expired are dropped from the index. */
	listSpaces(options: { state?: SpaceState; limit: number; cursor?: string }): Promise<Page<Space>>;
	/**
	 * Takes one token from the rate bucket named `bucket` (shared by every API node); 0 when taken, else the ms
	 * until one will be there.
	 */
	takeRate(bucket: string, limit: RateLimit): Promise<number>;
	/** Sets the caption mode of a space that has not ended; returns the space afterwards, or undefined. */
	setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined>;

	/**
	 * Adds a listener, or finds them again (`rejoined`, same id; their record takes the new `addr`). Refuses banned
	 * ids, ended spaces, and a new participant from a banned address or past `maxParticipants` records (an address
	 * ban never refuses someone already in the space, nor anyone on stage).
	 */
	addParticipant(spaceId: SpaceId, participant: Participant, limits?: { maxParticipants?: number }): Promise<AddParticipantResult>;
	getParticipant(spaceId: SpaceId, participantId: ParticipantId): Promise<Participant | undefined>;
	/** Host, co-hosts and speakers, in the order they came on stage. */
	listStage(spaceId: SpaceId): Promise<Participant[]>;
	countParticipants(spaceId: SpaceId): Promise<number>;
	/** A page of the participant records (a scan: a page may hold fewer or a few more than `limit`). */
	listParticipants(spaceId: SpaceId, options: { limit: number; cursor?: string }): Promise<Page<Participant>>;
	/**
	 * Removes the participant everywhere (hand, pins, stage), optionally banning the id from the space and, with
	 * `banAddress`, the address of their latest join (its `addr`).
	 */
	removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean, banAddress?: boolean): Promise<Participant | undefined>;
	/** Lifts the ban of the id and of any address banned with it; true if there was one. */
	unban(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;
	isBanned(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;
	/** The space, the participant, their ban and their token generation, read at once (one Redis round trip). */
	readAuth(spaceId: SpaceId, participantId: ParticipantId): Promise<AuthRecord>;
	/**
	 * Moves the participant's token generation on, revoking every token issued to them so far, and returns the new
	 * generation. Each participant's generation is a record of its own (no record shares room or lifetime with
	 * another's, so no number of rotations by others can refuse a host's revocation); it expires `keepS` after its
	 * last change (longer than any token of the participant can live: the maximum session age), never sooner than it
	 * would have before. With `ifGeneration`, only if the generation is that one now (undefined otherwise): a
	 * rotation asked with a token already revoked changes nothing.
	 */
	revokeTokens(spaceId: SpaceId, participantId: ParticipantId, keepS: number, ifGeneration?: number): Promise<number | undefined>;
	/** The current token generations of some participants of a space, in their order (0: never revoked). */
	tokenGenerations(spaceId: SpaceId, participantIds: readonly ParticipantId[]): Promise<number[]>;

	changeRole(spaceId: SpaceId, change: RoleChange): Promise<RoleChangeResult>;
	/** Sets the mute state if it is one of `from` and the participant is on stage. */
	setMute(spaceId: SpaceId, participantId: ParticipantId, from: readonly MuteState[], to: MuteState): Promise<Participant | undefined>;

	raiseHand(spaceId: SpaceId, participantId: ParticipantId, limits?: { maxHands?: number }): Promise<RaiseHandResult>;
	/** True if the hand was raised. */
	lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;

	pin(spaceId: SpaceId, participantId: ParticipantId): Promise<PinResult>;
	/** True if the participant was pinned. */
	unpin(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;
	/** Replaces the pin order; refused (false) unless `order` is a permutation of the pinned ids. */
	reorderPins(spaceId: SpaceId, order: readonly ParticipantId[]): Promise<boolean>;
	pinned(spaceId: SpaceId): Promise<ParticipantId[]>;

	// Hands at scale and presence (the lifecycle sweeps, api/src/lifecycle): nothing here reads the whole queue.
	/** Lowers a hand; whether it was raised, and the queue's length after. */
	lowerHandCounted(spaceId: SpaceId, participantId: ParticipantId): Promise<{ lowered: boolean; length: number }>;
	/** A participant's place in the hand queue (1 = next, null: not raised), the queue's length and their record. */
	handStatus(spaceId: SpaceId, participantId: ParticipantId): Promise<HandStatus>;
	/**
	 * Up to `limit` raised hands, first raised first, after the hand of `after` (from the start without it), with the
	 * queue's length and whether more follow; undefined when `after` has no raised hand (lowered meanwhile).
	 */
	handPage(spaceId: SpaceId, after: ParticipantId | undefined, limit: number): Promise<{ hands: Participant[]; length: number; more: boolean } | undefined>;
	/**
	 * Marks participants as connected now, or `agoMs` before now (`<space>:seen`, a score per participant: when they
	 * were last connected); a mark never moves back. Kept `keepS` after the last call, or with the space's keys while
	 * they expire (a space not live); nothing is marked in a space that does not exist.
	 */
	touchParticipants(spaceId: SpaceId, participantIds: readonly ParticipantId[], keepS: number, agoMs?: number): Promise<void>;
	/** How long ago the least recently connected participant with a mark was last connected, ms (undefined: none). */
	oldestPresenceAgeMs(spaceId: SpaceId): Promise<number | undefined>;
	/** Lowers at most `max` hands whose owner was last connected more than `awayMs` ago; their ids and the length after. */
	lowerAwayHands(spaceId: SpaceId, awayMs: number, max: number): Promise<{ lowered: ParticipantId[]; length: number }>;
	/**
	 * Removes at most `max` listeners last connected more than `idleMs` ago: their record, hand, token generation and
	 * presence (never anyone on stage, nor anyone seen since). Returns who went, whose hand went with them, and the
	 * hand queue's length after.
	 */
	expireIdleListeners(spaceId: SpaceId, idleMs: number, max: number): Promise<{ removed: ParticipantId[]; lowered: ParticipantId[]; length: number }>;
}

/** Where a participant stands in the hand queue. */
export interface HandStatus {
	/** 1 = next; null when their hand is not raised. */
	position: number | null;
	length: number;
	participant: Participant | undefined;
}
