import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { captionModes, type SpaceId } from '../spaces/Space.js';
import { reactionKinds } from './protocol.js';
import type { ShareRelay } from './ScreenShares.js';
import type { TickNews } from './tickNews.js';

/**
 * What one API node tells the others about a space:
 *   tick      its crowd news of one tick (joins, leaves, reactions), merged into theirs
 *   listeners its listener count changed: re-read the total (`ListenerTally`)
 *   event     a SpaceService event that happened on it (role, hand queue, mute, pins, removal, revocation, space
 *             state), each validated in full by its name (`relayedEventSchemas`)
 *   activeSpeaker  its stage's loudest speaker changed
 *   screenShare    its stage's screen share started, changed or ended, or a host switched who may share
 */
export type RelayBody =
	| { t: 'tick'; news: TickNews }
	| { t: 'listeners' }
	| { t: 'event'; name: string; data: Record<string, unknown> }
	| { t: 'activeSpeaker'; participantId: string | null }
	| ({ t: 'screenShare' } & ShareRelay);

const role = z.enum(['host', 'cohost', 'speaker', 'listener']);
const participantInfo = z.object({ id: z.string(), displayName: z.string(), role, mute: z.enum(['none', 'self', 'moderator']) });
const count = z.number().int().min(0);
const tickNews = z.object({
	joined: z.array(participantInfo),
	joinedCount: count,
	left: z.array(z.string()),
	leftCount: count,
	reactions: z.array(z.object({ reaction: z.enum(reactionKinds), count, participantIds: z.array(z.string()).optional() })),
});
const relayBody = z.discriminatedUnion('t', [
	z.object({ t: z.literal('tick'), news: tickNews }),
	z.object({ t: z.literal('listeners') }),
	z.object({ t: z.literal('event'), name: z.string().max(64), data: z.record(z.string(), z.unknown()) }),
	z.object({ t: z.literal('activeSpeaker'), participantId: z.string().nullable() }),
	// Goes to clients as it is: checked in full.
	z.strictObject({
		t: z.literal('screenShare'),
		share: z
			.strictObject({
				participantId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
				producerId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
				audio: z.boolean(),
				startedAt: z.number().int().min(0),
			})
			.nullable(),
		speakersMayShare: z.boolean(),
		ended: z
			.strictObject({
				participantId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
				reason: z.enum(['stopped', 'stopped_by_moderator', 'replaced', 'left', 'demoted', 'not_allowed', 'too_large', 'too_fast', 'stage_closed']),
			})
			.optional(),
	}),
]);
/**
 * Every relayed SpaceService event, by name, checked in full on arrival: another node's word is still input, and what
 * it says closes connections, goes to clients or steers what they are sent. Bounds are those of what a node accepts
 * from its own clients, or wider.
 */
const relayId = z.string().min(1).max(64);
/** A participant id as ids are made (base64url): what a hand change names goes to moderators as it is. */
const participantId = relayId.regex(/^[A-Za-z0-9_-]+$/);
/** A space as the store keeps it (titles of at most 120 characters and descriptions of 2,000 are accepted). */
const relayedSpace = z.object({
	id: relayId,
	title: z.string().max(500),
	description: z.string().max(8000),
	state: z.enum(['created', 'live', 'ended']),
	hostId: relayId,
	settings: z.object({ captionMode: z.enum(captionModes), recording: z.boolean(), video: z.boolean(), maxSpeakers: z.number().int().min(1) }),
	createdAt: z.number(),
	startedAt: z.number().nullable(),
	endedAt: z.number().nullable(),
});
/** A participant as the store keeps it; what clients may see of it goes on (ids as they are made, names bounded). */
const relayedParticipant = participantInfo.extend({ id: participantId, displayName: z.string().max(200), joinedAt: z.number() });
export const relayedEventSchemas = {
	spaceState: z.object({ space: relayedSpace }),
	settingsChanged: z.object({ space: relayedSpace }),
	roleChanged: z.object({ spaceId: relayId, participant: relayedParticipant, previousRole: role }),
	muteChanged: z.object({ spaceId: relayId, participant: relayedParticipant }),
	// Pins are people on stage: at most SPACE_MAX_SPEAKERS_LIMIT, itself at most 100.
	pinnedChanged: z.object({ spaceId: relayId, pinned: z.array(participantId).max(100) }),
	tokensRevoked: z.strictObject({
		spaceId: relayId,
		participantId: relayId,
		generation: z.number().int().min(1),
		reason: z.enum(['revoked', 'rotated']),
		keepTokenId: z.string().max(64).optional(),
	}),
	participantRemoved: z.object({ spaceId: relayId, participant: relayedParticipant, banned: z.boolean() }),
	handQueueChanged: z.object({
		spaceId: relayId,
		raised: relayedParticipant.nullable(),
		lowered: participantId.nullable(),
		length: count,
		position: z.number().int().min(1).optional(),
	}),
	spaceEnding: z.strictObject({ spaceId: relayId, reason: z.enum(['idle', 'max_duration']), endsAt: z.number().int().min(0) }),
	spaceEndingCancelled: z.strictObject({ spaceId: relayId }),
} as const;

/** `seq` orders one node's messages: a receiver drops any it has seen (a node id is new with every process). */
const envelope = z.object({ node: z.string().min(1).max(128), seq: z.number().int().min(1), spaceId: z.string().min(1).max(64), body: relayBody });

