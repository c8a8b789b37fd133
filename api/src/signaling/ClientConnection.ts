import type { StagePeer } from '@tribune/ingest';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { z } from 'zod';
import type { TokenClaims } from '../auth/TokenIssuer.js';
import type { ErrorCode } from '../errors.js';
import type { Actor } from '../spaces/SpaceService.js';
import type { Participant } from '../spaces/Space.js';
import { maxMessageBytes, requestEnvelope, requestSchemas, type EventData, type EventName, type ReplyMessage, type RequestName } from './protocol.js';
import { TokenBucket, type RateLimit } from './TokenBucket.js';
import { writeEncoded, type EncodedMessage } from './wsFrame.js';

/** Signaling rate limits: per connection, but hand raises (per participant and per space, on each node). */
export interface SignalingLimits {
	/** Every request, valid or not. */
	requests: RateLimit;
	/** Hand raises of one participant, whichever connection they come from (`SpaceRoom.takeRaise`). */
	handRaises: RateLimit;
	/** Hand raises in one space, everyone together (`SpaceRoom.takeRaise`). */
	spaceHandRaises: RateLimit;
	/** `handPosition` asks (two Redis reads each). */
	handPositions: RateLimit;
	reactions: RateLimit;
	/** Requests waiting for their turn; more are refused with `rate_limited`. */
	maxQueuedRequests: number;
	/** Outgoing bytes a client may leave unread before it is dropped as too slow, in bytes. */
	maxBufferedBytes: number;
}

export const defaultSignalingLimits: Readonly<SignalingLimits> = Object.freeze({
	requests: { burst: 50, perSecond: 20 },
	handRaises: { burst: 3, perSecond: 0.2 },
	spaceHandRaises: { burst: 50, perSecond: 20 },
	handPositions: { burst: 2, perSecond: 0.2 },
	reactions: { burst: 10, perSecond: 3 },
	maxQueuedRequests: 32,
	maxBufferedBytes: 4 * 1024 * 1024,
});

/** Longest a timer may be set for in Node (2^31 - 1 ms); a token may live longer, so its timer is re-armed. */
const maxTimerMs = 2 ** 31 - 1;

/** Runs one validated request; throws a TribuneError (or a StageError) to refuse it. */
export type RequestDispatcher = (connection: ClientConnection, name: RequestName, data: unknown) => Promise<unknown>;

/** Turns anything a handler threw into a stable code and a message safe to show. */
export type ErrorClassifier = (error: unknown) => { code: ErrorCode; message: string };

/**
 * One client's WebSocket. Reads each message at most `maxMessageBytes`, checks rate limits, validates it against
 * the protocol, and runs requests one at a time in arrival order (media setup depends on it). Anything wrong with a
 * message gets an error reply; nothing a client sends can close the connection or throw out of here.
 */
export class ClientConnection {
	readonly actor: Actor;
	/** The participant as last known here; kept current by the room from the space's events. */
	participant: Participant;
	/** This connection's place on the stage while its participant is on it. */
	peer: StagePeer | undefined;
	#claims: TokenClaims;
	readonly #onTokenExpired: (connection: ClientConnection) => void;
	#expiry: NodeJS.Timeout | undefined;
	readonly #socket: WebSocket;
	readonly #logger: Logger;
	readonly #limits: SignalingLimits;
	readonly #dispatch: RequestDispatcher;
	readonly #classify: ErrorClassifier;
	readonly #buckets: { requests: TokenBucket; handPosition: TokenBucket; react: TokenBucket };
	#queue: Promise<void> = Promise.resolve();
	#queued = 0;
	#alive = true;
	#closed = false;

