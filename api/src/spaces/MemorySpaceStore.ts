import type { RateLimit } from '../signaling/TokenBucket.js';
import { isOnStage, type CaptionMode, type MuteState, type Participant, type ParticipantId, type Space, type SpaceId, type SpaceState } from './Space.js';
import {
	type AddParticipantResult,
	type AuthRecord,
	type HandStatus,
	type LiveLimits,
	type Page,
	type PinResult,
	type RaiseHandResult,
	type RoleChange,
	type RoleChangeResult,
	type SpaceStore,
	type StartResult,
} from './SpaceStore.js';

interface Entry {
	space: Space;
	participants: Map<ParticipantId, Participant>;
	/** On stage, in the order they came on. */
	stage: Set<ParticipantId>;
	/** Raised hands in FIFO order (Set keeps insertion order). */
	hands: Set<ParticipantId>;
	bans: Set<ParticipantId>;
	/** Banned address tag → the participant banned with it. */
	addrBans: Map<string, ParticipantId>;
	pinned: ParticipantId[];
}

/**
 * A `SpaceStore` in process memory, for unit tests of the space rules. Same semantics as `RedisSpaceStore`; values
 * are copied in and out so callers cannot mutate stored state by accident.
 */
export class MemorySpaceStore implements SpaceStore {
	readonly #spaces = new Map<SpaceId, Entry>();
	/**
	 * `<spaceId> <participantId>` → token generation, apart from the spaces as Redis keeps them (a record per
	 * participant, kept whether or not the space is); no expiry: this store lives for one test.
	 */
	readonly #tokenGenerations = new Map<string, number>();
	/** Rate buckets, timed by `now` (ms). No expiry: this store lives for one test. */
	readonly #buckets = new Map<string, { tokens: number; at: number }>();
	readonly #now: () => number;

	/** `now`: the clock of the rate buckets, ms (tests may drive it). Unstarted spaces never expire here. */
	constructor(options: { now?: () => number } = {}) {
		this.#now = options.now ?? Date.now;
	}

