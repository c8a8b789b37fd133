import { TypedEmitter } from '@tribune/ingest';
import { TokenRefusedError, type TokenClaims, type TokenIssuer } from '../auth/TokenIssuer.js';
import { TribuneError } from '../errors.js';
import { hasGrant, type Grant } from './roles/grantsForRole.js';
import {
	defaultSpaceSettings,
	type CaptionMode,
	isOnStage,
	maxCoHosts,
	newParticipantId,
	newSpaceId,
	roleRank,
	stageRoles,
	type MuteState,
	type Participant,
	type ParticipantId,
	type Role,
	type Space,
	type SpaceId,
	type SpaceSettings,
} from './Space.js';
import type { AuthRecord, RoleChange, SpaceStore } from './SpaceStore.js';

/** Who is asking: the participant a verified token names. Their role is read afresh from the store every time. */
export interface Actor {
	spaceId: SpaceId;
	participantId: ParticipantId;
}

export type SpaceServiceEvents = {
	spaceState: [e: { space: Space }];
	/** A live or scheduled space's settings changed (its caption mode). */
	settingsChanged: [e: { space: Space }];
	/** The node holding the participant's connection sends them a new token (`tokenRenewed`) for the role. */
	roleChanged: [e: { spaceId: SpaceId; participant: Participant; previousRole: Role }];
	handQueueChanged: [e: { spaceId: SpaceId; queue: Participant[]; raised?: ParticipantId; lowered?: ParticipantId }];
	muteChanged: [e: { spaceId: SpaceId; participant: Participant }];
	pinnedChanged: [e: { spaceId: SpaceId; pinned: ParticipantId[] }];
	participantRemoved: [e: { spaceId: SpaceId; participant: Participant; banned: boolean }];
	/**
	 * Every token of the participant older than `generation` stopped working: their connections holding one close.
	 * `rotated`: they asked for a new token themselves; the connection that asked (`keepTokenId`) stays open.
	 */
	tokensRevoked: [e: { spaceId: SpaceId; participantId: ParticipantId; generation: number; reason: 'revoked' | 'rotated'; keepTokenId?: string }];
	reaction: [e: { spaceId: SpaceId; participantId: ParticipantId; reaction: string }];
};

export interface CreateSpaceInput {
	title: string;
	description: string;
	hostName: string;
	settings: Partial<SpaceSettings>;
}

/** A verified token's participant, as the store has them now. */
export interface Authenticated {
	actor: Actor;
	participant: Participant;
	space: Space;
	claims: TokenClaims;
}

/** The part of a token a renewal carries on: which generation of the participant's tokens, and the session's start. */
export type TokenSession = Pick<TokenClaims, 'generation' | 'sessionStartedAt'>;

/** A token just issued, with its claims. */
export interface IssuedToken {
	token: string;
	claims: TokenClaims;
}

/** Revocation records stay this much longer than needed, s (clocks of nodes and Redis may differ). */
const revocationMarginS = 3600;

/** What a moderator or a participant sees of the stage when they connect. */
export interface StageView {
	space: Space;
	you: Participant;
	stage: Participant[];
	pinned: ParticipantId[];
	/** Raised hands, FIFO; only for those who may manage the stage, else empty. */
	handQueue: Participant[];
	handRaised: boolean;
}

/**
 * The rules of a space. Every method reads the actor's current role, checks the grant it needs (deny by default)
 * and the rank rule (you act only on people below you), then asks the store for one atomic change and announces
 * it as an event. Nothing here knows about WebSockets or mediasoup.
 */
export class SpaceService extends TypedEmitter<SpaceServiceEvents> {
	readonly #store: SpaceStore;
	readonly #tokens: TokenIssuer;
	readonly #now: () => number;
	readonly #maxSpeakersLimit: number;
	readonly #admitJoin: ((role: Role) => void) | undefined;

	/**
	 * `maxSpeakersLimit`: the largest stage a host may configure. `admitJoin`: this node's admission control, asked
	 * before a join with the role the visitor will likely have; it throws to refuse (the node is full).
	 */
	constructor(options: { store: SpaceStore; tokens: TokenIssuer; maxSpeakersLimit: number; now?: () => number; admitJoin?: (role: Role) => void }) {
		super();
		this.#admitJoin = options.admitJoin;
		this.#store = options.store;
		this.#tokens = options.tokens;
		this.#maxSpeakersLimit = options.maxSpeakersLimit;
		this.#now = options.now ?? Date.now;
	}

