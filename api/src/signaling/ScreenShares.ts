import type { ScreenShare, ShareEndReason, Stage, StageRegistry } from '@tribune/ingest';
import type { Role, SpaceId } from '../spaces/Space.js';
import { hasGrant } from '../spaces/roles/grantsForRole.js';
import { defaultSharePolicy, publishGrantsFor, type SharePolicy } from '../stage/publishGrantsFor.js';
import type { EventData, ShareInfo } from './protocol.js';

/** What a node knows of a space's screen share and its policy. */
export interface ShareState {
	share: ShareInfo | null;
	speakersMayShare: boolean;
}

/** The relay message carrying a space's share news to the other nodes. */
export type ShareRelay = EventData['screenShare'];

export interface ScreenSharesLink {
	/** Sends the news to this node's connections in the space. */
	broadcast(spaceId: SpaceId, data: EventData['screenShare']): void;
	/** Sends it to the other nodes. */
	relay(spaceId: SpaceId, data: ShareRelay): void;
	/** Participants on this node's stage of the space whose grants follow the policy: id → role. */
	stageRoles(spaceId: SpaceId): Map<string, Role>;
	/** The space's video setting (grants depend on it). */
	video(spaceId: SpaceId): Promise<boolean>;
}

/** Spaces whose share state a node keeps at most (a space's entry goes when it ends or its last connection does). */
const maxSpaces = 10_000;

export const toShareInfo = (share: ScreenShare): ShareInfo => ({
	participantId: share.peerId,
	producerId: share.videoProducerId,
	audio: share.audioProducerId !== undefined,
	startedAt: share.startedAt,
});

/**
 * Who may take the screen from whom: a host or co-host replaces anyone's share; a speaker only a speaker's (never a
 * host's or co-host's). Pure.
 */
export function mayReplaceShare(mine: Role, sharer: Role | undefined): boolean {
	if (hasGrant(mine, 'manage_stage')) return true;
	return sharer === undefined || sharer === 'speaker' || sharer === 'listener';
}

/**
 * One share per space, on the API side: turns the stage's share events into `screenShare` events for the space's
 * connections (and the other nodes), keeps what each node knows of the share for `getState`, and holds the host's
 * switch "speakers may share" (kept in this node's memory and relayed to the others; a node that starts later, or
 * an API restart, goes back to the default: speakers may). The stage (ingest) holds the share itself.
 */
export class ScreenShares {
	readonly #link: ScreenSharesLink;
	readonly #state = new Map<SpaceId, ShareState>();
	readonly #watched = new WeakSet<Stage>();

	constructor(link: ScreenSharesLink) {
		this.#link = link;
	}

	state(spaceId: SpaceId): ShareState {
		return this.#state.get(spaceId) ?? { share: null, speakersMayShare: defaultSharePolicy.speakersMayShare };
	}

	policy(spaceId: SpaceId): SharePolicy {
		return { speakersMayShare: this.state(spaceId).speakersMayShare };
	}

	/** Follows a stage this node opened. */
	watch(stage: Stage): void {
		if (this.#watched.has(stage)) return;
		this.#watched.add(stage);
		const spaceId = stage.spaceId as SpaceId;
		stage.on('sharechanged', (share) => this.#publish(spaceId, { share: toShareInfo(share) }));
		stage.on('shareended', (share, reason) => {
			// A newer share (a replacement) may already be the stage's; only the share that ended is cleared.
			const now = this.state(spaceId).share;
			this.#publish(spaceId, { share: now && now.producerId !== share.videoProducerId ? now : null, ended: { participantId: share.peerId, reason } });
		});
	}

	/** Ends the share on this node's stage of the space, if it is `participantId`'s (any share without one). */
	stop(stage: Stage | undefined, reason: ShareEndReason, participantId?: string): ScreenShare | undefined {
		const share = stage?.share;
		if (!stage || !share || (participantId !== undefined && share.peerId !== participantId)) return undefined;
		return stage.stopShare(reason);
	}

	/**
	 * The host's switch. Told to the space and the other nodes, and applied to this node's stage (a speaker's share
	 * ends when it turns off).
	 */
	async setPolicy(spaceId: SpaceId, stages: StageRegistry, speakersMayShare: boolean): Promise<void> {
		const state = { ...this.state(spaceId), speakersMayShare };
		this.#set(spaceId, state);
		this.#link.broadcast(spaceId, state);
		this.#link.relay(spaceId, state);
		await this.#applyPolicy(spaceId, stages);
	}

	async #applyPolicy(spaceId: SpaceId, stages: StageRegistry): Promise<void> {
		const stage = stages.get(spaceId);
		if (!stage) return;
		const policy = this.policy(spaceId);
		const video = await this.#link.video(spaceId);
		const roles = this.#link.stageRoles(spaceId);
		for (const peer of stage.peers) {
			const role = roles.get(peer.id);
			if (!role) continue;
			const grants = publishGrantsFor(role, { video }, policy);
			if (!grants.screen) this.stop(stage, 'not_allowed', peer.id);
			peer.setGrants(grants);
		}
	}

	/** Before a participant's grants follow a new role: their share ends if the role no longer shares. */
	roleChanged(spaceId: SpaceId, stage: Stage | undefined, participantId: string, role: Role, video: boolean): void {
		if (!publishGrantsFor(role, { video }, this.policy(spaceId)).screen) this.stop(stage, 'demoted', participantId);
	}

	/** Share news from another node. The node hosting the stage knows the share; the policy may come from any node. */
	async fromRelay(spaceId: SpaceId, data: ShareRelay, stages: StageRegistry): Promise<void> {
		const before = this.state(spaceId);
		const local = stages.get(spaceId) !== undefined;
		const state = { share: local ? before.share : data.share, speakersMayShare: data.speakersMayShare };
		this.#set(spaceId, state);
		this.#link.broadcast(spaceId, { ...state, ...(!local && data.ended && { ended: data.ended }) });
		if (local && data.speakersMayShare !== before.speakersMayShare) await this.#applyPolicy(spaceId, stages);
	}

	/** The space ended, or this node no longer serves it. */
	forget(spaceId: SpaceId): void {
		this.#state.delete(spaceId);
	}

	#publish(spaceId: SpaceId, change: { share: ShareInfo | null; ended?: ShareRelay['ended'] }): void {
		const state = { ...this.state(spaceId), share: change.share };
		this.#set(spaceId, state);
		const data: ShareRelay = { ...state, ...(change.ended && { ended: change.ended }) };
		this.#link.broadcast(spaceId, data);
		this.#link.relay(spaceId, data);
	}

	#set(spaceId: SpaceId, state: ShareState): void {
		this.#state.delete(spaceId);
		this.#state.set(spaceId, state);
		// Oldest first: a node serving more spaces than this forgets the least recently changed.
		while (this.#state.size > maxSpaces) this.#state.delete(this.#state.keys().next().value!);
	}
}