	async createSpace(space: Space, host: Participant, _options: { unstartedTtlS: number }): Promise<void> {
		if (this.#spaces.has(space.id)) throw new Error(`space ${space.id} exists`);
		this.#spaces.set(space.id, {
			space: structuredClone(space),
			participants: new Map([[host.id, { ...host }]]),
			stage: new Set([host.id]),
			hands: new Set(),
			bans: new Set(),
			addrBans: new Map(),
			pinned: [],
		});
	}

	async getSpace(spaceId: SpaceId): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		return entry && structuredClone(entry.space);
	}

	// `unlessModeratorsConnected` needs the connection tally, kept in Redis only (one node alone has no lifecycle sweep).
	async transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number, _options?: { unlessModeratorsConnected?: boolean }): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || !from.includes(entry.space.state)) return undefined;
		entry.space.state = to;
		if (to === 'live') entry.space.startedAt = atMs;
		if (to === 'ended') entry.space.endedAt = atMs;
		return structuredClone(entry.space);
	}

	async startSpace(spaceId: SpaceId, atMs: number, limits: LiveLimits): Promise<StartResult> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return { ok: false, reason: 'not_found' };
		if (entry.space.state !== 'created') return { ok: false, reason: 'wrong_state' };
		const live = [...this.#spaces.values()].filter((e) => e.space.state === 'live');
		if (live.length >= limits.maxLive) return { ok: false, reason: 'capacity' };
		if (live.filter((e) => e.space.owner === entry.space.owner).length >= limits.maxLivePerOwner) return { ok: false, reason: 'limit_reached' };
		return { ok: true, space: (await this.transitionState(spaceId, ['created'], 'live', atMs))! };
	}

	async listSpaces(options: { state?: SpaceState; limit: number; cursor?: string }): Promise<Page<Space>> {
		const all = [...this.#spaces.values()].map((e) => e.space).filter((sp) => options.state === undefined || sp.state === options.state);
		all.sort((a, b) => b.createdAt - a.createdAt);
		const offset = Number(options.cursor ?? 0) || 0;
		const items = all.slice(offset, offset + options.limit).map((sp) => structuredClone(sp));
		return { items, nextCursor: offset + options.limit < all.length ? String(offset + options.limit) : null };
	}

	async takeRate(bucket: string, limit: RateLimit): Promise<number> {
		const now = this.#now();
		const state = this.#buckets.get(bucket) ?? { tokens: limit.burst, at: now };
		state.tokens = Math.min(limit.burst, state.tokens + (Math.max(0, now - state.at) * limit.perSecond) / 1000);
		state.at = now;
		this.#buckets.set(bucket, state);
		if (state.tokens >= 1) {
			state.tokens -= 1;
			return 0;
		}
		return Math.ceil(((1 - state.tokens) * 1000) / limit.perSecond);
	}

	async setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || entry.space.state === 'ended') return undefined;
		entry.space.settings.captionMode = mode;
		return structuredClone(entry.space);
	}

	async addParticipant(spaceId: SpaceId, participant: Participant, limits: { maxParticipants?: number } = {}): Promise<AddParticipantResult> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return 'no_space';
		if (entry.space.state === 'ended') return 'ended';
		if (entry.bans.has(participant.id)) return 'banned';
		const existing = entry.participants.get(participant.id);
		if (existing) {
			if (participant.addr !== undefined) existing.addr = participant.addr;
			return 'rejoined';
		}
		if (participant.addr !== undefined && entry.addrBans.has(participant.addr)) return 'banned';
		if (limits.maxParticipants !== undefined && entry.participants.size >= limits.maxParticipants) return 'full';
		entry.participants.set(participant.id, { ...participant });
		return 'added';
	}

	async getParticipant(spaceId: SpaceId, participantId: ParticipantId): Promise<Participant | undefined> {
		const p = this.#spaces.get(spaceId)?.participants.get(participantId);
		return p && { ...p };
	}

	async listStage(spaceId: SpaceId): Promise<Participant[]> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return [];
		return [...entry.stage].map((id) => ({ ...entry.participants.get(id)! }));
	}

	async countParticipants(spaceId: SpaceId): Promise<number> {
		return this.#spaces.get(spaceId)?.participants.size ?? 0;
	}

	async listParticipants(spaceId: SpaceId, options: { limit: number; cursor?: string }): Promise<Page<Participant>> {
		const all = [...(this.#spaces.get(spaceId)?.participants.values() ?? [])];
		const offset = Number(options.cursor ?? 0) || 0;
		const items = all.slice(offset, offset + options.limit).map((p) => ({ ...p }));
		return { items, nextCursor: offset + options.limit < all.length ? String(offset + options.limit) : null };
	}

	async removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean, banAddress = false): Promise<Participant | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return undefined;
		if (ban) entry.bans.add(participantId);
		const p = entry.participants.get(participantId);
		if (!p) return undefined;
		if (ban && banAddress && p.addr !== undefined) entry.addrBans.set(p.addr, participantId);
		entry.participants.delete(participantId);
		entry.stage.delete(participantId);
		entry.hands.delete(participantId);
		entry.pinned = entry.pinned.filter((id) => id !== participantId);
		return { ...p };
	}

	async unban(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return false;
		let lifted = entry.bans.delete(participantId);
		for (const [addr, id] of entry.addrBans) {
			if (id === participantId) lifted = entry.addrBans.delete(addr) || lifted;
		}
		return lifted;
	}

	async isBanned(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return this.#spaces.get(spaceId)?.bans.has(participantId) ?? false;
	}

	async readAuth(spaceId: SpaceId, participantId: ParticipantId): Promise<AuthRecord> {
		const entry = this.#spaces.get(spaceId);
		const p = entry?.participants.get(participantId);
		return {
			space: entry && structuredClone(entry.space),
			participant: p && { ...p },
			banned: entry?.bans.has(participantId) ?? false,
			tokenGeneration: this.#tokenGenerations.get(`${spaceId} ${participantId}`) ?? 0,
		};
	}

	async revokeTokens(spaceId: SpaceId, participantId: ParticipantId, _keepS: number, ifGeneration?: number): Promise<number | undefined> {
		const key = `${spaceId} ${participantId}`;
		const current = this.#tokenGenerations.get(key) ?? 0;
		if (ifGeneration !== undefined && current !== ifGeneration) return undefined;
		this.#tokenGenerations.set(key, current + 1);
		return current + 1;
	}

	async tokenGenerations(spaceId: SpaceId, participantIds: readonly ParticipantId[]): Promise<number[]> {
		return participantIds.map((id) => this.#tokenGenerations.get(`${spaceId} ${id}`) ?? 0);
	}

	async changeRole(spaceId: SpaceId, change: RoleChange): Promise<RoleChangeResult> {
		const entry = this.#spaces.get(spaceId);
		const p = entry?.participants.get(change.participantId);
		if (!entry || !p) return { ok: false, reason: 'not_found' };
		if (!change.from.includes(p.role)) return { ok: false, reason: 'wrong_role' };
		if (change.requireHand && !entry.hands.has(p.id)) return { ok: false, reason: 'no_hand' };
		const joinsStage = !isOnStage(p.role) && isOnStage(change.to);
		if (joinsStage && change.maxStage !== undefined && entry.stage.size + 1 > change.maxStage) return { ok: false, reason: 'stage_full' };
		if (change.to === 'cohost' && p.role !== 'cohost' && change.maxCoHosts !== undefined) {
			const cohosts = [...entry.stage].filter((id) => entry.participants.get(id)?.role === 'cohost').length;
			if (cohosts + 1 > change.maxCoHosts) return { ok: false, reason: 'cohosts_full' };
		}
		const previousRole = p.role;
		p.role = change.to;
		if (isOnStage(change.to)) {
			entry.stage.add(p.id);
			entry.hands.delete(p.id);
		} else {
			entry.stage.delete(p.id);
			entry.pinned = entry.pinned.filter((id) => id !== p.id);
			p.mute = 'none';
		}
		return { ok: true, participant: { ...p }, previousRole };
	}

	async setMute(spaceId: SpaceId, participantId: ParticipantId, from: readonly MuteState[], to: MuteState): Promise<Participant | undefined> {
		const p = this.#spaces.get(spaceId)?.participants.get(participantId);
		if (!p || !isOnStage(p.role) || !from.includes(p.mute)) return undefined;
		p.mute = to;
		return { ...p };
	}

	async raiseHand(spaceId: SpaceId, participantId: ParticipantId, limits: { maxHands?: number } = {}): Promise<RaiseHandResult> {
		const entry = this.#spaces.get(spaceId);
		const p = entry?.participants.get(participantId);
		if (!entry || !p) return 'not_found';
		if (p.role !== 'listener') return 'not_listener';
		if (entry.hands.has(participantId)) return 'already_raised';
		if (limits.maxHands !== undefined && entry.hands.size >= limits.maxHands) return 'queue_full';
		entry.hands.add(participantId);
		return 'raised';
	}

	async lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return this.#spaces.get(spaceId)?.hands.delete(participantId) ?? false;
	}

	async pin(spaceId: SpaceId, participantId: ParticipantId): Promise<PinResult> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || !entry.stage.has(participantId)) return 'not_on_stage';
		if (entry.pinned.includes(participantId)) return 'already_pinned';
		entry.pinned.push(participantId);
		return 'pinned';
	}

	async unpin(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || !entry.pinned.includes(participantId)) return false;
		entry.pinned = entry.pinned.filter((id) => id !== participantId);
		return true;
	}

	async reorderPins(spaceId: SpaceId, order: readonly ParticipantId[]): Promise<boolean> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || order.length !== entry.pinned.length || new Set(order).size !== order.length) return false;
		if (!order.every((id) => entry.pinned.includes(id))) return false;
		entry.pinned = [...order];
		return true;
	}

	async pinned(spaceId: SpaceId): Promise<ParticipantId[]> {
		return [...(this.#spaces.get(spaceId)?.pinned ?? [])];
	}

	// Hands at scale and presence (see SpaceStore); time is this process's clock.

	/** spaceId → participantId → when last connected (ms). No expiry: this store lives for one test. */
	readonly #seen = new Map<SpaceId, Map<ParticipantId, number>>();

	async lowerHandCounted(spaceId: SpaceId, participantId: ParticipantId): Promise<{ lowered: boolean; length: number }> {
		const hands = this.#spaces.get(spaceId)?.hands;
		const lowered = hands?.delete(participantId) ?? false;
		return { lowered, length: hands?.size ?? 0 };
	}

	async handStatus(spaceId: SpaceId, participantId: ParticipantId): Promise<HandStatus> {
		const entry = this.#spaces.get(spaceId);
		const index = entry ? [...entry.hands].indexOf(participantId) : -1;
		const p = entry?.participants.get(participantId);
		return { position: index < 0 ? null : index + 1, length: entry?.hands.size ?? 0, participant: p && { ...p } };
	}

	async handPage(spaceId: SpaceId, after: ParticipantId | undefined, limit: number): Promise<{ hands: Participant[]; length: number; more: boolean } | undefined> {
		const entry = this.#spaces.get(spaceId);
		const ids = entry ? [...entry.hands] : [];
		const start = after === undefined ? 0 : ids.indexOf(after) + 1;
		if (start === 0 && after !== undefined) return undefined;
		const page = ids.slice(start, start + limit);
		return { hands: page.map((id) => ({ ...entry!.participants.get(id)! })), length: ids.length, more: start + limit < ids.length };
	}

	async touchParticipants(spaceId: SpaceId, participantIds: readonly ParticipantId[], _keepS: number, agoMs = 0): Promise<void> {
		if (!this.#spaces.has(spaceId)) return;
		const seen = this.#seen.get(spaceId) ?? new Map<ParticipantId, number>();
		this.#seen.set(spaceId, seen);
		const at = Date.now() - agoMs;
		for (const id of participantIds) seen.set(id, Math.max(at, seen.get(id) ?? -Infinity));
	}

	async oldestPresenceAgeMs(spaceId: SpaceId): Promise<number | undefined> {
		const marks = [...(this.#seen.get(spaceId)?.values() ?? [])];
		return marks.length === 0 ? undefined : Date.now() - Math.min(...marks);
	}

	async lowerAwayHands(spaceId: SpaceId, awayMs: number, max: number): Promise<{ lowered: ParticipantId[]; length: number }> {
		const entry = this.#spaces.get(spaceId);
		const seen = this.#seen.get(spaceId) ?? new Map<ParticipantId, number>();
		this.#seen.set(spaceId, seen);
		const now = Date.now();
		const lowered: ParticipantId[] = [];
		for (const id of entry?.hands ?? []) {
			const at = seen.get(id);
			if (at === undefined) seen.set(id, now);
			else if (at < now - awayMs && lowered.length < max) lowered.push(id);
		}
		for (const id of lowered) entry!.hands.delete(id);
		return { lowered, length: entry?.hands.size ?? 0 };
	}

	async expireIdleListeners(spaceId: SpaceId, idleMs: number, max: number): Promise<{ removed: ParticipantId[]; lowered: ParticipantId[]; length: number }> {
		const entry = this.#spaces.get(spaceId);
		const seen = this.#seen.get(spaceId);
		const removed: ParticipantId[] = [];
		const lowered: ParticipantId[] = [];
		const now = Date.now();
		const candidates = [...(seen ?? [])].filter(([, at]) => at < now - idleMs).sort((a, b) => a[1] - b[1]).slice(0, max);
		for (const [id] of candidates) {
			const p = entry?.participants.get(id);
			if (p && isOnStage(p.role)) {
				seen!.set(id, now);
				continue;
			}
			if (p) {
				entry!.participants.delete(id);
				removed.push(id);
			}
			if (entry?.hands.delete(id)) lowered.push(id);
			seen!.delete(id);
		}
		return { removed, lowered, length: entry?.hands.size ?? 0 };
	}
}
