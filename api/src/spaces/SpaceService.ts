import { TypedEmitter } from '@tribune/ingest';
import type { IdentityCredentials } from '../auth/IdentityCredentials.js';
import { TokenRefusedError, type TokenClaims, type TokenIssuer } from '../auth/TokenIssuer.js';
import { RetryLaterError, TribuneError } from '../errors.js';
import { ClientIdentities, type VerifyHostCredential } from './ClientIdentities.js';
import { capacityRetryAfterS, defaultSpaceLimits, spaceFullRetryAfterS, type SpaceLimits } from './SpaceLimits.js';
import { defaultLifecycleLimits } from '../lifecycle/SpaceLifecycle.js';
import { handPageSize } from '../signaling/protocol.js';
import { hasGrant, type Grant } from './roles/grantsForRole.js';
import {
	defaultSpaceSettings,
	displayNameKey,
	type CaptionMode,
	isIdentity,
	isOnStage,
	maxCoHosts,
	newAnonymousIdentity,
	newSpaceId,
	newSyntheticIdentity,
	participantIdFor,
	roleRank,
	stageRoles,
	type MuteState,
	type Participant,
	type ParticipantId,
	type Role,
	type Space,
	type SpaceId,
	type SpaceSettings,
	type SpaceState,
} from './Space.js';
import type { AuthRecord, Page, RoleChange, SpaceStore } from './SpaceStore.js';
import { MemoryVocabularyStore, type VocabularyStore } from './spaceVocabulary.js';

/** Changes of a space's caption word list a minute (each one reloads every speaker's recogniser). */
export const vocabularyChangesPerMin = 10;

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
	/**
	 * One change of the hand queue, never the queue: a hand raised (at `position`, the end) or lowered, and the
	 * queue's length after it.
	 */
	handQueueChanged: [e: { spaceId: SpaceId; raised: Participant | null; lowered: ParticipantId | null; length: number; position?: number }];
	/** The space will end on its own at `endsAt` (epoch ms) unless what `reason` says changes (`idle`: a host returns). */
	spaceEnding: [e: { spaceId: SpaceId; reason: 'idle' | 'max_duration'; endsAt: number }];
	/** The end announced by `spaceEnding` is off. */
	spaceEndingCancelled: [e: { spaceId: SpaceId }];
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
	/** The creator's identity, who hosts the space (`creatorFor`, or `op:<sub>` from the server API). */
	owner: string;
	/** The client's address, for the per-address creation rate and the host's record (absent: server API). */
	address?: string;
	/** The host's words for the caption recognisers (`vocabularyListSchema`, validated by the caller). */
	vocabulary?: string[];
}

/** A join from the share link. */
export interface JoinRequest {
	displayName: string;
	/** A token from an earlier visit: rejoin as the same participant, in the same session. */
	token?: string;
	/** An anonymous identity credential or a host credential: join as that identity. */
	identity?: string;
	/** The client's address (kept only as `clientAddressTag`, for address bans). */
	address?: string;
}

export type { VerifyHostCredential } from './ClientIdentities.js';

