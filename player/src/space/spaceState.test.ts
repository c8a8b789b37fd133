import { describe, expect, it } from 'vitest';
import type { ParticipantInfo, StateData } from '../../../api/src/signaling/protocol.js';
import { appendHands, applyEvent, describeEnded, describeEnding, describeShareEnded, maxLoadedHands, orderStage, replaceHands, viewFromState } from './spaceState.js';

const person = (id: string, role: ParticipantInfo['role'] = 'speaker'): ParticipantInfo => ({ id, displayName: id.toUpperCase(), role, mute: 'none' });
const state = (over: Partial<StateData> = {}): StateData => ({
	space: { id: 's', title: 'T', description: '', state: 'live', hostId: 'h', settings: { captionMode: 'off', recording: false, video: false, maxSpeakers: 13 }, createdAt: 0, startedAt: 1, endedAt: null },
	you: person('me', 'listener'),
	stage: [person('h', 'host'), person('a'), person('b')],
	pinned: [],
	handQueue: [],
	handCount: 0,
	handRaised: false,
	handPosition: null,
	listenerCount: 3,
	activeSpeaker: null,
	ending: null,
	screenShare: null,
	speakersMayShare: true,
	...over,
});
const ids = (ps: ParticipantInfo[]) => ps.map((p) => p.id);

describe('space view', () => {
	it('puts pinned speakers on top in the host\'s order', () => {
		expect(ids(orderStage(state().stage, ['b', 'a']))).toEqual(['b', 'a', 'h']);
		expect(ids(viewFromState(state({ pinned: ['b'] }), 0).stage)).toEqual(['b', 'h', 'a']);
	});

	it('a pinnedChanged event reorders the stage', () => {
		const view = applyEvent(viewFromState(state(), 0), { event: 'pinnedChanged', data: { participantIds: ['b'] } });
		expect(ids(view.stage)).toEqual(['b', 'h', 'a']);
	});

	it('approving my hand puts me on stage and lowers my hand', () => {
		let view = viewFromState(state({ handRaised: true }), 0);
		view = applyEvent(view, { event: 'roleChanged', data: { participant: person('me', 'speaker'), previousRole: 'listener' } });
		expect(view.you.role).toBe('speaker');
		expect(view.handRaised).toBe(false);
		expect(ids(view.stage)).toEqual(['h', 'a', 'b', 'me']);
	});

	it('a demoted pinned speaker leaves the stage and the pinned list', () => {
		let view = viewFromState(state({ pinned: ['a'] }), 0);
		view = applyEvent(view, { event: 'roleChanged', data: { participant: person('a', 'listener'), previousRole: 'speaker' } });
		expect(ids(view.stage)).toEqual(['h', 'b']);
		expect(view.pinned).toEqual([]);
	});

	it('my place in the hand queue follows handChanged and goes when the hand is lowered', () => {
		let view = viewFromState(state(), 0);
		view = applyEvent(view, { event: 'handChanged', data: { raised: true, position: 3 } });
		expect([view.handRaised, view.handPosition]).toEqual([true, 3]);
		view = applyEvent(view, { event: 'handChanged', data: { raised: true, position: 2 } });
		expect(view.handPosition).toBe(2);
		view = applyEvent(view, { event: 'handChanged', data: { raised: false } });
		expect([view.handRaised, view.handPosition]).toEqual([false, null]);
	});

	it('mute, active speaker and listener count events update what the stage shows', () => {
		let view = viewFromState(state(), 0);
		view = applyEvent(view, { event: 'muteChanged', data: { participantId: 'a', mute: 'moderator' } });
		view = applyEvent(view, { event: 'activeSpeaker', data: { participantId: 'b' } });
		view = applyEvent(view, { event: 'tick', data: { listenerCount: 9, reactions: [{ reaction: 'clap', count: 40 }] } });
		expect(view.stage.find((p) => p.id === 'a')?.mute).toBe('moderator');
		expect(view.activeSpeaker).toBe('b');
		expect(view.listenerCount).toBe(9);
	});

	it('a hand change carries only the change: the loaded hands and the count follow it', () => {
		const hands = [person('q1', 'listener'), person('q2', 'listener')];
		let view = viewFromState(state({ you: person('h', 'host'), handQueue: hands, handCount: 2 }), 0);
		view = applyEvent(view, { event: 'handQueueChanged', data: { changes: [{ raised: person('q3', 'listener'), lowered: null }], length: 3 } });
		expect([ids(view.handQueue), view.handCount]).toEqual([['q1', 'q2', 'q3'], 3]);
		view = applyEvent(view, { event: 'handQueueChanged', data: { changes: [{ raised: null, lowered: 'q1' }], length: 2 } });
		expect([ids(view.handQueue), view.handCount]).toEqual([['q2', 'q3'], 2]);
		// A tick's changes in order: raised and lowered again, lowered and raised again (now last).
		const changes = [{ raised: person('q4', 'listener'), lowered: null }, { raised: null, lowered: 'q4' }, { raised: null, lowered: 'q2' }, { raised: person('q2', 'listener'), lowered: null }];
		view = applyEvent(view, { event: 'handQueueChanged', data: { changes, length: 2 } });
		expect([ids(view.handQueue), view.handCount]).toEqual([['q3', 'q2'], 2]);
		// Too many changes in one tick: the count follows, the first page is read again.
		view = applyEvent(view, { event: 'handQueueChanged', data: { changes: [], length: 40, resync: true } });
		expect([ids(view.handQueue), view.handCount]).toEqual([['q3', 'q2'], 40]);
		view = replaceHands(view, { hands: [person('r1', 'listener')], length: 41, next: 'r1' });
		expect([ids(view.handQueue), view.handCount]).toEqual([['r1'], 41]);
	});

	it('a hand raised behind hands not loaded yet is counted, not shown, until the pages before it are', () => {
		let view = viewFromState(state({ you: person('h', 'host'), handQueue: [person('q1', 'listener')], handCount: 60 }), 0);
		view = applyEvent(view, { event: 'handQueueChanged', data: { changes: [{ raised: person('q61', 'listener'), lowered: null }], length: 61 } });
		expect([ids(view.handQueue), view.handCount]).toEqual([['q1'], 61]);
		view = appendHands(view, { hands: [person('q1', 'listener'), person('q2', 'listener'), person('q61', 'listener')], length: 61, next: null });
		expect(ids(view.handQueue)).toEqual(['q1', 'q2', 'q61']);
		const many = Array.from({ length: maxLoadedHands + 10 }, (_, i) => person(`m${i}`, 'listener'));
		expect(appendHands(view, { hands: many, length: 700, next: 'm509' }).handQueue).toHaveLength(maxLoadedHands);
	});

	it('the stage is told when the space will end on its own, counted on this device\'s clock, and when that is off', () => {
		let view = viewFromState(state({ you: person('a') }), 0);
		view = applyEvent(view, { event: 'spaceEnding', data: { reason: 'idle', endsAt: 9e12, inS: 45 } }, 1_000_000);
		expect(view.ending).toEqual({ reason: 'idle', endsAtMs: 1_045_000 });
		expect(describeEnding('idle', 45)).toBe('This space ends in 45 s: no host or co-host is connected. It carries on if one comes back.');
		expect(describeEnding('max_duration', 600)).toBe('This space ends in 10 minutes: it has been live as long as a space may be.');
		expect(describeEnded(view.ending)).toBe('This space has ended: no host or co-host was connected.');
		view = applyEvent(view, { event: 'spaceEndingCancelled', data: {} });
		expect(view.ending).toBeNull();
		expect(describeEnded(view.ending)).toBe('This space has ended.');
		const late = viewFromState(state({ ending: { reason: 'max_duration', endsAt: 5, inS: 30 } }), 2000);
		expect(late.ending).toEqual({ reason: 'max_duration', endsAtMs: 32_000 });
	});
});

