import {
	stageLinkKeys,
	stageLinkLeaseMs,
	stageLinkMethods,
	stageLinkRequestSchema,
	stageLinkSnapshotSchema,
	type StageLinkMethod,
	type StageLinkReply,
	type StageLinkResult,
	type StageLinkSnapshot,
} from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { z } from 'zod';

/** Where the server finds a space's router; undefined when this node does not host the space. */
export interface StageLinkHost {
	routerFor(spaceId: string): types.Router | undefined;
}

interface Session {
	transports: Set<types.PlainTransport>;
	consumers: Map<string, types.Consumer>;
	lease: NodeJS.Timeout;
}

/** Snapshots stay readable this long after the last publish (a live space republishes on every change). */
const snapshotTtlS = 24 * 3600;

class StageLinkCallError extends Error {
	constructor(
		readonly code: string,
		message: string,
	) {
		super(message);
	}
}

/**
 * An API node's end of the stage link: publishes the stage snapshots of the spaces it hosts, and serves transcoders'
 * requests for plain-RTP consumers of their routers. What a session creates is closed when the session is released
 * or stops renewing its lease (its transcoder died), so a crashed broadcast leaks no transports.
 */
export class StageLinkServer {
	readonly #redis: Redis;
	readonly #subscriber: Redis;
	readonly #prefix: string;
	readonly #node: string;
	readonly #host: StageLinkHost;
	readonly #logger: Logger;
	readonly #leaseMs: number;
	readonly #listenIp: string;
	readonly #sessions = new Map<string, Session>();
	#closed = false;

	private constructor(options: StageLinkServerOptions, subscriber: Redis) {
		this.#redis = options.redis;
		this.#subscriber = subscriber;
		this.#prefix = options.prefix;
		this.#node = options.node;
		this.#host = options.host;
		this.#logger = options.logger;
		this.#leaseMs = options.leaseMs ?? stageLinkLeaseMs;
		this.#listenIp = options.listenIp ?? '127.0.0.1';
	}

	static async start(options: StageLinkServerOptions): Promise<StageLinkServer> {
		const server = new StageLinkServer(options, options.redis.duplicate());
		server.#subscriber.on('message', (_channel: string, message: string) => void server.#onRequest(message));
		await server.#subscriber.subscribe(stageLinkKeys.requestChannel(options.prefix, options.node));
		return server;
	}

	get node(): string {
		return this.#node;
	}