export interface SpaceServiceOptions {
	store: SpaceStore;
	tokens: TokenIssuer;
	/** Anonymous identity credentials (the participant token key, another audience). */
	identities: IdentityCredentials;
	/** The largest stage a host may configure. */
	maxSpeakersLimit: number;
	/** The participant token key: participant ids are keyed hashes under a subkey of it (`participantIdFor`). */
	idKey: Uint8Array;
	now?: () => number;
	/**
	 * This node's admission control, asked before a join with the role the visitor will likely have; it throws to
	 * refuse (the node is full).
	 */
	admitJoin?: (role: Role, spaceId: SpaceId) => void;
	/** Verifies a host credential (throws `unauthorized`); absent: host credentials are refused. */
	verifyHostCredential?: VerifyHostCredential;
	/** Anyone may create spaces, as an anonymous identity (`TRIBUNE_OPEN_HOSTING`). Default false. */
	openHosting?: boolean;
	/** Default `defaultSpaceLimits`. */
	limits?: Partial<SpaceLimits>;
	/** The tag a client address is kept as (`clientAddressTag` with the token key); absent: addresses are not kept. */
	addressTag?: (address: string) => string;
	/**
	 * A listener's record goes this long after their last connection (the lifecycle sweep's `PARTICIPANT_IDLE_TTL_S`),
	 * s. Default `defaultLifecycleLimits.participantIdleTtlS`.
	 */
	participantIdleTtlS?: number;
	/**
	 * Whether a host identity still exists (`HostIdentities.exists`): a token whose identity is `host:<id>` is refused
	 * once the operator revoked that host. Absent: not checked.
	 */
	hostExists?: (hostId: string) => Promise<boolean>;
	/** Where each space's caption vocabulary is kept. Default: in memory (one process). */
	vocabulary?: VocabularyStore;
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
	/** The first raised hands (at most `handPageSize`), FIFO; only for those who may manage the stage, else empty. */
	handQueue: Participant[];
	/** Raised hands in all, for those who may manage the stage (else 0). */
	handCount: number;
	handRaised: boolean;
	/** The actor's place in the queue (1 = next) while their hand is raised. */
	handPosition: number | null;
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
	readonly #admitJoin: ((role: Role, spaceId: SpaceId) => void) | undefined;
	readonly #clients: ClientIdentities;
	readonly #hostExists: ((hostId: string) => Promise<boolean>) | undefined;
	readonly #participantIdleTtlS: number;
	readonly #idKey: Uint8Array;
	readonly #vocabulary: VocabularyStore;
	readonly openHosting: boolean;
	readonly limits: Readonly<SpaceLimits>;