	constructor(options: {
		socket: WebSocket;
		actor: Actor;
		participant: Participant;
		/** The token the connection was opened with; `tokenRenewed` replaces it. */
		claims: TokenClaims;
		/** Called when the connection's token expires without having been renewed. */
		onTokenExpired: (connection: ClientConnection) => void;
		logger: Logger;
		limits: SignalingLimits;
		dispatch: RequestDispatcher;
		classify: ErrorClassifier;
	}) {
		this.#socket = options.socket;
		this.actor = options.actor;
		this.participant = options.participant;
		this.#claims = options.claims;
		this.#onTokenExpired = options.onTokenExpired;
		this.#logger = options.logger;
		this.#limits = options.limits;
		this.#dispatch = options.dispatch;
		this.#classify = options.classify;
		this.#buckets = {
			requests: new TokenBucket(options.limits.requests),
			handPosition: new TokenBucket(options.limits.handPositions),
			react: new TokenBucket(options.limits.reactions),
		};
		this.#socket.on('message', (raw, isBinary) => this.#onMessage(raw, isBinary));
		this.#socket.on('pong', () => (this.#alive = true));
		this.#socket.on('error', (error) => this.#logger.debug({ err: error }, 'websocket error'));
		this.#socket.once('close', () => clearTimeout(this.#expiry));
		this.#armExpiry();
	}

	/** The claims of the newest token this connection holds. */
	get claims(): TokenClaims {
		return this.#claims;
	}

	/** No request queued or running (a rotation in flight may have moved the generation before its new claims land). */
	get idle(): boolean {
		return this.#queued === 0;
	}

	/** The client was given a new token (renewal, rotation, role change): the connection lives until it expires. */
	renewed(claims: TokenClaims): void {
		this.#claims = claims;
		this.#armExpiry();
	}

	#armExpiry(): void {
		clearTimeout(this.#expiry);
		if (this.#closed) return;
		const leftMs = this.#claims.expiresAt * 1000 - Date.now();
		if (leftMs <= 0) {
			this.#onTokenExpired(this);
			return;
		}
		this.#expiry = setTimeout(() => this.#armExpiry(), Math.min(leftMs, maxTimerMs)).unref();
	}

	get closed(): boolean {
		return this.#closed || this.#socket.readyState !== this.#socket.OPEN;
	}

	/** Sends an event; a client that stops reading is dropped rather than buffered without end. */
	send<N extends EventName>(event: N, data: EventData[N]): void {
		this.#write({ event, data });
	}

	/**
	 * Sends a message already serialised (`encodeEvent`): one event going to many connections is encoded once, and
	 * the same bytes are written to each socket.
	 */
	sendEncoded(message: EncodedMessage): void {
		if (!this.#writable()) return;
		writeEncoded(this.#socket, message);
	}

	/** For the server's heartbeat: false if the last ping went unanswered. */
	checkAlive(): boolean {
		if (!this.#alive) return false;
		this.#alive = false;
		this.#socket.ping();
		return true;
	}

	/** Closes the socket with a WebSocket close code and reason; idempotent. */
	close(code: number, reason: string): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#expiry);
		this.#socket.close(code, reason);
		// A peer that never finishes the closing handshake must not hold the connection.
		setTimeout(() => this.#socket.terminate(), 2000).unref();
	}

	#write(message: unknown): void {
		if (!this.#writable()) return;
		this.#socket.send(JSON.stringify(message));
	}

	/** False once closed; a client that leaves more than `maxBufferedBytes` unread is dropped here. */
	#writable(): boolean {
		if (this.closed) return false;
		if (this.#socket.bufferedAmount > this.#limits.maxBufferedBytes) {
			this.#logger.warn({ participantId: this.actor.participantId }, 'client is not reading; dropping it');
			this.#socket.terminate();
			return false;
		}
		return true;
	}

	#reply(reply: ReplyMessage): void {
		this.#write(reply);
	}

	#fail(id: number | null, code: ErrorCode, message: string): void {
		this.#reply({ id, ok: false, error: { code, message } });
	}

	#onMessage(raw: RawData, isBinary: boolean): void {
		if (!this.#buckets.requests.take()) return this.#fail(null, 'rate_limited', 'too many requests');
		const bytes = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
		if (bytes > maxMessageBytes) return this.#fail(null, 'payload_too_large', `messages are at most ${maxMessageBytes} bytes`);
		if (isBinary) return this.#fail(null, 'bad_request', 'expected a JSON text message');
		let json: unknown;
		try {
			json = JSON.parse(Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8'));
		} catch {
			return this.#fail(null, 'bad_request', 'not JSON');
		}
		const envelope = requestEnvelope.safeParse(json);
		if (!envelope.success) {
			const id = typeof json === 'object' && json !== null && Number.isSafeInteger((json as { id?: unknown }).id) ? (json as { id: number }).id : null;
			return this.#fail(id, 'bad_request', 'expected {"id": <int>, "name": <string>, "data": {…}}');
		}
		const { id, name } = envelope.data;
		if (!Object.hasOwn(requestSchemas, name)) return this.#fail(id, 'unknown_message', 'unknown request name');
		const schema = requestSchemas[name as RequestName];
		const data = schema.safeParse(envelope.data.data);
		if (!data.success) return this.#fail(id, 'bad_request', describeIssues(data.error));
		if (name === 'handPosition' && !this.#buckets.handPosition.take()) return this.#fail(id, 'rate_limited', 'too many hand position requests');
		if (name === 'react' && !this.#buckets.react.take()) return this.#fail(id, 'rate_limited', 'too many reactions');
		if (this.#queued >= this.#limits.maxQueuedRequests) return this.#fail(id, 'rate_limited', 'too many requests in flight');
		this.#queued++;
		this.#queue = this.#queue.then(async () => {
			try {
				if (this.closed) return;
				const result = await this.#dispatch(this, name as RequestName, data.data);
				this.#reply({ id, ok: true, data: (result ?? {}) as never });
			} catch (error) {
				const { code, message } = this.#classify(error);
				this.#fail(id, code, message);
			} finally {
				this.#queued--;
			}
		});
	}
}

function describeIssues(error: z.ZodError): string {
	const issue = error.issues[0];
	if (!issue) return 'invalid data';
	const where = issue.path.length > 0 ? issue.path.slice(0, 4).map(String).join('.') : 'data';
	return `${where}: ${issue.message}`.slice(0, 200);
}
