import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorBody } from '../errors.js';
import { refuseUpgrade } from '../upgrades/upgradeRouting.js';
import { everyResponseHeaders } from './securityHeaders.js';
import { addressKey, clientAddress, normalizeAddress, type TrustedProxies } from './trustedProxies.js';

/** How many connections the API's HTTP server holds (config: `HTTP_MAX_CONNECTIONS`, `HTTP_MAX_CONNECTIONS_PER_ADDRESS`). */
export interface ConnectionLimits {
	/** All connections of the server (`server.maxConnections`); beyond it Node closes new ones at once. */
	maxConnections: number;
	/** Concurrent connections of one client address (IPv6: one /64), WebSockets included. */
	maxPerAddress: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
	// 10,000 audience WebSockets (NODE_MAX_AUDIENCE) plus thousands of LL-HLS listeners' keep-alive connections.
	maxConnections: 20_000,
	// A listener's tab holds its WebSocket and 2–3 keep-alive HTTP connections (a blocking reload, a part, the odd
	// REST call; Chromium opens at most 6 per host): 256 is a host with a dozen tabs or an office of 60+ listeners
	// behind one NAT, yet a single address can take only about 1 % of the default 20,000.
	maxPerAddress: 256,
};

/**
 * Server timeouts (Node ≥ 18 semantics). `headersTimeout` and `requestTimeout` run from the first byte of a request
 * (of a new connection: from its accept) until its headers / its whole body are received — not while the response is
 * held, so a blocking playlist reload (held ~3 target durations) is not cut. Node checks them every
 * `connectionsCheckingInterval`, 30 s by default: a 5 s deadline needs a 1 s check. `keepAliveTimeout` is the idle
 * time between requests: longer than a load balancer's (60 s is common) so the balancer, not Node, closes first.
 */
export const httpServerOptions = {
	headersTimeout: 5_000,
	requestTimeout: 10_000,
	keepAliveTimeout: 65_000,
	connectionsCheckingInterval: 1_000,
} as const satisfies http.ServerOptions;

const refusalBody = JSON.stringify(errorBody('too_many_connections', 'too many connections from this address; close some and retry'));
// Written before the request is read: a client reads it as the answer to its first request on that connection.
const refusalResponse = Buffer.from(
	['HTTP/1.1 429 Too Many Requests', 'Connection: close', 'Content-Type: application/json; charset=utf-8', `Content-Length: ${Buffer.byteLength(refusalBody)}`,
		'Cache-Control: no-store', 'Retry-After: 5', `${everyResponseHeaders[0]}: ${everyResponseHeaders[1]}`, `${everyResponseHeaders[2]}: ${everyResponseHeaders[3]}`, '', refusalBody].join('\r\n'),
);

/**
 * Caps connections per client address on an HTTP server. Direct peers are counted at accept (a refused connection
 * gets a 429 `too_many_connections` and is closed within 2 s, before it is read); a trusted proxy's connections are
 * not counted by its own address (it carries everyone's requests). Through a trusted proxy, WebSocket upgrades — the
 * long-lived connections a client holds — are counted per forwarded client address (`X-Forwarded-For`); plain
 * requests through it are not (the proxy pools them).
 */
export class ConnectionPolicy {
	readonly #limits: ConnectionLimits;
	readonly #proxies: TrustedProxies;
	readonly #logger: Logger;
	readonly #direct = new Map<string, number>();
	readonly #forwarded = new Map<string, number>();
	readonly #refused = new WeakSet<Duplex>();
	#refusals = 0;
	#lastWarnMs = 0;
	readonly #onRefuse: () => void;

	constructor(limits: ConnectionLimits, proxies: TrustedProxies, logger: Logger, onRefuse: () => void = () => {}) {
		this.#limits = limits;
		this.#proxies = proxies;
		this.#logger = logger;
		this.#onRefuse = onRefuse;
	}

	/** Connections refused so far (over the per-address cap). */
	get refusals(): number {
		return this.#refusals;
	}