	constructor(options: SpaceServiceOptions) {
		super();
		this.#admitJoin = options.admitJoin;
		this.#store = options.store;
		this.#tokens = options.tokens;
		this.openHosting = options.openHosting ?? false;
		this.limits = Object.freeze({ ...defaultSpaceLimits, ...options.limits });
		this.#clients = new ClientIdentities({
			identities: options.identities,
			...(options.verifyHostCredential && { verifyHostCredential: options.verifyHostCredential }),
			openHosting: this.openHosting,
			...(options.addressTag && { addressTag: options.addressTag }),
			store: options.store,
			limits: this.limits,
		});
		this.#maxSpeakersLimit = options.maxSpeakersLimit;
		this.#now = options.now ?? Date.now;
		this.#hostExists = options.hostExists;
		this.#participantIdleTtlS = options.participantIdleTtlS ?? defaultLifecycleLimits.participantIdleTtlS;
		this.#idKey = options.idKey;
		this.#vocabulary = options.vocabulary ?? new MemoryVocabularyStore();
	}

	/** The id `identity` has (or would have) as a participant of `spaceId`. */
	participantIdOf(spaceId: SpaceId, identity: string): ParticipantId {
		return participantIdFor(this.#idKey, spaceId, identity);
	}

	/** Refuses a token naming a host identity the operator revoked (`hostExists`). */
	async #requireHostNotRevoked(identity: string): Promise<void> {
		if (this.#hostExists === undefined || !identity.startsWith('host:')) return;
		if (!(await this.#hostExists(identity.slice('host:'.length)))) throw new TokenRefusedError('revoked', 'this host identity was revoked');
	}

	get tokens(): TokenIssuer {
		return this.#tokens;
	}

	/** Who may create a space from a REST request (`ClientIdentities.creatorFor`): a host, or anyone with open hosting. */
	creatorFor(request: { hostCredential?: string; identity?: string }): Promise<{ identity: string; credential?: string }> {
		return this.#clients.creatorFor(request);
	}

	async createSpace(input: CreateSpaceInput): Promise<{ space: Space; host: Participant; token: string }> {
		if (!isIdentity(input.owner)) throw new TribuneError('bad_request', 'not an identity');
		const settings: SpaceSettings = { ...defaultSpaceSettings, maxSpeakers: Math.min(defaultSpaceSettings.maxSpeakers, this.#maxSpeakersLimit), ...input.settings };
		if (settings.maxSpeakers < 1 || settings.maxSpeakers > this.#maxSpeakersLimit) {
			throw new TribuneError('bad_request', `maxSpeakers must be 1-${this.#maxSpeakersLimit}`);
		}
		await this.#clients.takeCreation(input.owner, input.address);
		const spaceId = newSpaceId();
		const host: Participant = {
			id: this.participantIdOf(spaceId, input.owner),
			identity: input.owner,
			...this.#addr(input.address),
			displayName: input.hostName,
			role: 'host',
			mute: 'none',
			joinedAt: this.#now(),
		};
		const space: Space = {
			id: spaceId,
			title: input.title,
			description: input.description,
			state: 'created',
			hostId: host.id,
			owner: input.owner,
			settings,
			createdAt: this.#now(),
			startedAt: null,
			endedAt: null,
		};
		await this.#store.createSpace(space, host, { unstartedTtlS: this.limits.unstartedTtlS });
		// The recognisers know the title and description from the start, and the host's words if they gave some.
		await this.#vocabulary.write(space.id, { words: input.vocabulary ?? [], title: space.title, description: space.description });
		const { token } = await this.#tokens.issue({ spaceId: space.id, participantId: host.id, identity: host.identity, role: 'host', generation: 0 });
		return { space, host, token };
	}

	async getSpace(spaceId: SpaceId): Promise<Space> {
		const space = await this.#store.getSpace(spaceId);
		if (!space) throw new TribuneError('not_found', 'no such space');
		return space;
	}

	#addr(address: string | undefined): { addr?: string } {
		const tag = this.#clients.addressTag(address);
		return tag === undefined ? {} : { addr: tag };
	}

	/**
	 * Joins as a listener from the share link. A still-valid token for this space (a reconnect) finds the same
	 * participant again, with their current role, and renews it within the session; a banned one is refused. A
	 * previous token that was revoked, or whose session reached its maximum age, is refused (`unauthorized`): the
	 * client joins again without it. Any other unusable token (expired, another space's) is ignored. Without a token,
	 * the identity an identity credential names joins (the same participant as before, if they were here: their id
	 * derives from it); without a valid one, a new anonymous identity. An anonymous joiner gets a fresh credential for
	 * their identity (`identity`). Refused: a banned identity or address, a display name someone on stage goes by
	 * (`name_taken`), a space at its participant limit (`space_full`).
	 */
	async join(spaceId: SpaceId, request: JoinRequest): Promise<{ participant: Participant; token: string; identity?: string }> {
		let identity: string | undefined;
		let id: ParticipantId | undefined;
		let session: { generation: number; sessionStartedAt?: number } | undefined;
		let record: AuthRecord | undefined;
		if (request.token !== undefined) {
			const claims = await this.#tokens.verify(request.token).catch((error: unknown) => {
				if (error instanceof TokenRefusedError && error.reason === 'session_expired') throw error;
				return undefined;
			});
			if (claims?.spaceId === spaceId) {
				identity = claims.identity;
				id = claims.participantId;
				record = await this.#store.readAuth(spaceId, id);
				if (record.tokenGeneration !== claims.generation) throw new TribuneError('unauthorized', 'token revoked; join again');
				session = { generation: claims.generation, sessionStartedAt: claims.sessionStartedAt };
			}
		}
		if (identity === undefined && request.identity !== undefined) identity = await this.#clients.identityOf(request.identity);
		identity ??= newAnonymousIdentity();
		id ??= this.participantIdOf(spaceId, identity);
		record ??= await this.#store.readAuth(spaceId, id);
		if (record.banned) throw new TribuneError('banned', 'you were removed from this space');
		// The role a token names may be stale (a speaker since sent back to the audience): only the store's current
		// role may skip the node's audience cap. Before adding anyone: a full node should not cost Redis a write.
		this.#admitJoin?.(record.participant?.role ?? 'listener', spaceId);
		// Someone coming back keeps the name they have; a newcomer is counted against their network's join rates and
		// may not take the name of someone on stage.
		if (!record.participant) {
			// No bucket is made for a space that does not exist or has ended.
			if (!record.space) throw new TribuneError('not_found', 'no such space');
			if (record.space.state === 'ended') throw new TribuneError('space_ended', 'this space has ended');
			await this.#clients.takeJoin(spaceId, request.address);
			await this.#requireNameFree(spaceId, id, request.displayName);
		}
		const joining: Participant = { id, identity, ...this.#addr(request.address), displayName: request.displayName, role: 'listener', mute: 'none', joinedAt: this.#now() };
		const result = await this.#store.addParticipant(spaceId, joining, { maxParticipants: this.limits.maxParticipants });
		if (result === 'no_space') throw new TribuneError('not_found', 'no such space');
		if (result === 'ended') throw new TribuneError('space_ended', 'this space has ended');
		if (result === 'banned') throw new TribuneError('banned', 'you were removed from this space');
		if (result === 'full') throw new RetryLaterError('space_full', 'this space is full; try again later', await this.#fullRetryAfterS(spaceId));
		// Someone found again is as the store has them (their role may have changed since); a newcomer is as added.
		const participant = result === 'added' ? joining : await this.#store.getParticipant(spaceId, id);
		if (!participant) throw new TribuneError('conflict', 'removed while joining');
		await this.#markJoined(spaceId, id);
		const { token } = await this.#tokens.issue({ spaceId, participantId: id, identity, role: participant.role, ...(session ?? { generation: record.tokenGeneration }) });
		const credential = await this.#clients.credentialFor(identity);
		return { participant, token, ...(credential !== undefined && { identity: credential }) };
	}

	/**
	 * A record is timed from its last connection (api/src/lifecycle). One that never connects is timed from its join,
	 * as if it had last been connected long enough ago that it goes `unconnectedParticipantTtlS` from now (a mark
	 * never moves back: someone connected keeps theirs).
	 */
	async #markJoined(spaceId: SpaceId, id: ParticipantId): Promise<void> {
		const unconnectedAgoS = Math.max(0, this.#participantIdleTtlS - this.limits.unconnectedParticipantTtlS);
		await this.#store.touchParticipants(spaceId, [id], joinPresenceKeepS, unconnectedAgoS * 1000);
	}

	/**
	 * When a full space will likely have room, s: when its least recently connected record idles out (the lifecycle
	 * sweep removes it a few seconds after), or `spaceFullRetryAfterS` when nothing says.
	 */
	async #fullRetryAfterS(spaceId: SpaceId): Promise<number> {
		const space = await this.#store.getSpace(spaceId);
		const age = space?.state === 'live' ? await this.#store.oldestPresenceAgeMs(spaceId) : undefined;
		if (age === undefined) return spaceFullRetryAfterS;
		return Math.max(1, Math.ceil((this.#participantIdleTtlS * 1000 - age) / 1000) + sweepSlackS);
	}

	async #requireNameFree(spaceId: SpaceId, id: ParticipantId, displayName: string): Promise<void> {
		const key = displayNameKey(displayName);
		const stage = await this.#store.listStage(spaceId);
		if (stage.some((p) => p.id !== id && displayNameKey(p.displayName) === key)) {
			throw new TribuneError('name_taken', 'someone on stage goes by that name; choose another');
		}
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
		await this.#requireHostNotRevoked(claims.identity);
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
		const moderator = hasGrant(me.role, 'manage_stage');
		const [space, stage, pinned, mine, page] = await Promise.all([
			this.getSpace(actor.spaceId),
			this.#store.listStage(actor.spaceId),
			this.#store.pinned(actor.spaceId),
			this.#store.handStatus(actor.spaceId, me.id),
			moderator ? this.#store.handPage(actor.spaceId, undefined, handPageSize) : undefined,
		]);
		return {
			space,
			you: me,
			stage,
			pinned,
			handQueue: page?.hands ?? [],
			handCount: moderator ? mine.length : 0,
			handRaised: mine.position !== null,
			handPosition: mine.position,
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
		await this.#requireHostNotRevoked(me.identity);
		return this.#tokens.issue({ spaceId: actor.spaceId, participantId: me.id, identity: me.identity, role: me.role, generation: session.generation, sessionStartedAt: session.sessionStartedAt });
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
		return this.#tokens.issue({ spaceId: actor.spaceId, participantId: me.id, identity: me.identity, role: me.role, generation, sessionStartedAt: session.sessionStartedAt });
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

	/**
	 * Revokes every token of a participant without an actor (the operator revoking a host identity): their
	 * connections close on every node. They stay a participant: their identity decides whether they may come back.
	 */
	async revokeTokensOf(spaceId: SpaceId, participantId: ParticipantId): Promise<void> {
		const generation = (await this.#store.revokeTokens(spaceId, participantId, this.#revocationKeepS()))!;
		this.safeEmit('tokensRevoked', { spaceId, participantId, generation, reason: 'revoked' });
	}

	/** How long a generation is kept after its last change, s: past the end of any session it could cut short. */
	#revocationKeepS(): number {
		return this.#tokens.revocationKeepS + revocationMarginS;
	}

	/** The current token generations of some participants of a space (a sweep of open connections). */
	async tokenGenerations(spaceId: SpaceId, participantIds: readonly ParticipantId[]): Promise<number[]> {
		return this.#store.tokenGenerations(spaceId, participantIds);
	}

	/**
	 * Goes live, unless the cluster runs `liveSpacesMax` live spaces (503 `capacity`) or the space's owner
	 * `liveSpacesPerHost` (429 `limit_reached`), checked atomically with the change.
	 */
	async start(actor: Actor): Promise<Space> {
		await this.require(actor, 'start_space');
		const result = await this.#store.startSpace(actor.spaceId, this.#now(), { maxLive: this.limits.liveSpacesMax, maxLivePerOwner: this.limits.liveSpacesPerHost });
		if (!result.ok) {
			switch (result.reason) {
				case 'not_found':
					throw new TribuneError('not_found', 'no such space');
				case 'wrong_state':
					throw new TribuneError('conflict', 'only a scheduled space can go live');
				case 'capacity':
					throw new RetryLaterError('capacity', 'this server runs as many live spaces as it can; try again later', capacityRetryAfterS);
				case 'limit_reached':
					throw new RetryLaterError('limit_reached', `a host may have ${this.limits.liveSpacesPerHost} live spaces at once; end one first`, capacityRetryAfterS);
			}
		}
		this.safeEmit('spaceState', { space: result.space });
		return result.space;
	}

	async end(actor: Actor): Promise<Space> {
		await this.require(actor, 'end_space');
		return this.endSpace(actor.spaceId);
	}

	/** Ends a space without an actor (the operator); `space_ended` if it had, `not_found` if there is none. */
	async endSpace(spaceId: SpaceId): Promise<Space> {
		const space = await this.#store.transitionState(spaceId, ['created', 'live'], 'ended', this.#now());
		if (!space) {
			await this.getSpace(spaceId);
			throw new TribuneError('space_ended', 'this space has already ended');
		}
		this.safeEmit('spaceState', { space });
		return space;
	}

	/**
	 * A participant token for `identity` in a space (the operator's server API): they join (banned identities and a
	 * full space refused) and take `role` — `host` only for the space's host, stage roles within the stage and
	 * co-host caps.
	 */
	async issueFor(spaceId: SpaceId, request: { identity: string; displayName: string; role: Role }): Promise<{ participant: Participant; token: string }> {
		if (!isIdentity(request.identity)) throw new TribuneError('bad_request', 'not an identity');
		const space = await this.#requireNotEnded(spaceId);
		const id = this.participantIdOf(spaceId, request.identity);
		if (request.role === 'host' && id !== space.hostId) throw new TribuneError('forbidden', "only the space's host may have the host role");
		// A newcomer, or someone coming on stage, may not go by the name of someone on stage (a record keeps its name).
		const before = await this.#store.getParticipant(spaceId, id);
		if (!before || (isOnStage(request.role) && !isOnStage(before.role))) await this.#requireNameFree(spaceId, id, before?.displayName ?? request.displayName);
		const added = await this.#store.addParticipant(
			spaceId,
			{ id, identity: request.identity, displayName: request.displayName, role: 'listener', mute: 'none', joinedAt: this.#now() },
			{ maxParticipants: this.limits.maxParticipants },
		);
		if (added === 'banned') throw new TribuneError('banned', 'that identity is banned from this space');
		if (added === 'full') throw new RetryLaterError('space_full', 'this space is full; try again later', await this.#fullRetryAfterS(spaceId));
		if (added === 'ended' || added === 'no_space') throw new TribuneError('space_ended', 'this space has ended');
		let participant = await this.#store.getParticipant(spaceId, id);
		if (!participant) throw new TribuneError('conflict', 'removed while joining');
		if (participant.role !== request.role) {
			const from = (['listener', 'speaker', 'cohost'] as const).filter((r) => r !== request.role);
			participant = await this.#changeRole(spaceId, { participantId: id, from, to: request.role, maxStage: space.settings.maxSpeakers, maxCoHosts });
		}
		await this.#markJoined(spaceId, id);
		const { tokenGeneration } = await this.#store.readAuth(spaceId, id);
		const { token } = await this.#tokens.issue({ spaceId, participantId: id, identity: request.identity, role: participant.role, generation: tokenGeneration });
		return { participant, token };
	}

	/**
	 * Bans a participant id (an identity in this space) without an actor (the operator), and with `address` the
	 * address of their latest join; removes them if they are here. An id never seen is banned all the same. `address`
	 * in the answer: whether an address was banned (false when asked but their record has none, as for records the
	 * server API made, or there is no record).
	 */
	async ban(spaceId: SpaceId, participantId: ParticipantId, options: { address: boolean }): Promise<{ address: boolean }> {
		await this.getSpace(spaceId);
		const removed = await this.#removeFromSpace(spaceId, participantId, true, options.address).catch((error: unknown) => {
			// Banned all the same: the store records a ban before it looks for the participant.
			if (!(error instanceof TribuneError && error.code === 'not_found')) throw error;
			return undefined;
		});
		return { address: options.address && removed?.addr !== undefined };
	}

	/** Lifts a ban (and the address bans made with it); true if there was one. */
	async unban(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		await this.getSpace(spaceId);
		return this.#store.unban(spaceId, participantId);
	}

	/** Spaces, newest first (`limit` 1–100). */
	async listSpaces(options: { state?: SpaceState; limit: number; cursor?: string }): Promise<Page<Space>> {
		return this.#store.listSpaces({ ...options, limit: Math.min(Math.max(1, Math.floor(options.limit)), 100) });
	}

	/** A page of a space's participant records (`limit` 1–500). */
	async listParticipants(spaceId: SpaceId, options: { limit: number; cursor?: string }): Promise<Page<Participant>> {
		await this.getSpace(spaceId);
		return this.#store.listParticipants(spaceId, { ...options, limit: Math.min(Math.max(1, Math.floor(options.limit)), 500) });
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

	/** The host's words for the caption recognisers (host or co-host). */
	async getVocabulary(actor: Actor): Promise<string[]> {
		await this.require(actor, 'manage_captions');
		await this.getSpace(actor.spaceId);
		return (await this.#vocabulary.read(actor.spaceId))?.words ?? [];
	}

	/**
	 * A host or co-host replaces the words the caption recognisers are to expect (`vocabularyListSchema`, validated
	 * by the caller); a broadcast in progress restarts its recognisers with them. At most `vocabularyChangesPerMin`
	 * changes a minute per space: each one reloads every speaker's recogniser.
	 */
	async setVocabulary(actor: Actor, words: string[]): Promise<string[]> {
		await this.require(actor, 'manage_captions');
		const space = await this.#requireNotEnded(actor.spaceId);
		const waitMs = await this.#store.takeRate(`vocabulary:${space.id}`, { burst: vocabularyChangesPerMin, perSecond: vocabularyChangesPerMin / 60 });
		if (waitMs > 0) throw new RetryLaterError('rate_limited', 'the word list changed too often; try again later', waitMs / 1000);
		await this.#vocabulary.write(space.id, { words, title: space.title, description: space.description });
		return words;
	}

	async raiseHand(actor: Actor): Promise<void> {
		await this.require(actor, 'raise_hand');
		await this.#requireNotEnded(actor.spaceId);
		const result = await this.#store.raiseHand(actor.spaceId, actor.participantId, { maxHands: this.limits.maxHands });
		if (result === 'queue_full') throw new TribuneError('hand_queue_full', 'too many hands are raised in this space; try again later');
		if (result === 'not_listener') throw new TribuneError('forbidden', 'only listeners raise hands');
		if (result === 'not_found') throw new TribuneError('unauthorized', 'not a participant of this space');
		if (result === 'raised') await this.#announceRaised(actor.spaceId, actor.participantId);
	}

	async lowerHand(actor: Actor): Promise<void> {
		await this.require(actor, 'raise_hand');
		const { lowered, length } = await this.#store.lowerHandCounted(actor.spaceId, actor.participantId);
		if (lowered) this.#announceLowered(actor.spaceId, actor.participantId, length);
	}

	/** A host or co-host brings a listener with a raised hand on stage as a speaker, if there is a seat. */
	async approveHand(actor: Actor, target: ParticipantId): Promise<Participant> {
		await this.require(actor, 'manage_stage');
		const space = await this.#requireNotEnded(actor.spaceId);
		// Nobody on stage goes by another's name there (a listener may have joined under it before that one came on).
		const listener = await this.#store.getParticipant(actor.spaceId, target);
		if (listener) await this.#requireNameFree(actor.spaceId, target, listener.displayName);
		const p = await this.#changeRole(actor.spaceId, { participantId: target, from: ['listener'], to: 'speaker', requireHand: true, maxStage: space.settings.maxSpeakers });
		this.#announceLowered(actor.spaceId, target, (await this.#store.handStatus(actor.spaceId, target)).length);
		return p;
	}

	async denyHand(actor: Actor, target: ParticipantId): Promise<void> {
		await this.require(actor, 'manage_stage');
		const { lowered, length } = await this.#store.lowerHandCounted(actor.spaceId, target);
		if (!lowered) throw new TribuneError('conflict', 'that hand is not raised');
		this.#announceLowered(actor.spaceId, target, length);
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

	/**
	 * Removes someone of lower rank; with `ban`, their identity may not come back to this space, and with
	 * `banAddress` neither may a new identity from the address of their latest join (refused when it is the actor's).
	 */
	async remove(actor: Actor, target: ParticipantId, ban: boolean, banAddress = false): Promise<void> {
		const me = await this.require(actor, 'remove_participant');
		const other = await this.#requireOutranks(actor.spaceId, me, target);
		// Banning one's own network would keep out whoever shares it; those already in stay, but it is never meant.
		if (ban && banAddress && other.addr !== undefined && other.addr === me.addr) {
			throw new TribuneError('conflict', 'they join from your own network: ban them without it');
		}
		await this.#removeFromSpace(actor.spaceId, target, ban, banAddress);
	}

	async #removeFromSpace(spaceId: SpaceId, target: ParticipantId, ban: boolean, banAddress = false): Promise<Participant> {
		const wasPinned = (await this.#store.pinned(spaceId)).includes(target);
		const hadHand = (await this.#store.handStatus(spaceId, target)).position !== null;
		const removed = await this.#store.removeParticipant(spaceId, target, ban, banAddress);
		if (!removed) throw new TribuneError('not_found', 'no such participant');
		this.safeEmit('participantRemoved', { spaceId, participant: removed, banned: ban });
		if (wasPinned) this.safeEmit('pinnedChanged', { spaceId, pinned: await this.#store.pinned(spaceId) });
		if (hadHand) this.#announceLowered(spaceId, target, (await this.#store.handStatus(spaceId, target)).length);
		return removed;
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
		const identity = newSyntheticIdentity();
		const id = this.participantIdOf(actor.spaceId, identity);
		const added = await this.#store.addParticipant(actor.spaceId, { id, identity, displayName, role: 'listener', mute: 'none', joinedAt: this.#now() });
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

	/** A hand just raised: its owner's record and place, and the queue's length, in one read (never the queue). */
	async #announceRaised(spaceId: SpaceId, participantId: ParticipantId): Promise<void> {
		const { participant, position, length } = await this.#store.handStatus(spaceId, participantId);
		// Lowered or approved in between: that change was announced by itself.
		if (!participant || position === null) return;
		this.safeEmit('handQueueChanged', { spaceId, raised: participant, lowered: null, length, position });
	}

	#announceLowered(spaceId: SpaceId, participantId: ParticipantId, length: number): void {
		this.safeEmit('handQueueChanged', { spaceId, raised: null, lowered: participantId, length });
	}

	async #announcePins(spaceId: SpaceId): Promise<ParticipantId[]> {
		const pinned = await this.#store.pinned(spaceId);
		this.safeEmit('pinnedChanged', { spaceId, pinned });
		return pinned;
	}
	// Hands at scale and the space lifecycle (api/src/lifecycle sweeps; signaling keeps presence).

	/** A host or co-host reads the hand queue a page at a time, first raised first, after the hand of `after`. */
	async listHands(actor: Actor, after: ParticipantId | undefined, limit: number): Promise<{ hands: Participant[]; length: number; next: ParticipantId | null }> {
		await this.require(actor, 'manage_stage');
		const page = await this.#store.handPage(actor.spaceId, after, Math.min(limit, handPageSize));
		if (!page) throw new TribuneError('not_found', 'that hand is no longer raised; list the hands again from the start');
		return { hands: page.hands, length: page.length, next: page.more ? (page.hands.at(-1)?.id ?? null) : null };
	}

	/** The actor's place in the hand queue now (1 = next), null when their hand is not raised. */
	async handPosition(actor: Actor): Promise<{ raised: boolean; position: number | null }> {
		await this.require(actor, 'listen');
		const { position } = await this.#store.handStatus(actor.spaceId, actor.participantId);
		return { raised: position !== null, position };
	}

	/** Marks participants as connected now (their presence lives `keepS` after the last mark). */
	async touchParticipants(spaceId: SpaceId, participantIds: readonly ParticipantId[], keepS: number): Promise<void> {
		if (participantIds.length > 0) await this.#store.touchParticipants(spaceId, participantIds, keepS);
	}

	/** Lowers at most `max` hands whose owner has been disconnected for `awayMs`, and says so. Returns how many. */
	async lowerAwayHands(spaceId: SpaceId, awayMs: number, max: number): Promise<number> {
		const { lowered, length } = await this.#store.lowerAwayHands(spaceId, awayMs, max);
		lowered.forEach((id, i) => this.#announceLowered(spaceId, id, length + lowered.length - 1 - i));
		return lowered.length;
	}

	/**
	 * Removes at most `max` listener records whose owner has not been connected for `idleMs` (never anyone on stage or
	 * connected), their hands with them. Returns how many records went.
	 */
	async expireIdleListeners(spaceId: SpaceId, idleMs: number, max: number): Promise<number> {
		const { removed, lowered, length } = await this.#store.expireIdleListeners(spaceId, idleMs, max);
		lowered.forEach((id, i) => this.#announceLowered(spaceId, id, length + lowered.length - 1 - i));
		return removed.length;
	}

	/** Warns the stage that the space ends on its own at `endsAt` (epoch ms). */
	announceEnding(spaceId: SpaceId, reason: 'idle' | 'max_duration', endsAt: number): void {
		this.safeEmit('spaceEnding', { spaceId, reason, endsAt });
	}

	/** The end announced by `announceEnding` is off. */
	cancelEnding(spaceId: SpaceId): void {
		this.safeEmit('spaceEndingCancelled', { spaceId });
	}

	/**
	 * Ends a live space that nobody ended (idle, or live for the longest allowed): as a host's end does, so the
	 * broadcast stops and the replay is kept. Undefined if it was no longer live, or, for `idle`, if a host or co-host
	 * is connected again by then.
	 */
	async endOnItsOwn(spaceId: SpaceId, reason: 'idle' | 'max_duration'): Promise<Space | undefined> {
		const space = await this.#store.transitionState(spaceId, ['live'], 'ended', this.#now(), { unlessModeratorsConnected: reason === 'idle' });
		if (space) this.safeEmit('spaceState', { space });
		return space;
	}

	/**
	 * Says that a space has ended once more: its end was stored but maybe never said (the node that ended it lost the
	 * reply, or died). Every node closes its connections and stage there and the broadcast stops, as at any end.
	 */
	announceEnded(space: Space): void {
		if (space.state === 'ended') this.safeEmit('spaceState', { space });
	}
}

/** How long a space's presence lives at least after a join, s (connections keep it longer; it is never shortened). */
const joinPresenceKeepS = 24 * 3600;

/** How much later than its idle time a record is gone, s: the lifecycle sweeps every few seconds (at most 5). */
const sweepSlackS = 5;