	/** Consumers alive per session, for tests and metrics. */
	get sessions(): Record<string, number> {
		return Object.fromEntries([...this.#sessions].map(([id, s]) => [id, s.consumers.size]));
	}

	/** Stores and publishes what is on a space's stage. */
	async publishSnapshot(snapshot: StageLinkSnapshot): Promise<void> {
		const valid = stageLinkSnapshotSchema.parse(snapshot);
		const json = JSON.stringify(valid);
		await this.#redis
			.multi()
			.set(stageLinkKeys.snapshotKey(this.#prefix, valid.spaceId), json, 'EX', snapshotTtlS)
			.publish(stageLinkKeys.snapshotChannel(this.#prefix, valid.spaceId), json)
			.exec();
	}

	/** Stops serving and closes every session's transports. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#subscriber.disconnect();
		for (const sessionId of [...this.#sessions.keys()]) this.#release(sessionId);
	}

	async #onRequest(message: string): Promise<void> {
		let request;
		try {
			request = stageLinkRequestSchema.parse(JSON.parse(message));
		} catch {
			this.#logger.warn('stage link: malformed request ignored');
			return;
		}
		if (!request.replyTo.startsWith(stageLinkKeys.replyChannel(this.#prefix, ''))) return;
		let reply: StageLinkReply;
		try {
			const params = stageLinkMethods[request.method].params.parse(request.params);
			reply = { requestId: request.requestId, ok: true, result: await this.#handle(request.method, params) };
		} catch (error) {
			const code = error instanceof StageLinkCallError ? error.code : error instanceof Error && error.name === 'ZodError' ? 'bad_request' : 'internal';
			const text = error instanceof Error ? error.message : String(error);
			if (code === 'internal') this.#logger.error({ err: error, method: request.method }, 'stage link request failed');
			reply = { requestId: request.requestId, ok: false, error: { code, message: text.slice(0, 500) } };
		}
		if (!this.#closed) await this.#redis.publish(request.replyTo, JSON.stringify(reply)).catch(() => {});
	}

	async #handle(method: StageLinkMethod, params: z.output<(typeof stageLinkMethods)[StageLinkMethod]['params']>): Promise<StageLinkResult<StageLinkMethod>> {
		switch (method) {
			case 'consume':
				return this.#consume(params as z.output<(typeof stageLinkMethods)['consume']['params']>);
			case 'resume': {
				const { sessionId, consumerIds } = params as z.output<(typeof stageLinkMethods)['resume']['params']>;
				const session = this.#session(sessionId);
				let resumed = 0;
				for (const consumerId of consumerIds) {
					const consumer = session.consumers.get(consumerId);
					if (!consumer || consumer.closed) continue;
					await consumer.resume();
					// ffmpeg can only start decoding video at a keyframe.
					if (consumer.kind === 'video') await consumer.requestKeyFrame();
					resumed++;
				}
				return { resumed };
			}
			case 'requestKeyframe': {
				// Only the session's own consumers: a transcoder cannot make another session's producers send keyframes.
				const { sessionId, consumerIds } = params as z.output<(typeof stageLinkMethods)['requestKeyframe']['params']>;
				const session = this.#session(sessionId);
				let requested = 0;
				for (const consumerId of consumerIds) {
					const consumer = session.consumers.get(consumerId);
					if (!consumer || consumer.closed || consumer.kind !== 'video' || consumer.paused) continue;
					// mediasoup sends the producer one PLI at a time and retries an unanswered one once after 1 s.
					await consumer.requestKeyFrame();
					requested++;
				}
				return { requested };
			}
			case 'closeConsumers': {
				const { sessionId, consumerIds } = params as z.output<(typeof stageLinkMethods)['closeConsumers']['params']>;
				const session = this.#session(sessionId);
				let closed = 0;
				for (const consumerId of consumerIds) {
					const consumer = session.consumers.get(consumerId);
					if (!consumer) continue;
					consumer.close();
					closed++;
				}
				return { closed };
			}
			case 'renew': {
				const session = this.#session((params as { sessionId: string }).sessionId);
				session.lease.refresh();
				return { consumers: session.consumers.size };
			}
			case 'release':
				return { closed: this.#release((params as { sessionId: string }).sessionId) };
		}
	}

	async #consume(params: z.output<(typeof stageLinkMethods)['consume']['params']>): Promise<StageLinkResult<'consume'>> {
		const router = this.#host.routerFor(params.spaceId);
		if (!router || router.closed) throw new StageLinkCallError('not_found', `space ${params.spaceId} is not on node ${this.#node}`);
		const session = this.#session(params.sessionId, true);
		const transport = await router.createPlainTransport({ listenIp: this.#listenIp, rtcpMux: false, comedia: false });
		session.transports.add(transport);
		transport.observer.once('close', () => session.transports.delete(transport));
		try {
			await transport.connect({ ip: params.ip, port: params.rtpPort, rtcpPort: params.rtcpPort });
			const consumer = await transport.consume({ producerId: params.producerId, rtpCapabilities: router.rtpCapabilities, paused: true });
			session.consumers.set(consumer.id, consumer);
			// One transport per consumer: closing the consumer (or its producer going away) closes its transport.
			consumer.observer.once('close', () => {
				session.consumers.delete(consumer.id);
				transport.close();
			});
			return { consumerId: consumer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
		} catch (error) {
			transport.close();
			throw new StageLinkCallError('consume_failed', error instanceof Error ? error.message : String(error));
		}
	}

	#session(sessionId: string, create = false): Session {
		let session = this.#sessions.get(sessionId);
		if (!session && create) {
			const lease = setTimeout(() => {
				this.#logger.warn({ sessionId }, 'stage link session expired; closing its consumers');
				this.#release(sessionId);
			}, this.#leaseMs);
			lease.unref();
			session = { transports: new Set(), consumers: new Map(), lease };
			this.#sessions.set(sessionId, session);
		}
		if (!session) throw new StageLinkCallError('not_found', `no stage link session ${sessionId}`);
		return session;
	}

	#release(sessionId: string): number {
		const session = this.#sessions.get(sessionId);
		if (!session) return 0;
		this.#sessions.delete(sessionId);
		clearTimeout(session.lease);
		const count = session.consumers.size;
		for (const transport of session.transports) transport.close();
		return count;
	}
}

export interface StageLinkServerOptions {
	redis: Redis;
	prefix: string;
	/** This API node's id, `[A-Za-z0-9_-]`. */
	node: string;
	host: StageLinkHost;
	logger: Logger;
	/** Default `stageLinkLeaseMs` (15 s). */
	leaseMs?: number;
	/** Local IP the plain transports send from; reachable by the transcoders. Default 127.0.0.1. */
	listenIp?: string;
}
