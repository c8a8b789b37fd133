import { authSubprotocols } from '../../../api/src/signaling/authSubprotocols.js';
import type { EventData, EventName, ReplyData, RequestData, RequestName } from '../../../api/src/signaling/protocol.js';

/** A refused request: the server's stable error code and its message. */
export class SignalingError extends Error {
	override readonly name = 'SignalingError';
	readonly code: string;

	constructor(code: string, message: string) {
		super(message);
		this.code = code;
	}
}

type Handler<N extends EventName> = (data: EventData[N]) => void;

/**
 * The browser end of Tribune's signaling: one WebSocket, typed requests that resolve with their reply, and typed
 * server events. Requests time out rather than hang.
 */
export class SignalingSocket {
	readonly #ws: WebSocket;
	readonly #pending = new Map<number, { resolve: (data: unknown) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> }>();
	readonly #handlers = new Map<EventName, Set<(data: unknown) => void>>();
	readonly #timeoutMs: number;
	readonly #closeHandlers = new Set<(code: number, reason: string) => void>();
	#nextId = 1;

	private constructor(ws: WebSocket, timeoutMs: number) {
		this.#ws = ws;
		this.#timeoutMs = timeoutMs;
		ws.addEventListener('message', (e) => this.#onMessage(String(e.data)));
		ws.addEventListener('close', (e) => {
			for (const handler of this.#closeHandlers) handler(e.code, e.reason);
			for (const p of this.#pending.values()) {
				clearTimeout(p.timer);
				p.reject(new SignalingError('closed', 'connection closed'));
			}
			this.#pending.clear();
		});
	}

	/**
	 * Opens signaling at `url` (e.g. `wss://host/ws`). The token goes in the subprotocol offer, never in the URL
	 * (which proxies and edges log); the server selects `tribune.v1` and does not echo it.
	 */
	static connect(url: string, token: string, timeoutMs = 10_000): Promise<SignalingSocket> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url, authSubprotocols(token));
			const socket = new SignalingSocket(ws, timeoutMs);
			ws.addEventListener('open', () => resolve(socket), { once: true });
			ws.addEventListener('error', () => reject(new SignalingError('closed', 'could not connect')), { once: true });
		});
	}

	get open(): boolean {
		return this.#ws.readyState === WebSocket.OPEN;
	}

	request<N extends RequestName>(name: N, data: RequestData<N>): Promise<ReplyData[N]> {
		const id = this.#nextId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new SignalingError('timeout', `${name}: no reply in ${this.#timeoutMs} ms`));
			}, this.#timeoutMs);
			this.#pending.set(id, { resolve: resolve as (data: unknown) => void, reject, timer });
			this.#ws.send(JSON.stringify({ id, name, data }));
		});
	}

	on<N extends EventName>(event: N, handler: Handler<N>): () => void {
		let set = this.#handlers.get(event);
		if (!set) this.#handlers.set(event, (set = new Set()));
		set.add(handler as (data: unknown) => void);
		return () => set.delete(handler as (data: unknown) => void);
	}

	/** Called once when the connection closes, with the WebSocket close code (Tribune's are 4000-4999). */
	onClose(handler: (code: number, reason: string) => void): () => void {
		this.#closeHandlers.add(handler);
		return () => this.#closeHandlers.delete(handler);
	}

	close(): void {
		this.#closeHandlers.clear();
		this.#ws.close();
	}

	#onMessage(text: string): void {
		let message: { event?: EventName; id?: number | null; ok?: boolean; data?: unknown; error?: { code: string; message: string } };
		try {
			message = JSON.parse(text);
		} catch {
			return;
		}
		if (message.event !== undefined) {
			for (const handler of this.#handlers.get(message.event) ?? []) {
				try {
					handler(message.data);
				} catch (error) {
					console.error(`signaling: ${message.event} handler threw`, error);
				}
			}
			return;
		}
		if (typeof message.id !== 'number') return;
		const pending = this.#pending.get(message.id);
		if (!pending) return;
		this.#pending.delete(message.id);
		clearTimeout(pending.timer);
		if (message.ok) pending.resolve(message.data);
		else pending.reject(new SignalingError(message.error?.code ?? 'internal', message.error?.message ?? 'request failed'));
	}
}
