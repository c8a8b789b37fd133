import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
	stageLinkKeys,
	stageLinkMethods,
	stageLinkReplySchema,
	stageLinkSnapshotSchema,
	type StageLinkMethod,
	type StageLinkParams,
	type StageLinkRequest,
	type StageLinkResult,
	type StageLinkSnapshot,
} from './stageLinkProtocol.js';

/** A stage-link call that failed: the node answered an error, or did not answer in time (`code: 'timeout'`). */
export class StageLinkError extends Error {
	override readonly name = 'StageLinkError';
	readonly code: string;

	constructor(code: string, message: string) {
		super(message);
		this.code = code;
	}
}

interface Pending {
	method: StageLinkMethod;
	resolve: (value: unknown) => void;
	reject: (error: Error) => void;
	timer: NodeJS.Timeout;
}

/**
 * A transcoder's end of the stage link: reads and watches a space's stage snapshots, and calls the hosting node to
 * consume its producers. One instance per transcoder process; every reply is validated before it is trusted.
 */
export class StageLinkClient {
	readonly #redis: Redis;
	readonly #subscriber: Redis;
	readonly #prefix: string;
	readonly #replyChannel: string;
	readonly #pending = new Map<string, Pending>();
	readonly #watchers = new Map<string, Set<(snapshot: StageLinkSnapshot) => void>>();
	readonly #versions = new Map<string, number>();
	#closed = false;

	private constructor(redis: Redis, subscriber: Redis, prefix: string) {
		this.#redis = redis;
		this.#subscriber = subscriber;
		this.#prefix = prefix;
		this.#replyChannel = stageLinkKeys.replyChannel(prefix, randomUUID());
		subscriber.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
	}

	static async create(redis: Redis, prefix: string): Promise<StageLinkClient> {
		const client = new StageLinkClient(redis, redis.duplicate(), prefix);
		await client.#subscriber.subscribe(client.#replyChannel);
		return client;
	}

	/** The latest snapshot of a space's stage, or undefined when no node hosts it. */
	async snapshot(spaceId: string): Promise<StageLinkSnapshot | undefined> {
		const raw = await this.#redis.get(stageLinkKeys.snapshotKey(this.#prefix, spaceId));
		return raw === null ? undefined : parseSnapshot(raw);
	}

	/** Calls `onSnapshot` for every newer snapshot of the space until the returned function is called. */
	async watch(spaceId: string, onSnapshot: (snapshot: StageLinkSnapshot) => void): Promise<() => Promise<void>> {
		const channel = stageLinkKeys.snapshotChannel(this.#prefix, spaceId);
		let set = this.#watchers.get(channel);
		if (!set) {
			set = new Set();
			this.#watchers.set(channel, set);
			await this.#subscriber.subscribe(channel);
		}
		set.add(onSnapshot);
		return async () => {
			set.delete(onSnapshot);
			if (set.size === 0 && this.#watchers.get(channel) === set) {
				this.#watchers.delete(channel);
				if (!this.#closed) await this.#subscriber.unsubscribe(channel);
			}
		};
	}

	/** Calls `method` on `node`; rejects with a StageLinkError on an error reply or after `timeoutMs` (default 3000). */
	async call<M extends StageLinkMethod>(node: string, method: M, params: StageLinkParams<M>, timeoutMs = 3000): Promise<StageLinkResult<M>> {
		if (this.#closed) throw new StageLinkError('closed', 'StageLinkClient is closed');
		const requestId = randomUUID();
		const request: StageLinkRequest = { requestId, replyTo: this.#replyChannel, method, params };
		const reply = new Promise<unknown>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(requestId);
				reject(new StageLinkError('timeout', `stage link: ${method} on node ${node} got no reply in ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(requestId, { method, resolve, reject, timer });
		});
		// The publish below can outlast the timeout (Redis away: commands wait for it); the caller's handler is attached
		// only when this function returns, so a rejection meanwhile must not count as unhandled (it would end the process).
		reply.catch(() => undefined);
		const receivers = await this.#redis.publish(stageLinkKeys.requestChannel(this.#prefix, node), JSON.stringify(request));
		if (receivers === 0) this.#fail(requestId, new StageLinkError('unreachable', `stage link: node ${node} is not listening`));
		return reply as Promise<StageLinkResult<M>>;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		for (const requestId of [...this.#pending.keys()]) this.#fail(requestId, new StageLinkError('closed', 'StageLinkClient closed'));
		this.#subscriber.disconnect();
	}

	#onMessage(channel: string, message: string): void {
		if (channel === this.#replyChannel) return this.#onReply(message);
		const watchers = this.#watchers.get(channel);
		const snapshot = watchers && parseSnapshot(message);
		if (!watchers || !snapshot) return;
		// Pub/sub delivers in order per connection, but a node restart starts versions again: key by node too.
		const versionKey = `${snapshot.spaceId}/${snapshot.node}`;
		if ((this.#versions.get(versionKey) ?? -1) >= snapshot.version) return;
		this.#versions.set(versionKey, snapshot.version);
		for (const watcher of watchers) watcher(snapshot);
	}

	#onReply(message: string): void {
		let parsed;
		try {
			parsed = stageLinkReplySchema.safeParse(JSON.parse(message));
		} catch {
			return;
		}
		if (!parsed.success) return;
		const reply = parsed.data;
		const pending = this.#pending.get(reply.requestId);
		if (!pending) return;
		this.#pending.delete(reply.requestId);
		clearTimeout(pending.timer);
		if (!reply.ok) return pending.reject(new StageLinkError(reply.error.code, reply.error.message));
		const result = stageLinkMethods[pending.method].result.safeParse(reply.result);
		if (result.success) pending.resolve(result.data);
		else pending.reject(new StageLinkError('bad_reply', `stage link: malformed ${pending.method} reply`));
	}

	#fail(requestId: string, error: Error): void {
		const pending = this.#pending.get(requestId);
		if (!pending) return;
		this.#pending.delete(requestId);
		clearTimeout(pending.timer);
		pending.reject(error);
	}
}

function parseSnapshot(raw: string): StageLinkSnapshot | undefined {
	try {
		const parsed = stageLinkSnapshotSchema.safeParse(JSON.parse(raw));
		return parsed.success ? parsed.data : undefined;
	} catch {
		return undefined;
	}
}