export interface ClusterRelayOptions {
	/** Publishes (any connection; it is not put in subscriber mode). */
	redis: Redis;
	/** A connection of its own, for SUBSCRIBE; closed by `close()`. */
	subscriber: Redis;
	prefix: string;
	/** Unique per process. */
	nodeId: string;
	logger: Logger;
	onMessage: (spaceId: SpaceId, body: RelayBody, fromNode: string) => void;
	/**
	 * Called once these spaces' channels are subscribed: after `watch`, and for every watched space after the
	 * subscriber reconnected. Whatever was published before may have been missed (the caller reads the state again).
	 */
	onSubscribed?: (spaceIds: SpaceId[]) => void;
}

/**
 * Relays signaling between the API nodes that serve one space, over a Redis pub/sub channel per space
 * (`<prefix>:signal:{spaceId}`). A node subscribes while it has connections in the space. Every message names its
 * node and a sequence number: a node skips its own messages (it applied them locally already) and any it has
 * seen, so each client gets each event once. Pub/sub is fire-and-forget: a node that was not subscribed yet, or
 * whose subscriber lost its connection, misses what was said meanwhile; a client's `getState` on connecting covers
 * the state, and `onSubscribed` tells the node when to check what it holds again (revocations).
 */
export class ClusterRelay {
	readonly nodeId: string;
	readonly #redis: Redis;
	readonly #subscriber: Redis;
	readonly #prefix: string;
	readonly #logger: Logger;
	readonly #onMessage: ClusterRelayOptions['onMessage'];
	readonly #onSubscribed: ClusterRelayOptions['onSubscribed'];
	/** The subscriber's connection closed since it was last ready: on the next 'ready', subscribe again and say so. */
	#lost = false;
	readonly #lastSeq = new Map<string, number>();
	readonly #watched = new Set<string>();
	#seq = 0;
	#closed = false;

	constructor(options: ClusterRelayOptions) {
		this.nodeId = options.nodeId;
		this.#redis = options.redis;
		this.#subscriber = options.subscriber;
		this.#prefix = options.prefix;
		this.#logger = options.logger;
		this.#onMessage = options.onMessage;
		this.#subscriber.on('message', (_channel: string, text: string) => this.#receive(text));
		this.#onSubscribed = options.onSubscribed;
		this.#subscriber.on('error', (error: unknown) => this.#logger.warn({ err: error }, 'relay subscriber error'));
		this.#subscriber.on('close', () => (this.#lost = true));
		this.#subscriber.on('ready', () => {
			if (!this.#lost || this.#closed) return;
			this.#lost = false;
			void this.#resubscribed();
		});
	}

	/**
	 * ioredis subscribes again on its own after a reconnect; subscribing here too (harmless) says when the channels
	 * are live again, after which the messages missed meanwhile are what the node must make up for.
	 */
	async #resubscribed(): Promise<void> {
		const channels = [...this.#watched];
		if (channels.length === 0) return;
		try {
			await this.#subscriber.subscribe(...channels);
		} catch (error) {
			this.#logger.warn({ err: error }, 'relay resubscribe failed');
			return;
		}
		this.#logger.info({ channels: channels.length }, 'relay subscriber reconnected');
		this.#onSubscribed?.(channels.map((channel) => this.#spaceIdOf(channel)));
	}

	/** Starts receiving a space's messages (idempotent). */
	watch(spaceId: SpaceId): void {
		const channel = this.#channel(spaceId);
		if (this.#closed || this.#watched.has(channel)) return;
		this.#watched.add(channel);
		this.#subscriber.subscribe(channel).then(
			() => {
				if (this.#watched.has(channel)) this.#onSubscribed?.([spaceId]);
			},
			(error: unknown) => this.#logger.warn({ err: error, spaceId }, 'relay subscribe failed'),
		);
	}

	unwatch(spaceId: SpaceId): void {
		const channel = this.#channel(spaceId);
		if (!this.#watched.delete(channel) || this.#closed) return;
		this.#subscriber.unsubscribe(channel).catch(() => {});
	}

	publish(spaceId: SpaceId, body: RelayBody): void {
		if (this.#closed) return;
		const message = JSON.stringify({ node: this.nodeId, seq: ++this.#seq, spaceId, body });
		this.#redis.publish(this.#channel(spaceId), message).catch((error: unknown) => this.#logger.warn({ err: error, spaceId }, 'relay publish failed'));
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#subscriber.disconnect();
	}

	#channel(spaceId: SpaceId): string {
		return `${this.#prefix}:signal:{${spaceId}}`;
	}

	#spaceIdOf(channel: string): SpaceId {
		return channel.slice(`${this.#prefix}:signal:{`.length, -1) as SpaceId;
	}

	#receive(text: string): void {
		let parsed: z.output<typeof envelope>;
		try {
			const result = envelope.safeParse(JSON.parse(text));
			if (!result.success) throw result.error;
			parsed = result.data;
		} catch (error) {
			this.#logger.warn({ err: error }, 'relay: unreadable message dropped');
			return;
		}
		const { node, seq, spaceId, body } = parsed;
		if (node === this.nodeId) return;
		if (seq <= (this.#lastSeq.get(node) ?? 0)) return;
		this.#lastSeq.set(node, seq);
		try {
			this.#onMessage(spaceId as SpaceId, body as RelayBody, node);
		} catch (error) {
			this.#logger.error({ err: error, spaceId }, 'relay: handling a message failed');
		}
	}
}
