import type { EventData, ParticipantInfo, StateData, WireRole } from '../../../api/src/signaling/protocol.js';

/** What the space page shows: the `getState` snapshot, kept current by signaling events. */
export interface SpaceView extends StateData {
	/** My place in the hand queue while my hand is raised (1 = next), when the server said. */
	handPosition: number | null;
}

export type SpaceEvent = { [N in keyof EventData]: { event: N; data: EventData[N] } }[keyof EventData];

export const isOnStage = (role: WireRole): boolean => role !== 'listener';
export const canModerate = (role: WireRole): boolean => role === 'host' || role === 'cohost';

/** Stage order: pinned speakers on top in the pinned list's order, then everyone else in their stage order. */
export function orderStage(stage: readonly ParticipantInfo[], pinned: readonly string[]): ParticipantInfo[] {
	const byId = new Map(stage.map((p) => [p.id, p]));
	const top = pinned.flatMap((id) => byId.get(id) ?? []);
	const rest = stage.filter((p) => !pinned.includes(p.id));
	return [...top, ...rest];
}

export function viewFromState(state: StateData): SpaceView {
	const position = state.handQueue.findIndex((p) => p.id === state.you.id);
	return { ...state, stage: orderStage(state.stage, state.pinned), handPosition: state.handRaised && position >= 0 ? position + 1 : null };
}

/** Applies one signaling event. Pure: returns a new view (or the same one when nothing the page shows changed). */
export function applyEvent(view: SpaceView, e: SpaceEvent): SpaceView {
	switch (e.event) {
		case 'roleChanged': {
			const p = e.data.participant;
			const you = p.id === view.you.id ? p : view.you;
			const others = view.stage.filter((s) => s.id !== p.id);
			const stage = isOnStage(p.role) ? [...others, p] : others;
			const pinned = isOnStage(p.role) ? view.pinned : view.pinned.filter((id) => id !== p.id);
			// Someone approved leaves the queue; the server's next queue event confirms it.
			const handQueue = view.handQueue.filter((h) => h.id !== p.id);
			const handRaised = p.id === view.you.id && isOnStage(p.role) ? false : view.handRaised;
			const handPosition = handRaised ? view.handPosition : null;
			return { ...view, you, stage: orderStage(stage, pinned), pinned, handQueue, handRaised, handPosition };
		}
		case 'muteChanged': {
			const { participantId, mute } = e.data;
			const stage = view.stage.map((p) => (p.id === participantId ? { ...p, mute } : p));
			const you = view.you.id === participantId ? { ...view.you, mute } : view.you;
			return { ...view, stage, you };
		}
		case 'pinnedChanged':
			return { ...view, pinned: e.data.participantIds, stage: orderStage(view.stage, e.data.participantIds) };
		case 'handQueueChanged':
			return { ...view, handQueue: e.data.queue };
		case 'handChanged':
			return { ...view, handRaised: e.data.raised, handPosition: e.data.raised ? (e.data.position ?? view.handPosition) : null };
		case 'activeSpeaker':
			return { ...view, activeSpeaker: e.data.participantId };
		case 'spaceState':
		case 'spaceSettings':
			return { ...view, space: e.data.space };
		case 'tick': {
			const { listenerCount } = e.data;
			const counted = listenerCount === undefined ? view : { ...view, listenerCount };
			// Stage members who (re)connect may carry a newer mute state (the server names everyone on stage).
			const joined = new Map((e.data.joined ?? []).map((p) => [p.id, p]));
			if (!view.stage.some((p) => joined.has(p.id))) return counted;
			return { ...counted, stage: view.stage.map((p) => joined.get(p.id) ?? p) };
		}
		default:
			return view;
	}
}
