import type { ParticipantId, SpaceId } from '../spaces/Space.js';
import { hasGrant } from '../spaces/roles/grantsForRole.js';
import type { ClientConnection } from './ClientConnection.js';
import { maxHandChanges, maxTickNames, type EventData, type EventName, type HandChangeInfo, type ParticipantInfo, type ReactionKind } from './protocol.js';
import { emptyNews, isEmptyNews, mergeNews, tallyReactions, tickData, type TickNews } from './tickNews.js';
import { participantInfo } from './toWire.js';
import { TokenBucket, type RateLimit } from './TokenBucket.js';
import { encodeMessage, type EncodedMessage } from './wsFrame.js';

/** How long news after a quiet spell waits for more of its kind, at least, in ms. */
const gatherMs = 15;
/**
 * After a quiet spell the tick waits, beyond `gatherMs`, until no news came for this long (but no longer than
 * `tickMs` after the first): a burst that reaches the node spread out (a busy event loop, Redis round trips) goes out
 * whole in one tick, instead of its stragglers waiting a whole `tickMs` for the next.
 */
const settleMs = 8;
/** How long this node's first news of a tick waits before it goes to the other nodes (before `gatherMs`), in ms. */
const publishMs = 8;

/** How often hands may be raised in a space, on one node. */
export interface RaiseLimits {
	/** Per participant, whichever connection they raise from (a reconnect does not refill it). */
	participant: RateLimit;
	/** Per space, everyone together. */
	space: RateLimit;
}

/** What a room tells the rest of the cluster, and learns from it (see `ClusterRelay`). */
export interface RoomLink {
	/** This node's news of the tick that just went out (to relay to the other nodes). */
	published(spaceId: SpaceId, news: TickNews): void;
	/** This node's listener count in the space changed (or its count of hosts and co-hosts did). */
	localListenersChanged(spaceId: SpaceId, count: number): void;
}

/**
 * The connections of one space in this process, one per participant. Joins, leaves and reactions are collected
 * and sent as one `tick` message per `tickMs` to everyone, with the listener count when it changed, so a thousand
 * listeners arriving or clapping at once cost each connection one message per tick instead of a thousand. The
 * message is serialised once per tick and the same bytes go to every connection. Changes of the hand queue go to the
 * hosts and co-hosts the same way: one `handQueueChanged` per tick, with at most `maxHandChanges` changes (past that,
 * only the length and `resync`), so a crowd raising and lowering hands costs a moderator a bounded rate of bytes.
 */
export class SpaceRoom {
	readonly spaceId: SpaceId;
	readonly #connections = new Map<ParticipantId, ClientConnection>();
	/** The connections whose role may manage the stage (host, co-hosts). */
	readonly #moderators = new Set<ClientConnection>();
	readonly #tickMs: number;
	readonly #raiseLimits: RaiseLimits;
	readonly #spaceRaises: TokenBucket;
	/** Per participant who raised lately; those refilled are dropped as the map grows (`#pruneRaises`). */
	readonly #raises = new Map<ParticipantId, TokenBucket>();
	#pruneRaisesAt = 1024;
	/** Hand changes since the last tick, for the moderators; null once past `maxHandChanges` (a resync). */
	#handChanges: HandChangeInfo[] | null = [];
	#handLength: number | undefined;
	readonly #link: RoomLink;
	#joined = new Map<ParticipantId, ParticipantInfo>();
	/** Left this tick, and whether they were on stage (named first). */
	#left = new Map<ParticipantId, boolean>();
	#reactions = new Map<ReactionKind, { count: number; participantIds: string[] }>();
	/** News from other nodes since the last tick. */
	#remote: TickNews = emptyNews();
	/** This node's news already handed to the other nodes, for this node's next tick. */
	#outbox: TickNews = emptyNews();
	#publishTimer: NodeJS.Timeout | undefined;
	#publishedEarly = false;
	#timer: NodeJS.Timeout | undefined;
	#localListeners = 0;
	#localModerators = 0;
	/** The counts last told to the link. */
	#reported = { listeners: 0, moderators: 0 };
	#listenerTotal = 0;
	#announcedListeners = -1;
	#lastFlushAt = -Infinity;
	/** When the last news came, and when the pending tick's first did if it came after a quiet spell. */
	#lastNewsAt = -Infinity;
	#quietNewsAt: number | undefined;
	#closed = false;

	constructor(spaceId: SpaceId, tickMs: number, link: RoomLink, raiseLimits: RaiseLimits = { participant: { burst: 3, perSecond: 0.2 }, space: { burst: 50, perSecond: 20 } }) {
		this.spaceId = spaceId;
		this.#tickMs = tickMs;
		this.#link = link;
		this.#raiseLimits = raiseLimits;
		this.#spaceRaises = new TokenBucket(raiseLimits.space);
	}

	get size(): number {
		return this.#connections.size;
	}

	get connections(): IterableIterator<ClientConnection> {
		return this.#connections.values();
	}

