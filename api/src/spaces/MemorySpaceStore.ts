import { isOnStage, type CaptionMode, type MuteState, type Participant, type ParticipantId, type Space, type SpaceId, type SpaceState } from './Space.js';
import { type AddParticipantResult, type AuthRecord, type PinResult, type RaiseHandResult, type RoleChange, type RoleChangeResult, type SpaceStore } from './SpaceStore.js';

interface Entry {
	space: Space;
	participants: Map<ParticipantId, Participant>;
	/** On stage, in the order they came on. */
	stage: Set<ParticipantId>;
	/** Raised hands in FIFO order (Set keeps insertion order). */
	hands: Set<ParticipantId>;
	bans: Set<ParticipantId>;
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

	async createSpace(space: Space, host: Participant): Promise<void> {
		if (this.#spaces.has(space.id)) throw new Error(`space ${space.id} exists`);
		this.#spaces.set(space.id, {
			space: structuredClone(space),
			participants: new Map([[host.id, { ...host }]]),
			stage: new Set([host.id]),
			hands: new Set(),
			bans: new Set(),
			pinned: [],
		});
	}

	async getSpace(spaceId: SpaceId): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		return entry && structuredClone(entry.space);
	}

	async transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || !from.includes(entry.space.state)) return undefined;
		entry.space.state = to;
		if (to === 'live') entry.space.startedAt = atMs;
		if (to === 'ended') entry.space.endedAt = atMs;
		return structuredClone(entry.space);
	}

	async setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry || entry.space.state === 'ended') return undefined;
		entry.space.settings.captionMode = mode;
		return structuredClone(entry.space);
	}

	async addParticipant(spaceId: SpaceId, participant: Participant): Promise<AddParticipantResult> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return 'no_space';
		if (entry.space.state === 'ended') return 'ended';
		if (entry.bans.has(participant.id)) return 'banned';
		if (entry.participants.has(participant.id)) return 'rejoined';
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

	async removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean): Promise<Participant | undefined> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return undefined;
		if (ban) entry.bans.add(participantId);
		const p = entry.participants.get(participantId);
		if (!p) return undefined;
		entry.participants.delete(participantId);
		entry.stage.delete(participantId);
		entry.hands.delete(participantId);
		entry.pinned = entry.pinned.filter((id) => id !== participantId);
		return { ...p };
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

	async raiseHand(spaceId: SpaceId, participantId: ParticipantId): Promise<RaiseHandResult> {
		const entry = this.#spaces.get(spaceId);
		const p = entry?.participants.get(participantId);
		if (!entry || !p) return 'not_found';
		if (p.role !== 'listener') return 'not_listener';
		if (entry.hands.has(participantId)) return 'already_raised';
		entry.hands.add(participantId);
		return 'raised';
	}

	async lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return this.#spaces.get(spaceId)?.hands.delete(participantId) ?? false;
	}

	async handQueue(spaceId: SpaceId): Promise<Participant[]> {
		const entry = this.#spaces.get(spaceId);
		if (!entry) return [];
		return [...entry.hands].map((id) => ({ ...entry.participants.get(id)! }));
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
}