	/** Open connections counted for an address (direct and forwarded WebSockets), for tests and logs. */
	countFor(address: string): number {
		const key = addressKey(address);
		return (this.#direct.get(key) ?? 0) + (this.#forwarded.get(key) ?? 0);
	}

	/**
	 * Counts every connection `server` accepts. Call before the server listens, and {@link guardUpgrades} after every
	 * WebSocket endpoint has attached.
	 */
	attach(server: http.Server): void {
		server.maxConnections = this.#limits.maxConnections;
		// Past maxConnections Node closes a new connection before anyone sees it; say so (at most every 10 s).
		server.on('drop', (data?: { remoteAddress?: string }) => this.#warn('connection dropped: the server holds HTTP_MAX_CONNECTIONS', { address: data?.remoteAddress, maxConnections: this.#limits.maxConnections }));
		// Ahead of the HTTP server's own listener, so a refused connection is answered before anything reads it.
		server.prependListener('connection', (socket: Socket) => this.#admit(socket));
	}

	/** Whether a connection was refused: its requests and upgrades must be dropped unanswered (it was answered 429). */
	refused(socket: Duplex): boolean {
		return this.#refused.has(socket);
	}

	/**
	 * Puts every 'upgrade' listener attached so far behind the policy: upgrades on a refused connection are dropped,
	 * and through a trusted proxy the forwarded client's WebSockets are capped. Node offers no way to stop an event
	 * reaching later listeners, so the listeners move behind one that decides.
	 */
	guardUpgrades(server: http.Server): void {
		const listeners = server.listeners('upgrade') as ((req: http.IncomingMessage, socket: Duplex, head: Buffer) => void)[];
		server.removeAllListeners('upgrade');
		server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
			if (this.#refused.has(socket)) return;
			const peer = normalizeAddress(req.socket.remoteAddress ?? '');
			if (this.#proxies.trusts(peer)) {
				const client = clientAddress(peer, headerValue(req.headers['x-forwarded-for']), this.#proxies);
				if (client !== peer && !this.#count(this.#forwarded, addressKey(client), socket)) {
					this.#refuse(client, 'forwarded');
					refuseUpgrade(socket, 429, 'too_many_connections');
					return;
				}
			}
			for (const listener of listeners) listener.call(server, req, socket, head);
		});
	}

	#admit(socket: Socket): void {
		const peer = normalizeAddress(socket.remoteAddress ?? '');
		if (this.#proxies.trusts(peer)) return;
		if (this.#count(this.#direct, addressKey(peer), socket)) return;
		this.#refused.add(socket);
		this.#refuse(peer, 'direct');
		socket.on('error', () => socket.destroy());
		socket.end(refusalResponse);
		// A peer that never reads (or keeps trickling bytes) must not hold the socket: 2 s to take the answer.
		setTimeout(() => socket.destroy(), 2000).unref();
	}

	/** Counts `socket` under `key` until it closes; false (not counted) when the key is at the cap. */
	#count(counts: Map<string, number>, key: string, socket: Duplex): boolean {
		const open = counts.get(key) ?? 0;
		if (open >= this.#limits.maxPerAddress) return false;
		counts.set(key, open + 1);
		socket.once('close', () => {
			const left = (counts.get(key) ?? 1) - 1;
			if (left <= 0) counts.delete(key);
			else counts.set(key, left);
		});
		return true;
	}

	#refuse(address: string, how: 'direct' | 'forwarded'): void {
		this.#refusals++;
		this.#onRefuse();
		this.#warn('connection refused: too many from this address', { address, how, maxPerAddress: this.#limits.maxPerAddress, refusals: this.#refusals });
	}

	/** A flood refuses thousands a second: one warning per 10 s, with the count so far. */
	#warn(message: string, details: Record<string, unknown>): void {
		const now = Date.now();
		if (now - this.#lastWarnMs < 10_000) return;
		this.#lastWarnMs = now;
		this.#logger.warn(details, message);
	}
}

function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value.join(',') : value;
}
