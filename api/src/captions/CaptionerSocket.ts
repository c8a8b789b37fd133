import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { TribuneError } from '../errors.js';
import { refuseUpgrade, upgradeTarget } from '../upgrades/upgradeRouting.js';
import { selectSubprotocol, upgradeToken } from '../upgrades/upgradeToken.js';
import type { CaptionerPushes } from './CaptionerPushes.js';

/**
 * Where captioners connect, offering the subprotocols `tribune.v1` and `tribune.token.<captioner token>` (or, from a
 * service that can set headers, with `Authorization: Bearer <captioner token>`). `?token=` only with
 * `CAPTIONER_URL_TOKENS=true`.
 */
export const captionerSocketPath = '/captions/ws';

/** A push is a few hundred bytes; anything much larger is not one. */
const maxMessageBytes = 8 * 1024;

/** Pushes read from one connection and not yet answered; beyond it the connection is read no further for now. */
export const maxWaitingPushes = 16;

/** The close code when the token's time is up or it was revoked (4000-4999 is the application range). */
export const captionerTokenExpiredCode = 4011;

/** The close code once the space has ended (signaling's `closeCodes.spaceEnded`): nothing can be pushed any more. */
export const captionerSpaceEndedCode = 4010;

/**
 * Captions over a WebSocket, for a captioning service that sends a partial per word: one connection per captioner
 * token, one JSON push per text message (`{ text, speakerName?, final? }`, as for the REST route), one reply each:
 * `{ ok: true, cue }` or `{ ok: false, error: { code, message } }`. Pushes go through `CaptionerPushes` (token, rate,
 * validation, a live space with captions on), so the rules are those of REST. The connection closes when the token
 * expires or, at the first push after it, when the space has ended. Nothing a client sends can close it otherwise
 * or throw out of here.
 */
export class CaptionerSocket {
	readonly #pushes: CaptionerPushes;
	readonly #logger: Logger;
	// Only `tribune.v1` is ever selected: the token-bearing subprotocol is not echoed.
	readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false, skipUTF8Validation: true, handleProtocols: (p) => selectSubprotocol(p) });
	readonly #allowUrlToken: boolean;
	#closed = false;

	/** `allowUrlToken`: also take `?token=` (`CAPTIONER_URL_TOKENS`, for clients written before; off by default). */
	constructor(options: { pushes: CaptionerPushes; logger: Logger; allowUrlToken?: boolean }) {
		this.#pushes = options.pushes;
		this.#logger = options.logger;
		this.#allowUrlToken = options.allowUrlToken ?? false;
	}

	/** Routes `/captions/ws` upgrades of an HTTP server here; other paths are left alone. */
	attach(server: http.Server): void {
		server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
			const url = upgradeTarget(req.url);
			if (url?.pathname !== captionerSocketPath) return;
			void this.#upgrade(req, socket, head, url);
		});
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const client of this.#wss.clients) client.close(1001, 'server shutting down');
		this.#wss.close();
	}

	async #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
		socket.on('error', () => socket.destroy());
		let claims: Awaited<ReturnType<CaptionerPushes['authenticate']>>;
		try {
			if (this.#closed) throw new TribuneError('unavailable', 'shutting down');
			claims = await this.#pushes.authenticate(upgradeToken(req, url, { allowQueryToken: this.#allowUrlToken, allowBearer: true }));
			// A revoked token gets no connection (every push checks it again).
			if ((await this.#pushes.revocations.current(claims.spaceId)) !== claims.generation) throw new TribuneError('unauthorized', 'captioner token revoked');
		} catch (error) {
			const known = error instanceof TribuneError ? error : new TribuneError('internal', 'internal error');
			refuseUpgrade(socket, known.status, known.code);
			return;
		}
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, claims));
	}

	#serve(ws: WebSocket, claims: Awaited<ReturnType<CaptionerPushes['authenticate']>>): void {
		const logger = this.#logger.child({ spaceId: claims.spaceId, captionerId: claims.captionerId });
		const expiry = setTimeout(() => ws.close(captionerTokenExpiredCode, 'captioner token expired'), Math.max(0, claims.expiresAt * 1000 - Date.now())).unref();
		// One push at a time, in arrival order: a partial must not overtake the push before it. A client that sends
		// faster than pushes complete is paused (TCP backpressure) rather than queued without bound in memory.
		let queue = Promise.resolve();
		let waiting = 0;
		ws.on('message', (raw: RawData) => {
			waiting += 1;
			if (waiting >= maxWaitingPushes) ws.pause();
			queue = queue
				.then(() => this.#onMessage(ws, claims, raw, logger))
				.finally(() => {
					waiting -= 1;
					if (waiting < maxWaitingPushes && ws.isPaused) ws.resume();
				});
		});
		ws.on('error', () => ws.terminate());
		ws.once('close', () => clearTimeout(expiry));
		logger.debug('captioner connected');
	}

	async #onMessage(ws: WebSocket, claims: Awaited<ReturnType<CaptionerPushes['authenticate']>>, raw: RawData, logger: Logger): Promise<void> {
		let reply: unknown;
		try {
			const bytes = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
			if (bytes > maxMessageBytes) throw new TribuneError('payload_too_large', `a push is at most ${maxMessageBytes} bytes`);
			let body: unknown;
			try {
				body = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8'));
			} catch {
				throw new TribuneError('bad_request', 'a push is one JSON object');
			}
			reply = { ok: true, cue: await this.#pushes.push(claims, body) };
		} catch (error) {
			const known = error instanceof TribuneError ? error : undefined;
			if (!known) logger.error({ err: error }, 'captioner push failed');
			reply = { ok: false, error: { code: known?.code ?? 'internal', message: known?.message ?? 'internal error' } };
		}
		if (ws.readyState !== ws.OPEN) return;
		ws.send(JSON.stringify(reply));
		// An ended space never takes pushes again: the connection would only wait for the token to expire.
		const code = (reply as { error?: { code?: string } }).error?.code;
		if (code === 'space_ended') ws.close(captionerSpaceEndedCode, 'the space has ended');
		// The token expired or was revoked: no later push on this connection could pass.
		else if (code === 'unauthorized') ws.close(captionerTokenExpiredCode, 'captioner token no longer valid');
	}
}
