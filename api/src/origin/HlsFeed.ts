import { decodeHlsMessage, hlsRedisKeys, type HlsMessage } from '@tribune/transcoder';
import { once } from 'node:events';
import type { Redis } from 'ioredis';

/** Where an origin gets a stream's packager events from. */
export interface HlsFeed {
	/**
	 * Delivers the stream's recent history, then every new event, in sequence order and without duplicates; a gap
	 * in the live messages is filled from the history when it still holds the missing events. Resolves once the
	 * history is delivered; returns a function that stops the delivery.
	 */
	follow(streamId: string, onMessage: (message: HlsMessage) => void): Promise<() => void>;
	/** Whether a packager has published this stream recently (its head is still there). */
	exists(streamId: string): Promise<boolean>;
}

/**
 * Follows streams through Redis (see RedisHlsPublisher for the keys). Subscribes first, then reads the head hash
 * and the log in one MULTI, then replays history and whatever arrived meanwhile, merged by sequence number: no event
 * is lost between the snapshot and the subscription, nor across a reconnection while the log still holds it. One
 * subscriber connection serves every stream.
 */
export class RedisHlsFeed implements HlsFeed {
	readonly #subscriber: Redis;
	readonly #client: Redis;
	readonly #prefix: string;
	readonly #handlers = new Map<string, (message: HlsMessage) => void>();

	/** `subscriber` is given over to pub/sub; `client` runs ordinary commands. */
	constructor(subscriber: Redis, client: Redis, prefix: string) {
		this.#subscriber = subscriber;
		this.#client = client;
		this.#prefix = prefix;
		subscriber.on('messageBuffer', (channel: Buffer, frame: Buffer) => {
			const handler = this.#handlers.get(channel.toString());
			if (!handler) return;
			try {
				handler(decodeHlsMessage(frame));
			} catch {
				// A malformed frame is dropped; the next segment start resynchronises the stream.
			}
		});
	}

	async follow(streamId: string, onMessage: (message: HlsMessage) => void): Promise<() => void> {
		const keys = hlsRedisKeys(this.#prefix, streamId);
		let last = -1;
		let pending: HlsMessage[] = [];
		let live = false;
		let filling = false;
		const deliver = (messages: HlsMessage[]): void => {
			for (const message of messages.sort((a, b) => a.event.seq - b.event.seq)) {
				if (message.event.seq <= last) continue;
				last = message.event.seq;
				onMessage(message);
			}
		};
		// A message past a gap (pub/sub drops messages while the connection is down) waits while the log fills it.
		const backfill = async (): Promise<void> => {
			filling = true;
			const history = await this.#history(keys).catch(() => []);
			filling = false;
			const waiting = pending;
			pending = [];
			deliver([...history, ...waiting]);
		};
		this.#handlers.set(keys.channel, (message) => {
			if (!live || filling) {
				pending.push(message);
			} else if (message.event.seq <= last + 1) {
				deliver([message]);
			} else {
				pending.push(message);
				void backfill();
			}
		});
		// A SUBSCRIBE queued before the connection is ready breaks ioredis' ready check (INFO is refused then).
		if (this.#subscriber.status !== 'ready') await once(this.#subscriber, 'ready');
		await this.#subscriber.subscribe(keys.channel);
		const history = await this.#history(keys);
		const early = pending;
		pending = [];
		deliver([...history, ...early]);
		live = true;
		return () => {
			this.#handlers.delete(keys.channel);
			void this.#subscriber.unsubscribe(keys.channel).catch(() => {});
		};
	}

	async exists(streamId: string): Promise<boolean> {
		return (await this.#client.exists(hlsRedisKeys(this.#prefix, streamId).head)) === 1;
	}

	/** The stream's head (descriptor, init sections) and log, read in one MULTI. */
	async #history(keys: ReturnType<typeof hlsRedisKeys>): Promise<HlsMessage[]> {
		const results = await this.#client.multi().hgetallBuffer(keys.head).xrangeBuffer(keys.log, '-', '+').exec();
		const head = (results?.[0]?.[1] ?? {}) as Record<string, Buffer>;
		const log = (results?.[1]?.[1] ?? []) as [Buffer, Buffer[]][];
		return [...Object.values(head), ...log.map(([, fields]) => fields[1] as Buffer)].map(decodeHlsMessage);
	}
}
