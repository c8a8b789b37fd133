import WebSocket from 'ws';
import { authSubprotocols, type EventData, type EventName, type ReplyData, type RequestName } from '../../src/signaling/protocol.js';

type AnyReply = { id: number | null; ok: boolean; data?: unknown; error?: { code: string; message: string } };

/**
 * A Node signaling client for tests: typed requests, every reply and event recorded, and bounded waits.
 */
export class SignalingClient {
	readonly socket: WebSocket;
	readonly events: { event: EventName; data: unknown }[] = [];
	readonly replies: AnyReply[] = [];
	readonly #pending = new Map<number, (reply: AnyReply) => void>();
	readonly #waiters = new Set<() => void>();
	#nextId = 1;
	closeCode: number | undefined;
	closeReason = '';

	private constructor(socket: WebSocket) {
		this.socket = socket;
		socket.on('message', (raw) => {
			const msg = JSON.parse(String(raw)) as AnyReply & { event?: EventName };
			if (msg.event !== undefined) this.events.push({ event: msg.event, data: (msg as { data: unknown }).data });
			else {
				this.replies.push(msg);
				if (msg.id !== null) this.#pending.get(msg.id)?.(msg);
				if (msg.id !== null) this.#pending.delete(msg.id);
			}
			for (const w of this.#waiters) w();
		});
		socket.on('close', (code, reason) => {
			this.closeCode = code;
			this.closeReason = reason.toString();
			for (const w of this.#waiters) w();
		});
	}

	/** Opens signaling at `wsUrl` as the player does: the token in the `Sec-WebSocket-Protocol` offer, never the URL. */
	static connect(wsUrl: string, token: string): Promise<SignalingClient> {
		return new Promise((resolve, reject) => {
			const socket = new WebSocket(wsUrl, authSubprotocols(token));
			const client = new SignalingClient(socket);
			socket.once('open', () => resolve(client));
			socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
			socket.once('error', reject);
		});
	}

	/** Sends a request and resolves with its reply (ok or not), within `timeoutMs`. */
	send(name: string, data: unknown, timeoutMs = 10_000): Promise<AnyReply> {
		const id = this.#nextId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no reply to ${name} in ${timeoutMs} ms`)), timeoutMs);
			this.#pending.set(id, (reply) => {
				clearTimeout(timer);
				resolve(reply);
			});
			this.socket.send(JSON.stringify({ id, name, data }));
		});
	}

	/** Sends a request and returns its data; throws with the error code if refused. */
	async request<N extends RequestName>(name: N, data: unknown = {}): Promise<ReplyData[N]> {
		const reply = await this.send(name, data);
		if (!reply.ok) throw Object.assign(new Error(`${name}: ${reply.error?.code} ${reply.error?.message}`), { code: reply.error?.code });
		return reply.data as ReplyData[N];
	}

	/**
	 * The space's state once its listener count (a total over nodes, updated per tick) has caught up with `listeners`
	 * connections: a snapshot to compare a later one with. Polls `getState` every 50 ms within `timeoutMs`.
	 */
	async settledState(listeners: number, timeoutMs = 10_000): Promise<ReplyData['getState']> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const state = await this.request('getState');
			if (state.listenerCount === listeners) return state;
			if (Date.now() > deadline) throw new Error(`listenerCount stayed ${state.listenerCount}, expected ${listeners} within ${timeoutMs} ms`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}

	/** Waits for an event matching `predicate` (already received ones count), within `timeoutMs`. */
	waitFor<N extends EventName>(event: N, predicate: (data: EventData[N]) => boolean = () => true, timeoutMs = 10_000): Promise<EventData[N]> {
		return this.until(() => this.events.find((e) => e.event === event && predicate(e.data as EventData[N]))?.data as EventData[N] | undefined, `event ${event}`, timeoutMs);
	}

	waitForClose(timeoutMs = 10_000): Promise<number> {
		return this.until(() => this.closeCode, 'close', timeoutMs);
	}

	/** Resolves with the first truthy value of `check`, re-checked on every message, within `timeoutMs`. */
	until<T>(check: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
		return new Promise((resolve, reject) => {
			const attempt = (): boolean => {
				const value = check();
				if (value === undefined) return false;
				cleanup();
				resolve(value);
				return true;
			};
			const timer = setTimeout(() => {
				cleanup();
				reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
			}, timeoutMs);
			const cleanup = () => {
				clearTimeout(timer);
				this.#waiters.delete(waiter);
			};
			const waiter = () => void attempt();
			if (attempt()) return;
			this.#waiters.add(waiter);
		});
	}

	close(): void {
		this.socket.close();
	}
}
