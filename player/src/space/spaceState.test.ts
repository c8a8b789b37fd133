import { describe, expect, it } from 'vitest';
import type { ParticipantInfo, StateData } from '../../../api/src/signaling/protocol.js';
import { applyEvent, orderStage, viewFromState } from './spaceState.js';

const person = (id: string, role: ParticipantInfo['role'] = 'speaker'): ParticipantInfo => ({ id, displayName: id.toUpperCase(), role, mute: 'none' });
const state = (over: Partial<StateData> = {}): StateData => ({
	space: { id: 's', title: 'T', description: '', state: 'live', hostId: 'h', settings: { captionMode: 'off', recording: false, video: false, maxSpeakers: 13 }, createdAt: 0, startedAt: 1, endedAt: null },
	you: person('me', 'listener'),
	stage: [person('h', 'host'), person('a'), person('b')],
	pinned: [],
	handQueue: [],
	handRaised: false,
	listenerCount: 3,
	activeSpeaker: null,
	...over,
});
const ids = (ps: ParticipantInfo[]) => ps.map((p) => p.id);

describe('space view', () => {
	it('puts pinned speakers on top in the host\'s order', () => {
		expect(ids(orderStage(state().stage, ['b', 'a']))).toEqual(['b', 'a', 'h']);
		expect(ids(viewFromState(state({ pinned: ['b'] })).stage)).toEqual(['b', 'h', 'a']);
	});

	it('a pinnedChanged event reorders the stage', () => {
		const view = applyEvent(viewFromState(state()), { event: 'pinnedChanged', data: { participantIds: ['b'] } });
		expect(ids(view.stage)).toEqual(['b', 'h', 'a']);
	});

	it('approving my hand puts me on stage and lowers my hand', () => {
		let view = viewFromState(state({ handRaised: true }));
		view = applyEvent(view, { event: 'roleChanged', data: { participant: person('me', 'speaker'), previousRole: 'listener' } });
		expect(view.you.role).toBe('speaker');
		expect(view.handRaised).toBe(false);
		expect(ids(view.stage)).toEqual(['h', 'a', 'b', 'me']);
	});

	it('a demoted pinned speaker leaves the stage and the pinned list', () => {
		let view = viewFromState(state({ pinned: ['a'] }));
		view = applyEvent(view, { event: 'roleChanged', data: { participant: person('a', 'listener'), previousRole: 'speaker' } });
		expect(ids(view.stage)).toEqual(['h', 'b']);
		expect(view.pinned).toEqual([]);
	});

	it('my place in the hand queue follows handChanged and goes when the hand is lowered', () => {
		let view = viewFromState(state());
		view = applyEvent(view, { event: 'handChanged', data: { raised: true, position: 3 } });
		expect([view.handRaised, view.handPosition]).toEqual([true, 3]);
		view = applyEvent(view, { event: 'handChanged', data: { raised: true, position: 2 } });
		expect(view.handPosition).toBe(2);
		view = applyEvent(view, { event: 'handChanged', data: { raised: false } });
		expect([view.handRaised, view.handPosition]).toEqual([false, null]);
	});

	it('mute, active speaker and listener count events update what the stage shows', () => {
		let view = viewFromState(state());
		view = applyEvent(view, { event: 'muteChanged', data: { participantId: 'a', mute: 'moderator' } });
		view = applyEvent(view, { event: 'activeSpeaker', data: { participantId: 'b' } });
		view = applyEvent(view, { event: 'tick', data: { listenerCount: 9, reactions: [{ reaction: 'clap', count: 40 }] } });
		expect(view.stage.find((p) => p.id === 'a')?.mute).toBe('moderator');
		expect(view.activeSpeaker).toBe('b');
		expect(view.listenerCount).toBe(9);
	});
});
