import type { EventData, HandPage, ParticipantInfo, ShareEndReason, SpaceEndReason, StateData, WireRole } from '../../../api/src/signaling/protocol.js';

/** An end the stage was warned of, timed on this device's clock (its own clock may be off the server's). */
export interface LocalEnding {
	reason: SpaceEndReason;
	/** When it ends, on this device's clock (epoch ms). */
	endsAtMs: number;
}

/** What the space page shows: the `getState` snapshot, kept current by signaling events. */
export interface SpaceView extends Omit<StateData, 'ending'> {
	/**
	 * The raised hands loaded so far (a moderator's), first raised first: the first page, then the pages asked for, at
	 * most `maxLoadedHands`; `handCount` counts them all.
	 */
	handQueue: ParticipantInfo[];
	/** The space is about to end on its own (told to those on stage). */
	ending: LocalEnding | null;
}

/** Raised hands the host panel keeps at most (the queue's first ones; the count says how many more). */
export const maxLoadedHands = 500;

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

/** `nowMs`: this device's clock when the state arrived (an end's time left is counted from it). */
export function viewFromState(state: StateData, nowMs: number): SpaceView {
	const ending = state.ending && { reason: state.ending.reason, endsAtMs: nowMs + state.ending.inS * 1000 };
	return { ...state, stage: orderStage(state.stage, state.pinned), handPosition: state.handRaised ? state.handPosition : null, ending };
}

/** Adds a page of hands (`listHands`) after those loaded: each once, at most `maxLoadedHands`. */
export function appendHands(view: SpaceView, page: HandPage): SpaceView {
	const loaded = new Set(view.handQueue.map((p) => p.id));
	const handQueue = [...view.handQueue, ...page.hands.filter((p) => !loaded.has(p.id))].slice(0, maxLoadedHands);
	return { ...view, handQueue, handCount: page.length };
}

/** The first page of hands read again (after a `resync`): it replaces those loaded. */
export function replaceHands(view: SpaceView, page: HandPage): SpaceView {
	return { ...view, handQueue: page.hands.slice(0, maxLoadedHands), handCount: page.length };
}

/**
 * Applies one signaling event. Pure: returns a new view (or the same one when nothing the page shows changed).
 * `nowMs`: this device's clock as the event arrived.
 */
export function applyEvent(view: SpaceView, e: SpaceEvent, nowMs = 0): SpaceView {
	switch (e.event) {
		case 'roleChanged': {
			const p = e.data.participant;
			const you = p.id === view.you.id ? p : view.you;
			const others = view.stage.filter((s) => s.id !== p.id);
			const stage = isOnStage(p.role) ? [...others, p] : others;
			const pinned = isOnStage(p.role) ? view.pinned : view.pinned.filter((id) => id !== p.id);
			// Someone approved leaves the queue; the server's next queue event confirms it (with the length).
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
		case 'handQueueChanged': {
			const { changes, length } = e.data;
			// Everything raised so far is loaded: a new hand (raised last) belongs at the end of what is shown. (A
			// `resync` keeps what is shown until the first page is read again: `replaceHands`.)
			const complete = view.handQueue.length >= view.handCount;
			let handQueue = view.handQueue;
			for (const { raised, lowered } of changes) {
				if (lowered) handQueue = handQueue.filter((p) => p.id !== lowered);
				if (raised && complete && handQueue.length < maxLoadedHands && !handQueue.some((p) => p.id === raised.id)) handQueue = [...handQueue, raised];
			}
			return { ...view, handQueue, handCount: length };
		}
		case 'handChanged':
			return { ...view, handRaised: e.data.raised, handPosition: e.data.raised ? (e.data.position ?? view.handPosition) : null };
		case 'spaceEnding':
			return { ...view, ending: { reason: e.data.reason, endsAtMs: nowMs + e.data.inS * 1000 } };
		case 'spaceEndingCancelled':
			return { ...view, ending: null };
		case 'activeSpeaker':
			return { ...view, activeSpeaker: e.data.participantId };
		case 'screenShare':
			return { ...view, screenShare: e.data.share, speakersMayShare: e.data.speakersMayShare };
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

/** A sentence for the stage: the space is about to end on its own, `secondsLeft` from now. */
export function describeEnding(reason: SpaceEndReason, secondsLeft: number): string {
	const s = Math.max(0, Math.round(secondsLeft));
	const when = s >= 120 ? `in ${Math.round(s / 60)} minutes` : s > 0 ? `in ${s} s` : 'now';
	return reason === 'idle'
		? `This space ends ${when}: no host or co-host is connected. It carries on if one comes back.`
		: `This space ends ${when}: it has been live as long as a space may be.`;
}

/** A sentence for a space that ended on its own after the warning `ending` (or without one: a host ended it). */
export function describeEnded(ending: LocalEnding | null): string {
	if (ending?.reason === 'idle') return 'This space has ended: no host or co-host was connected.';
	if (ending?.reason === 'max_duration') return 'This space has ended: it was live as long as a space may be.';
	return 'This space has ended.';
}

/**
 * A sentence for a screen share that ended, or undefined when it needs none (you stopped it, left, the stage
 * closed). `whose`: the sharer's name; `you`: the sharer is this participant.
 */
export function describeShareEnded(reason: ShareEndReason, whose: string, you: boolean): string | undefined {
	const subject = you ? 'Your screen share' : `${whose}'s screen share`;
	switch (reason) {
		case 'stopped':
			return you ? undefined : `${whose} stopped sharing their screen.`;
		case 'stopped_by_moderator':
			return `${subject} was stopped by a host.`;
		case 'replaced':
			return `${subject} was replaced by another.`;
		case 'left':
			return you ? undefined : `${subject} ended: they left the stage.`;
		case 'demoted':
			return `${subject} ended: ${you ? 'you are' : 'they are'} no longer on stage as a presenter.`;
		case 'not_allowed':
			return `${subject} ended: a host turned off screen sharing for speakers.`;
		case 'too_large':
			return `${subject} ended: its picture is larger than 1920 × 1080.`;
		case 'too_fast':
			return `${subject} ended: it sent more than the stage takes (frames or bitrate).`;
		case 'stage_closed':
			return undefined;
	}
}
