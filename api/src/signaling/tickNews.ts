import { maxReactionNames, maxTickNames, reactionKinds, type ParticipantInfo, type ReactionKind, type ReactionTally, type TickData } from './protocol.js';

/**
 * The crowd news of one tick: who came, who went, what they reacted. One node collects its own; nodes exchange
 * theirs over Redis and merge them, so the size of a tick depends on the kinds of news, not on the crowd.
 * Plain JSON (it travels between nodes as it is).
 */
export interface TickNews {
	/** Stage members all, listeners up to `maxTickNames`. */
	joined: ParticipantInfo[];
	joinedCount: number;
	/** Stage members first, at most `maxTickNames` in all. */
	left: string[];
	leftCount: number;
	/** One entry per kind, in `reactionKinds` order. */
	reactions: ReactionTally[];
}

export function emptyNews(): TickNews {
	return { joined: [], joinedCount: 0, left: [], leftCount: 0, reactions: [] };
}

export function isEmptyNews(news: TickNews): boolean {
	return news.joinedCount === 0 && news.leftCount === 0 && news.reactions.length === 0;
}

/** Keeps every stage member and the first `maxTickNames` listeners. */
export function capJoined(joined: readonly ParticipantInfo[]): ParticipantInfo[] {
	let listeners = 0;
	return joined.filter((p) => p.role !== 'listener' || listeners++ < maxTickNames);
}

/** Counts reactions by kind; names who reacted only while few did. `byKind` lists each reaction's participant. */
export function tallyReactions(byKind: ReadonlyMap<ReactionKind, { count: number; participantIds: readonly string[] }>): ReactionTally[] {
	const tallies: ReactionTally[] = [];
	for (const reaction of reactionKinds) {
		const entry = byKind.get(reaction);
		if (!entry || entry.count === 0) continue;
		tallies.push(entry.count <= maxReactionNames ? { reaction, count: entry.count, participantIds: entry.participantIds.slice(0, maxReactionNames) } : { reaction, count: entry.count });
	}
	return tallies;
}

/** Two ticks' news as one (this node's and another's, or several nodes'); `a`'s names come first. */
export function mergeNews(a: TickNews, b: TickNews): TickNews {
	const byKind = new Map<ReactionKind, { count: number; participantIds: string[] }>();
	for (const t of [...a.reactions, ...b.reactions]) {
		const entry = byKind.get(t.reaction) ?? { count: 0, participantIds: [] };
		entry.count += t.count;
		entry.participantIds.push(...(t.participantIds ?? []));
		byKind.set(t.reaction, entry);
	}
	return {
		joined: capJoined([...a.joined, ...b.joined]),
		joinedCount: a.joinedCount + b.joinedCount,
		left: [...a.left, ...b.left].slice(0, maxTickNames),
		leftCount: a.leftCount + b.leftCount,
		// A kind whose names were dropped on either side (count above the names it carries) stays unnamed.
		reactions: tallyReactions(
			new Map([...byKind].map(([k, v]) => [k, v.participantIds.length === v.count ? v : { count: v.count, participantIds: [] }])),
		).map((t) => (t.participantIds?.length === 0 ? { reaction: t.reaction, count: t.count } : t)),
	};
}

/** The `tick` event for the news and, when it changed, the listener count; undefined when there is nothing to say. */
export function tickData(news: TickNews, listenerCount: number | undefined): TickData | undefined {
	const data: TickData = {};
	if (news.joinedCount > 0) {
		data.joined = news.joined;
		data.joinedCount = news.joinedCount;
	}
	if (news.leftCount > 0) {
		data.left = news.left;
		data.leftCount = news.leftCount;
	}
	if (listenerCount !== undefined) data.listenerCount = listenerCount;
	if (news.reactions.length > 0) data.reactions = news.reactions;
	return Object.keys(data).length > 0 ? data : undefined;
}