describe('screen share in the view', () => {
	const share = { participantId: 'a', producerId: 'p1', audio: false, startedAt: 5 };

	it('a screenShare event sets the share and the host\'s switch, and clears the share when it ends', () => {
		const sharing = applyEvent(viewFromState(state(), 0), { event: 'screenShare', data: { share, speakersMayShare: false } });
		expect(sharing.screenShare).toEqual(share);
		expect(sharing.speakersMayShare).toBe(false);
		const ended = applyEvent(sharing, { event: 'screenShare', data: { share: null, speakersMayShare: false, ended: { participantId: 'a', reason: 'stopped_by_moderator' } } });
		expect(ended.screenShare).toBeNull();
	});

	it('says why a share ended, to its sharer and to the others', () => {
		expect(describeShareEnded('stopped_by_moderator', 'Ana', true)).toBe('Your screen share was stopped by a host.');
		expect(describeShareEnded('stopped_by_moderator', 'Ana', false)).toBe("Ana's screen share was stopped by a host.");
		expect(describeShareEnded('stopped', 'Ana', false)).toBe('Ana stopped sharing their screen.');
		expect(describeShareEnded('stopped', 'Ana', true)).toBeUndefined();
		expect(describeShareEnded('too_large', 'Ana', true)).toMatch(/larger than 1920 × 1080/);
	});
});
