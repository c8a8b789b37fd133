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

export type AddParticipantResult = 'added' | 'rejoined' | 'banned' | 'ended' | 'no_space';
export type RaiseHandResult = 'raised' | 'already_raised' | 'not_listener' | 'not_found';
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
	createSpace(space: Space, host: Participant): Promise<void>;
	getSpace(spaceId: SpaceId): Promise<Space | undefined>;
	/** Moves the space to `to` if it is in one of `from`; returns the space as it is afterwards, or undefined. */
	transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number): Promise<Space | undefined>;
	/** Sets the caption mode of a space that has not ended; returns the space afterwards, or undefined. */
	setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined>;

	/** Adds a listener, or finds them again (`rejoined`, same id). Refuses banned ids and ended spaces. */
	addParticipant(spaceId: SpaceId, participant: Participant): Promise<AddParticipantResult>;
	getParticipant(spaceId: SpaceId, participantId: ParticipantId): Promise<Participant | undefined>;
	/** Host, co-hosts and speakers, in the order they came on stage. */
	listStage(spaceId: SpaceId): Promise<Participant[]>;
	countParticipants(spaceId: SpaceId): Promise<number>;
	/** Removes the participant everywhere (hand, pins, stage), optionally banning the id from the space. */
	removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean): Promise<Participant | undefined>;
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

	raiseHand(spaceId: SpaceId, participantId: ParticipantId): Promise<RaiseHandResult>;
	/** True if the hand was raised. */
	lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;
	/** Raised hands, first raised first. */
	handQueue(spaceId: SpaceId): Promise<Participant[]>;

	pin(spaceId: SpaceId, participantId: ParticipantId): Promise<PinResult>;
	/** True if the participant was pinned. */
	unpin(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean>;
	/** Replaces the pin order; refused (false) unless `order` is a permutation of the pinned ids. */
	reorderPins(spaceId: SpaceId, order: readonly ParticipantId[]): Promise<boolean>;
	pinned(spaceId: SpaceId): Promise<ParticipantId[]>;
}