	get tokens(): TokenIssuer {
		return this.#tokens;
	}

	async createSpace(input: CreateSpaceInput): Promise<{ space: Space; host: Participant; token: string }> {
		const settings: SpaceSettings = { ...defaultSpaceSettings, maxSpeakers: Math.min(defaultSpaceSettings.maxSpeakers, this.#maxSpeakersLimit), ...input.settings };
		if (settings.maxSpeakers < 1 || settings.maxSpeakers > this.#maxSpeakersLimit) {
			throw new TribuneError('bad_request', `maxSpeakers must be 1-${this.#maxSpeakersLimit}`);
		}
		const host: Participant = { id: newParticipantId(), displayName: input.hostName, role: 'host', mute: 'none', joinedAt: this.#now() };
		const space: Space = {
			id: newSpaceId(),
			title: input.title,
			description: input.description,
			state: 'created',
			hostId: host.id,
			settings,
			createdAt: this.#now(),
			startedAt: null,
			endedAt: null,
		};
		await this.#store.createSpace(space, host);
		const { token } = await this.#tokens.issue({ spaceId: space.id, participantId: host.id, role: 'host', generation: 0 });
		return { space, host, token };
	}

	async getSpace(spaceId: SpaceId): Promise<Space> {
		const space = await this.#store.getSpace(spaceId);
		if (!space) throw new TribuneError('not_found', 'no such space');
		return space;
	}

	/**
	 * Joins as a listener from the share link. A still-valid token for this space (a reconnect) finds the same
	 * participant again, with their current role, and renews it within the session; a banned one is refused. A
	 * previous token that was revoked, or whose session reached its maximum age, is refused (`unauthorized`): the
	 * client joins again without it. Any other unusable token (expired, another space's) is ignored: a new visit.
	 */
	async join(spaceId: SpaceId, displayName: string, previousToken?: string): Promise<{ participant: Participant; token: string }> {
		let id = newParticipantId();
		let role: Role = 'listener';
		let session: { generation: number; sessionStartedAt?: number } = { generation: 0 };
		if (previousToken !== undefined) {
			const claims = await this.#tokens.verify(previousToken).catch((error: unknown) => {
				if (error instanceof TokenRefusedError && error.reason === 'session_expired') throw error;
				return undefined;
			});
			if (claims?.spaceId === spaceId) {
				id = claims.participantId;
				const record = await this.#store.readAuth(spaceId, id);
				if (record.tokenGeneration !== claims.generation) throw new TribuneError('unauthorized', 'token revoked; join again');
				session = { generation: claims.generation, sessionStartedAt: claims.sessionStartedAt };
				// The role a token names may be stale (a speaker since sent back to the audience): only the store's
				// current role may skip the node's audience cap.
				role = record.participant?.role ?? 'listener';
			}
		}
		// Before adding anyone: a full node should not cost Redis a write. Those on stage now always get in.
		this.#admitJoin?.(role);
		const result = await this.#store.addParticipant(spaceId, { id, displayName, role: 'listener', mute: 'none', joinedAt: this.#now() });
		if (result === 'no_space') throw new TribuneError('not_found', 'no such space');
		if (result === 'ended') throw new TribuneError('space_ended', 'this space has ended');
		if (result === 'banned') throw new TribuneError('banned', 'you were removed from this space');
		const participant = await this.#store.getParticipant(spaceId, id);
		if (!participant) throw new TribuneError('conflict', 'removed while joining');
		const { token } = await this.#tokens.issue({ spaceId, participantId: id, role: participant.role, ...session });
		return { participant, token };
	}

	/**
	 * Verifies a token (signature, expiry, session age) and checks it against the store in one read: not banned, not
	 * revoked (the participant's current token generation), a participant of a space that has not ended.
	 */
	async authenticate(token: string): Promise<Authenticated> {
		const { claims, record } = await this.verifyToken(token);
		const actor = { spaceId: claims.spaceId, participantId: claims.participantId };
		const space = record.space;
		if (!space) throw new TribuneError('not_found', 'no such space');
		if (space.state === 'ended') throw new TribuneError('space_ended', 'this space has ended');
		const participant = record.participant;
		if (!participant) throw new TribuneError('unauthorized', 'not a participant of this space');
		return { actor, participant, space, claims };
	}

	/**
	 * Verifies a token and that it is neither revoked nor its participant banned, in one store read; the space may
	 * have ended (`authenticate` refuses that too).
	 */
	async verifyToken(token: string): Promise<{ claims: TokenClaims; record: AuthRecord }> {
		const claims = await this.#tokens.verify(token);
		const record = await this.#store.readAuth(claims.spaceId, claims.participantId);
		if (record.banned) throw new TribuneError('banned', 'you were removed from this space');
		if (record.tokenGeneration !== claims.generation) throw new TokenRefusedError('revoked', 'token revoked');
		return { claims, record };
	}

	/** The actor's current participant record, checked for `grant`. */
	async require(actor: Actor, grant: Grant): Promise<Participant> {
		const me = await this.#store.getParticipant(actor.spaceId, actor.participantId);
		if (!me) throw new TribuneError('unauthorized', 'not a participant of this space');
		if (!hasGrant(me.role, grant)) throw new TribuneError('forbidden', `a ${me.role} may not do this (${grant})`);
		return me;
	}

	async view(actor: Actor): Promise<StageView> {
		const me = await this.require(actor, 'listen');
		const [space, stage, pinned] = await Promise.all([this.getSpace(actor.spaceId), this.#store.listStage(actor.spaceId), this.#store.pinned(actor.spaceId)]);
		const queue = await this.#store.handQueue(actor.spaceId);
		return {
			space,
			you: me,
			stage,
			pinned,
			handQueue: hasGrant(me.role, 'manage_stage') ? queue : [],
			handRaised: queue.some((p) => p.id === me.id),
		};
	}

	/**
	 * A fresh token for the actor's current role in the same session (tokens expire; a long session renews before
	 * they do). Refused once the session reached its maximum age (the client must join again), and when the
	 * session's token generation is no longer the participant's (`revoked`).
	 */
	async renewToken(actor: Actor, session: TokenSession): Promise<IssuedToken> {
		// Checked against the store, not only the revocation events: a connection that missed one (pub/sub drops
		// messages while a subscriber reconnects) must not renew a revoked token on and on.
		const record = await this.#store.readAuth(actor.spaceId, actor.participantId);
		if (record.banned) throw new TribuneError('banned', 'you were removed from this space');
		if (record.tokenGeneration !== session.generation) throw new TokenRefusedError('revoked', 'token revoked');
		const me = record.participant;
		if (!me) throw new TribuneError('unauthorized', 'not a participant of this space');
		if (!hasGrant(me.role, 'listen')) throw new TribuneError('forbidden', `a ${me.role} may not do this (listen)`);
		return this.#tokens.issue({ spaceId: actor.spaceId, participantId: me.id, role: me.role, generation: session.generation, sessionStartedAt: session.sessionStartedAt });
	}

	/**
	 * Rotates the actor's own token: every token issued to them so far stops working (their connections holding one
	 * close, except the one named by `keepTokenId`, which asked), and a new one in the same session is returned.
	 */
	async rotateToken(actor: Actor, session: TokenSession, keepTokenId?: string): Promise<IssuedToken> {
		const me = await this.require(actor, 'rotate_token');
		// Checked before anything is revoked: a session past its age must not lose its tokens for nothing.
		if (this.#now() / 1000 >= session.sessionStartedAt + this.#tokens.lifetimes.maxSessionS) throw new TokenRefusedError('session_expired', 'session expired; join again');
		// Only from the session's own generation: a connection holding a token revoked meanwhile takes nothing over.
		const generation = await this.#store.revokeTokens(actor.spaceId, me.id, this.#revocationKeepS(), session.generation);
		if (generation === undefined) throw new TokenRefusedError('revoked', 'token revoked');
		this.safeEmit('tokensRevoked', { spaceId: actor.spaceId, participantId: me.id, generation, reason: 'rotated', ...(keepTokenId !== undefined && { keepTokenId }) });
		return this.#tokens.issue({ spaceId: actor.spaceId, participantId: me.id, role: me.role, generation, sessionStartedAt: session.sessionStartedAt });
	}

	/**
	 * Revokes every token of someone of lower rank (a leaked token, a lost device) and removes them from the space,
	 * unbanned: their connections close on every node, and they may come back from the share link as someone new.
	 */
	async revokeTokens(actor: Actor, target: ParticipantId): Promise<void> {
		const me = await this.require(actor, 'revoke_tokens');
		await this.#requireOutranks(actor.spaceId, me, target);
		// Never refused for room: each participant's generation is a record of its own.
		const generation = (await this.#store.revokeTokens(actor.spaceId, target, this.#revocationKeepS()))!;
		this.safeEmit('tokensRevoked', { spaceId: actor.spaceId, participantId: target, generation, reason: 'revoked' });
		await this.#removeFromSpace(actor.spaceId, target, false).catch((error: unknown) => {
			// Their tokens are dead whatever happens here; someone who left meanwhile has nothing to remove.
			if (!(error instanceof TribuneError && error.code === 'not_found')) throw error;
		});
	}

	/** How long a generation is kept after its last change, s: past the end of any session it could cut short. */
	#revocationKeepS(): number {
		return this.#tokens.revocationKeepS + revocationMarginS;
	}

	/** The current token generations of some participants of a space (a sweep of open connections). */
	async tokenGenerations(spaceId: SpaceId, participantIds: readonly ParticipantId[]): Promise<number[]> {
		return this.#store.tokenGenerations(spaceId, participantIds);
	}

	async start(actor: Actor): Promise<Space> {
		await this.require(actor, 'start_space');
		const space = await this.#store.transitionState(actor.spaceId, ['created'], 'live', this.#now());
		if (!space) throw new TribuneError('conflict', 'only a scheduled space can go live');
		this.safeEmit('spaceState', { space });
		return space;
	}

	async end(actor: Actor): Promise<Space> {
		await this.require(actor, 'end_space');
		const space = await this.#store.transitionState(actor.spaceId, ['created', 'live'], 'ended', this.#now());
		if (!space) throw new TribuneError('space_ended', 'this space has already ended');
		this.safeEmit('spaceState', { space });
		return space;
	}

	/** A host or co-host changes how captions are shown; the broadcast follows through the stage snapshot. */
	async setCaptionMode(actor: Actor, mode: CaptionMode): Promise<Space> {
		await this.require(actor, 'manage_captions');
		const before = await this.#requireNotEnded(actor.spaceId);
		if (before.settings.captionMode === mode) return before;
		const space = await this.#store.setCaptionMode(actor.spaceId, mode);
		if (!space) throw new TribuneError('space_ended', 'this space has ended');
		this.safeEmit('settingsChanged', { space });
		return space;
	}

	async raiseHand(actor: Actor): Promise<void> {
		await this.require(actor, 'raise_hand');
		await this.#requireNotEnded(actor.spaceId);
		const result = await this.#store.raiseHand(actor.spaceId, actor.participantId);
		if (result === 'not_listener') throw new TribuneError('forbidden', 'only listeners raise hands');
		if (result === 'not_found') throw new TribuneError('unauthorized', 'not a participant of this space');
		if (result === 'raised') await this.#announceQueue(actor.spaceId, { raised: actor.participantId });
	}

	async lowerHand(actor: Actor): Promise<void> {
		await this.require(actor, 'raise_hand');
		if (await this.#store.lowerHand(actor.spaceId, actor.participantId)) await this.#announceQueue(actor.spaceId, { lowered: actor.participantId });
	}

	/** A host or co-host brings a listener with a raised hand on stage as a speaker, if there is a seat. */
	async approveHand(actor: Actor, target: ParticipantId): Promise<Participant> {
		await this.require(actor, 'manage_stage');
		const space = await this.#requireNotEnded(actor.spaceId);
		const p = await this.#changeRole(actor.spaceId, { participantId: target, from: ['listener'], to: 'speaker', requireHand: true, maxStage: space.settings.maxSpeakers });
		await this.#announceQueue(actor.spaceId, { lowered: target });
		return p;
	}

	async denyHand(actor: Actor, target: ParticipantId): Promise<void> {
		await this.require(actor, 'manage_stage');
		if (!(await this.#store.lowerHand(actor.spaceId, target))) throw new TribuneError('conflict', 'that hand is not raised');
		await this.#announceQueue(actor.spaceId, { lowered: target });
	}

	async leaveStage(actor: Actor): Promise<Participant> {
		await this.require(actor, 'leave_stage');
		return this.#changeRole(actor.spaceId, { participantId: actor.participantId, from: ['speaker', 'cohost'], to: 'listener' });
	}

	/** Sends someone of lower rank back to the audience. */
	async demote(actor: Actor, target: ParticipantId): Promise<Participant> {
		const me = await this.require(actor, 'manage_stage');
		await this.#requireOutranks(actor.spaceId, me, target);
		const below = stageRoles.filter((r) => roleRank(r) < roleRank(me.role));
		return this.#changeRole(actor.spaceId, { participantId: target, from: below, to: 'listener' });
	}

	/** The host makes a speaker a co-host (at most two), or a co-host a speaker again. */
	async setCoHost(actor: Actor, target: ParticipantId, cohost: boolean): Promise<Participant> {
		await this.require(actor, 'manage_cohosts');
		return cohost
			? this.#changeRole(actor.spaceId, { participantId: target, from: ['speaker'], to: 'cohost', maxCoHosts })
			: this.#changeRole(actor.spaceId, { participantId: target, from: ['cohost'], to: 'speaker' });
	}

	/**
	 * Mutes at the server. Muting yourself can be undone by you; a host or co-host muting someone below them can only
	 * be undone by a host or co-host.
	 */
	async mute(actor: Actor, target: ParticipantId): Promise<Participant> {
		if (target === actor.participantId) {
			await this.require(actor, 'mute_self');
			return this.#setMute(actor.spaceId, target, ['none'], 'self');
		}
		const me = await this.require(actor, 'manage_stage');
		await this.#requireOutranks(actor.spaceId, me, target);
		return this.#setMute(actor.spaceId, target, ['none', 'self'], 'moderator');
	}

	async unmute(actor: Actor, target: ParticipantId): Promise<Participant> {
		if (target === actor.participantId) {
			const me = await this.require(actor, 'mute_self');
			if (me.mute === 'moderator') throw new TribuneError('forbidden', 'a host muted you; only a host or co-host can unmute you');
			return this.#setMute(actor.spaceId, target, ['self'], 'none');
		}
		const me = await this.require(actor, 'manage_stage');
		await this.#requireOutranks(actor.spaceId, me, target);
		// A moderator lifts their own kind of mute only: turning on someone's microphone against their will is not theirs.
		return this.#setMute(actor.spaceId, target, ['moderator'], 'none');
	}

	async remove(actor: Actor, target: ParticipantId, ban: boolean): Promise<void> {
		const me = await this.require(actor, 'remove_participant');
		await this.#requireOutranks(actor.spaceId, me, target);
		await this.#removeFromSpace(actor.spaceId, target, ban);
	}

	async #removeFromSpace(spaceId: SpaceId, target: ParticipantId, ban: boolean): Promise<void> {
		const wasPinned = (await this.#store.pinned(spaceId)).includes(target);
		const hadHand = (await this.#store.handQueue(spaceId)).some((p) => p.id === target);
		const removed = await this.#store.removeParticipant(spaceId, target, ban);
		if (!removed) throw new TribuneError('not_found', 'no such participant');
		this.safeEmit('participantRemoved', { spaceId, participant: removed, banned: ban });
		if (wasPinned) this.safeEmit('pinnedChanged', { spaceId, pinned: await this.#store.pinned(spaceId) });
		if (hadHand) await this.#announceQueue(spaceId, { lowered: target });
	}

	async pin(actor: Actor, target: ParticipantId): Promise<ParticipantId[]> {
		await this.require(actor, 'manage_stage');
		const result = await this.#store.pin(actor.spaceId, target);
		if (result === 'not_on_stage') throw new TribuneError('conflict', 'only people on stage can be pinned');
		return result === 'pinned' ? this.#announcePins(actor.spaceId) : this.#store.pinned(actor.spaceId);
	}

	async unpin(actor: Actor, target: ParticipantId): Promise<ParticipantId[]> {
		await this.require(actor, 'manage_stage');
		if (!(await this.#store.unpin(actor.spaceId, target))) throw new TribuneError('conflict', 'not pinned');
		return this.#announcePins(actor.spaceId);
	}

	async reorderPins(actor: Actor, order: readonly ParticipantId[]): Promise<ParticipantId[]> {
		await this.require(actor, 'manage_stage');
		if (!(await this.#store.reorderPins(actor.spaceId, order))) throw new TribuneError('conflict', 'the new order must list exactly the pinned speakers');
		return this.#announcePins(actor.spaceId);
	}

	/**
	 * Puts a speaker without a browser on stage (a synthetic speaker for demos and tests), as a host or co-host
	 * approving a hand would, seat limit included.
	 */
	async addSyntheticSpeaker(actor: Actor, displayName: string): Promise<Participant> {
		await this.require(actor, 'manage_stage');
		const space = await this.#requireNotEnded(actor.spaceId);
		const id = newParticipantId();
		const added = await this.#store.addParticipant(actor.spaceId, { id, displayName, role: 'listener', mute: 'none', joinedAt: this.#now() });
		if (added !== 'added') throw new TribuneError('conflict', 'could not add the speaker');
		try {
			return await this.#changeRole(actor.spaceId, { participantId: id, from: ['listener'], to: 'speaker', maxStage: space.settings.maxSpeakers });
		} catch (error) {
			await this.#store.removeParticipant(actor.spaceId, id, false);
			throw error;
		}
	}

	async react(actor: Actor, reaction: string): Promise<void> {
		await this.require(actor, 'react');
		this.safeEmit('reaction', { spaceId: actor.spaceId, participantId: actor.participantId, reaction });
	}

	async #requireNotEnded(spaceId: SpaceId): Promise<Space> {
		const space = await this.getSpace(spaceId);
		if (space.state === 'ended') throw new TribuneError('space_ended', 'this space has ended');
		return space;
	}

	async #requireOutranks(spaceId: SpaceId, me: Participant, target: ParticipantId): Promise<Participant> {
		if (target === me.id) throw new TribuneError('forbidden', 'not on yourself');
		const other = await this.#store.getParticipant(spaceId, target);
		if (!other) throw new TribuneError('not_found', 'no such participant');
		if (roleRank(other.role) >= roleRank(me.role)) throw new TribuneError('forbidden', `a ${me.role} may not act on a ${other.role}`);
		return other;
	}

	async #changeRole(spaceId: SpaceId, change: RoleChange): Promise<Participant> {
		const result = await this.#store.changeRole(spaceId, change);
		if (!result.ok) {
			switch (result.reason) {
				case 'not_found':
					throw new TribuneError('not_found', 'no such participant');
				case 'wrong_role':
					throw new TribuneError('conflict', `cannot make them a ${change.to} from their current role`);
				case 'no_hand':
					throw new TribuneError('conflict', 'their hand is not raised');
				case 'stage_full':
					throw new TribuneError('stage_full', 'the stage is full');
				case 'cohosts_full':
					throw new TribuneError('stage_full', `a space has at most ${maxCoHosts} co-hosts`);
			}
		}
		const { participant, previousRole } = result;
		this.safeEmit('roleChanged', { spaceId, participant, previousRole });
		// Leaving the stage unpins (atomically, in the store); say so.
		if (isOnStage(previousRole) && !isOnStage(participant.role)) await this.#announcePins(spaceId);
		return participant;
	}

	async #setMute(spaceId: SpaceId, target: ParticipantId, from: MuteState[], to: MuteState): Promise<Participant> {
		const p = await this.#store.setMute(spaceId, target, from, to);
		if (!p) throw new TribuneError('conflict', to === 'none' ? 'not muted that way' : 'not on stage, or already muted');
		this.safeEmit('muteChanged', { spaceId, participant: p });
		return p;
	}

	async #announceQueue(spaceId: SpaceId, change: { raised?: ParticipantId; lowered?: ParticipantId }): Promise<void> {
		this.safeEmit('handQueueChanged', { spaceId, queue: await this.#store.handQueue(spaceId), ...change });
	}

	async #announcePins(spaceId: SpaceId): Promise<ParticipantId[]> {
		const pinned = await this.#store.pinned(spaceId);
		this.safeEmit('pinnedChanged', { spaceId, pinned });
		return pinned;
	}
}
