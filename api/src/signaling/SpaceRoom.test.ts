import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Participant, ParticipantId, SpaceId } from '../spaces/Space.js';
import type { ClientConnection } from './ClientConnection.js';
import type { TickData } from './protocol.js';
import { SpaceRoom, type RoomLink } from './SpaceRoom.js';
import type { EncodedMessage } from './wsFrame.js';

const spaceId = 's1' as SpaceId;
const link: RoomLink = { published: () => {}, localListenersChanged: () => {} };

/** A connection as the room sees it, recording the ticks it is sent. */
function listener(i: number, ticks: TickData[]): ClientConnection {
	const participant = { id: `p${i}`, displayName: `P${i}`, role: 'listener', mute: 'none' } as unknown as Participant;
	return {
		actor: { spaceId, participantId: participant.id as ParticipantId },
		participant,
		sendEncoded: (message: EncodedMessage) => {
			const { event, data } = JSON.parse(message.payload.toString()) as { event: string; data: TickData };
			if (event === 'tick') ticks.push(data);
		},
	} as unknown as ClientConnection;
}

const claps = (ticks: TickData[]) => ticks.map((t) => t.reactions?.find((r) => r.reaction === 'clap')?.count ?? 0);

describe('SpaceRoom ticks', () => {
	let room: SpaceRoom;
	let ticks: TickData[];
	beforeEach(() => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
		ticks = [];
		room = new SpaceRoom(spaceId, 100, link);
		room.add(listener(0, ticks));
		room.flush();
		ticks.length = 0;
		// Well past the last tick: what follows comes after a quiet spell.
		vi.advanceTimersByTime(1000);
	});
	afterEach(() => {
		room.close();
		vi.useRealTimers();
	});

	it('sends a lone reaction after a quiet spell soon, not a whole tick later', () => {
		room.react('p9', 'clap');
		vi.advanceTimersByTime(14);
		expect(ticks).toHaveLength(0);
		vi.advanceTimersByTime(10);
		expect(claps(ticks)).toEqual([1]);
	});

	it('keeps a burst that arrives spread out in one tick while it keeps coming', () => {
		// 30 reactions 5 ms apart (150 ms): the first tick waits for them up to a whole tick, then ticks are spaced.
		for (let i = 0; i < 30; i++) {
			room.react(`p${100 + i}`, 'clap');
			vi.advanceTimersByTime(5);
		}
		vi.advanceTimersByTime(200);
		expect(claps(ticks).reduce((a, b) => a + b, 0)).toBe(30);
		expect(claps(ticks)).toEqual([20, 10]);
	});

	it('sends a burst spread over 40 ms whole, soon after its last reaction', () => {
		for (let i = 0; i < 9; i++) {
			room.react(`p${100 + i}`, 'clap');
			vi.advanceTimersByTime(5);
		}
		// The last came 5 ms ago; it goes once 8 ms passed without news.
		expect(ticks).toHaveLength(0);
		vi.advanceTimersByTime(4);
		expect(claps(ticks)).toEqual([9]);
	});

	it('still sends at most one tick per tick period under steady news', () => {
		for (let i = 0; i < 100; i++) {
			room.react(`p${100 + i}`, 'clap');
			vi.advanceTimersByTime(10);
		}
		vi.advanceTimersByTime(200);
		expect(claps(ticks).reduce((a, b) => a + b, 0)).toBe(100);
		expect(ticks.length).toBeLessThanOrEqual(11);
	});
});

describe('SpaceRoom hand changes and raises', () => {
	beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
	afterEach(() => vi.useRealTimers());

	/** A host's connection, recording the hand events it is sent. */
	function host(events: unknown[]): ClientConnection {
		const participant = { id: 'h', displayName: 'H', role: 'host', mute: 'none' } as unknown as Participant;
		return {
			actor: { spaceId, participantId: participant.id as ParticipantId },
			participant,
			sendEncoded: (message: EncodedMessage) => {
				const { event, data } = JSON.parse(message.payload.toString()) as { event: string; data: unknown };
				if (event === 'handQueueChanged') events.push(data);
			},
		} as unknown as ClientConnection;
	}

	it('gathers the hand changes of a tick into one event for the moderators, and past the cap says only resync', () => {
		const events: unknown[] = [];
		const room = new SpaceRoom(spaceId, 100, link);
		room.add(host(events));
		room.add(listener(1, []));
		const p = (i: number) => ({ id: `p${i}`, displayName: `P${i}`, role: 'listener' as const, mute: 'none' as const });
		room.handChanged({ raised: p(1), lowered: null }, 1);
		room.handChanged({ raised: null, lowered: 'p1' }, 0);
		vi.advanceTimersByTime(200);
		expect(events).toEqual([{ changes: [{ raised: p(1), lowered: null }, { raised: null, lowered: 'p1' }], length: 0 }]);
		for (let i = 0; i < 25; i++) room.handChanged({ raised: p(i), lowered: null }, i + 1);
		vi.advanceTimersByTime(200);
		expect(events.at(-1)).toEqual({ changes: [], length: 25, resync: true });
		expect(events).toHaveLength(2);
		room.close();
	});

	it('counts raises per participant whatever their connection, and per space', () => {
		const room = new SpaceRoom(spaceId, 100, link, { participant: { burst: 2, perSecond: 0.1 }, space: { burst: 5, perSecond: 1 } });
		const id = (i: number) => `p${i}` as ParticipantId;
		expect([room.takeRaise(id(1)), room.takeRaise(id(1)), room.takeRaise(id(1))]).toEqual([true, true, false]);
		expect([2, 3, 4, 5].map((i) => room.takeRaise(id(i)))).toEqual([true, true, true, false]);
		vi.advanceTimersByTime(1000);
		expect([room.takeRaise(id(1)), room.takeRaise(id(6)), room.takeRaise(id(7))]).toEqual([false, true, false]);
		room.close();
	});
});
