import { describe, expect, it } from 'vitest';
import { maxTickNames, type ParticipantInfo, type ReactionKind } from './protocol.js';
import { capJoined, emptyNews, isEmptyNews, mergeNews, tallyReactions, tickData, type TickNews } from './tickNews.js';

const listener = (i: number): ParticipantInfo => ({ id: `l${i}`, displayName: `L${i}`, role: 'listener', mute: 'none' });
const speaker: ParticipantInfo = { id: 's', displayName: 'S', role: 'speaker', mute: 'self' };

describe('tick news', () => {
	it('names every stage member and the first listeners of a big crowd', () => {
		const crowd = [...Array.from({ length: 50 }, (_, i) => listener(i)), speaker];
		const capped = capJoined(crowd);
		expect(capped).toHaveLength(maxTickNames + 1);
		expect(capped.at(-1)).toBe(speaker);
	});

	it('counts reactions per kind in protocol order, naming who reacted only while few did', () => {
		const byKind = new Map<ReactionKind, { count: number; participantIds: string[] }>([
			['fire', { count: 2, participantIds: ['a', 'b'] }],
			['clap', { count: 400, participantIds: ['c', 'd', 'e', 'f', 'g', 'h'] }],
		]);
		expect(tallyReactions(byKind)).toEqual([
			{ reaction: 'clap', count: 400 },
			{ reaction: 'fire', count: 2, participantIds: ['a', 'b'] },
		]);
	});

	it('merges two nodes\' news: counts add up, names stay capped, few reactions stay named', () => {
		const a: TickNews = { joined: [listener(1)], joinedCount: 1, left: ['x'], leftCount: 1, reactions: [{ reaction: 'heart', count: 1, participantIds: ['l1'] }] };
		const b: TickNews = {
			joined: Array.from({ length: maxTickNames }, (_, i) => listener(100 + i)),
			joinedCount: 3000,
			left: [],
			leftCount: 0,
			reactions: [{ reaction: 'heart', count: 2, participantIds: ['p', 'q'] }, { reaction: 'clap', count: 90 }],
		};
		const merged = mergeNews(a, b);
		expect(merged.joined).toHaveLength(maxTickNames);
		expect(merged.joined[0]!.id).toBe('l1');
		expect(merged.joinedCount).toBe(3001);
		expect(merged.leftCount).toBe(1);
		expect(merged.reactions).toEqual([
			{ reaction: 'clap', count: 90 },
			{ reaction: 'heart', count: 3, participantIds: ['l1', 'p', 'q'] },
		]);
		// Five names on one side and one on the other: six hearts are too many to name.
		const many = mergeNews({ ...emptyNews(), reactions: [{ reaction: 'heart', count: 5, participantIds: ['1', '2', '3', '4', '5'] }] }, { ...emptyNews(), reactions: [{ reaction: 'heart', count: 1, participantIds: ['6'] }] });
		expect(many.reactions).toEqual([{ reaction: 'heart', count: 6 }]);
	});

	it('says nothing when nothing happened, and the listener count alone when only it changed', () => {
		expect(isEmptyNews(emptyNews())).toBe(true);
		expect(tickData(emptyNews(), undefined)).toBeUndefined();
		expect(tickData(emptyNews(), 0)).toEqual({ listenerCount: 0 });
		expect(tickData({ ...emptyNews(), left: ['a'], leftCount: 1 }, 7)).toEqual({ left: ['a'], leftCount: 1, listenerCount: 7 });
	});
});