	/** Listeners connected to this node. */
	get localListenerCount(): number {
		return this.#localListeners;
	}

	/** Hosts and co-hosts connected to this node. */
	get localModeratorCount(): number {
		return this.#localModerators;
	}

	/** Listeners in the space over every node, as last known. */
	get listenerCount(): number {
		return this.#listenerTotal;
	}

	get(participantId: ParticipantId): ClientConnection | undefined {
		return this.#connections.get(participantId);
	}

	/** Adds a connection; returns the one it replaces (the same participant on an older connection), if any. */
	add(connection: ClientConnection): ClientConnection | undefined {
		const id = connection.actor.participantId;
		const previous = this.#connections.get(id);
		this.#connections.set(id, connection);
		if (previous) this.#uncount(previous);
		else {
			this.#left.delete(id);
			this.#joined.set(id, participantInfo(connection.participant));
			this.#scheduleLocal();
		}
		this.#count(connection);
		this.#countsChanged();
		return previous;
	}

	/** Removes a connection if it is still the participant's current one. */
	remove(connection: ClientConnection): boolean {
		const id = connection.actor.participantId;
		if (this.#connections.get(id) !== connection) return false;
		this.#connections.delete(id);
		if (!this.#joined.delete(id)) this.#left.set(id, connection.participant.role !== 'listener');
		this.#scheduleLocal();
		this.#uncount(connection);
		this.#countsChanged();
		return true;
	}

	/** A reaction by someone (on any node's room: the relay brings the others'); it goes out with the next tick. */
	react(participantId: string, reaction: ReactionKind): void {
		const entry = this.#reactions.get(reaction) ?? { count: 0, participantIds: [] };
		entry.count++;
		if (entry.participantIds.length < maxTickNames) entry.participantIds.push(participantId);
		this.#reactions.set(reaction, entry);
		this.#scheduleLocal();
	}

	/** Another node's tick: merged into the next one here. */
	addRemote(news: TickNews): void {
		this.#remote = mergeNews(this.#remote, news);
		this.#schedule();
	}

	/** The listener count over every node; announced with the next tick if it changed. */
	setListenerTotal(count: number): void {
		this.#listenerTotal = count;
		if (count !== this.#announcedListeners) this.#schedule();
	}

	/** Sends an event to everyone here, serialised once. */
	broadcast<N extends EventName>(event: N, data: EventData[N]): void {
		if (this.#connections.size === 0) return;
		const frame = encodeEvent(event, data);
		for (const c of this.#connections.values()) c.sendEncoded(frame);
	}

	/** Sends to those on stage, who hear each other in real time (listeners hear the broadcast, later). */
	toStage<N extends EventName>(event: N, data: EventData[N]): void {
		let frame: EncodedMessage | undefined;
		for (const c of this.#connections.values()) if (c.participant.role !== 'listener') c.sendEncoded((frame ??= encodeEvent(event, data)));
	}

	/** Sends to those who may manage the stage (host and co-hosts). */
	toModerators<N extends EventName>(event: N, data: EventData[N]): void {
		if (this.#moderators.size === 0) return;
		const frame = encodeEvent(event, data);
		for (const c of this.#moderators) c.sendEncoded(frame);
	}

	/** A change of the hand queue (on any node), and its length after it: goes to the moderators with the next tick. */
	handChanged(change: HandChangeInfo, length: number): void {
		this.#handLength = length;
		if (this.#handChanges && this.#handChanges.length < maxHandChanges) this.#handChanges.push(change);
		else this.#handChanges = null;
		this.#schedule();
	}

	/**
	 * Takes one hand raise of `participantId` from their bucket and the space's; false when either is empty (the
	 * participant's is kept whatever connection they come back on).
	 */
	takeRaise(participantId: ParticipantId): boolean {
		let bucket = this.#raises.get(participantId);
		if (!bucket) {
			if (this.#raises.size >= this.#pruneRaisesAt) this.#pruneRaises();
			this.#raises.set(participantId, (bucket = new TokenBucket(this.#raiseLimits.participant)));
		}
		if (!bucket.available()) return false;
		if (!this.#spaceRaises.take()) return false;
		return bucket.take();
	}

	/** Forgets the buckets that have refilled (nothing is lost); the next prune waits until the map doubles. */
	#pruneRaises(): void {
		for (const [id, bucket] of this.#raises) if (bucket.full()) this.#raises.delete(id);
		this.#pruneRaisesAt = Math.max(1024, this.#raises.size * 2);
	}

	/** Sends the pending tick now (tests and shutdown); normally the timer does. */
	flush(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#quietNewsAt = undefined;
		this.#lastFlushAt = performance.now();
		this.#publishLocal();
		const news = mergeNews(this.#outbox, this.#remote);
		this.#outbox = emptyNews();
		this.#remote = emptyNews();
		this.#publishedEarly = false;
		this.#flushHands();
		const count = this.#listenerTotal !== this.#announcedListeners ? this.#listenerTotal : undefined;
		this.#announcedListeners = this.#listenerTotal;
		const data = tickData(news, count);
		if (data) this.broadcast('tick', data);
	}

	/** Counts this node's listeners and moderators again (after a role change) and tells the link if they moved. */
	recount(): void {
		this.#localListeners = 0;
		this.#moderators.clear();
		for (const c of this.#connections.values()) this.#count(c);
		this.#countsChanged();
	}

	#count(c: ClientConnection): void {
		if (c.participant.role === 'listener') this.#localListeners++;
		else if (hasGrant(c.participant.role, 'manage_stage')) this.#moderators.add(c);
	}

	/** Takes back what `#count` counted of `c`, with the role it was counted under. */
	#uncount(c: ClientConnection): void {
		if (!this.#moderators.delete(c) && c.participant.role === 'listener') this.#localListeners--;
	}

	#countsChanged(): void {
		const moderators = this.#moderators.size;
		if (this.#reported.listeners === this.#localListeners && this.#reported.moderators === moderators) return;
		this.#reported = { listeners: this.#localListeners, moderators };
		this.#localModerators = moderators;
		this.#link.localListenersChanged(this.spaceId, this.#localListeners);
	}

	/** The hand changes of the tick to the moderators: the changes, or past `maxHandChanges` only the length. */
	#flushHands(): void {
		const length = this.#handLength;
		if (length === undefined) return;
		const changes = this.#handChanges;
		this.#handLength = undefined;
		this.#handChanges = [];
		this.toModerators('handQueueChanged', changes ? { changes, length } : { changes: [], length, resync: true });
	}

	close(): void {
		this.#closed = true;
		if (this.#timer) clearTimeout(this.#timer);
		if (this.#publishTimer) clearTimeout(this.#publishTimer);
		this.#timer = undefined;
		this.#publishTimer = undefined;
	}

	/** Hands this node's news so far to the link (for the other nodes) and keeps it for this node's next tick. */
	#publishLocal(): void {
		if (this.#publishTimer) clearTimeout(this.#publishTimer);
		this.#publishTimer = undefined;
		const local = this.#localNews();
		if (isEmptyNews(local)) return;
		this.#link.published(this.spaceId, local);
		this.#outbox = mergeNews(this.#outbox, local);
	}

	/**
	 * News of this node: goes out with the next tick, and to the other nodes early, the first of a tick after
	 * `publishMs`, so it reaches them before their own ticks of the same burst (at most two relay messages a tick).
	 */
	#scheduleLocal(): void {
		this.#schedule();
		if (this.#closed || this.#publishedEarly || this.#publishTimer) return;
		this.#publishTimer = setTimeout(() => {
			this.#publishTimer = undefined;
			this.#publishedEarly = true;
			this.#publishLocal();
		}, Math.min(publishMs, this.#tickMs / 2));
	}

	#localNews(): TickNews {
		const stageFirst = (a: [unknown, boolean], b: [unknown, boolean]) => Number(b[1]) - Number(a[1]);
		const joined = [...this.#joined.values()];
		const news: TickNews = {
			joined: [...joined.filter((p) => p.role !== 'listener'), ...joined.filter((p) => p.role === 'listener').slice(0, maxTickNames)],
			joinedCount: joined.length,
			left: [...this.#left].sort(stageFirst).slice(0, maxTickNames).map(([id]) => id),
			leftCount: this.#left.size,
			reactions: tallyReactions(this.#reactions),
		};
		this.#joined = new Map();
		this.#left = new Map();
		this.#reactions = new Map();
		return news;
	}

	/**
	 * At most one tick per `tickMs`; news after a quiet spell waits only `gatherMs`, and while more keeps coming
	 * `settleMs` (a burst of reactions sent together arrives over a few ms and should go out together), so a lone
	 * hand-clap is not held a whole tick.
	 */
	#schedule(): void {
		const now = performance.now();
		this.#lastNewsAt = now;
		if (this.#closed || this.#timer) return;
		const gather = now + Math.min(gatherMs, this.#tickMs);
		const spaced = this.#lastFlushAt + this.#tickMs;
		if (gather >= spaced) this.#quietNewsAt = now;
		this.#timer = setTimeout(() => this.#due(), Math.max(spaced, gather) - now);
	}

	/** The tick's timer: after a quiet spell, waits while news is still arriving (see `settleMs`); else flushes. */
	#due(): void {
		this.#timer = undefined;
		if (this.#quietNewsAt !== undefined) {
			const now = performance.now();
			const at = Math.min(this.#lastNewsAt + settleMs, this.#quietNewsAt + this.#tickMs);
			if (at > now + 1) {
				this.#timer = setTimeout(() => this.#due(), at - now);
				return;
			}
		}
		this.flush();
	}
}

/** An event as one WebSocket text message, shared by every connection it goes to. */
export function encodeEvent<N extends EventName>(event: N, data: EventData[N]): EncodedMessage {
	return encodeMessage({ event, data });
}
