import type http from 'node:http';
import { TribuneError } from '../errors.js';
import { signalingSubprotocol, tokenSubprotocolPrefix } from '../signaling/authSubprotocols.js';
import { bearerToken } from '../http/bearerToken.js';

/** Longest token taken from an upgrade; Tribune's are a few hundred bytes. */
const maxTokenLength = 4096;

export interface UpgradeTokenOptions {
	/** Also take `?token=` (a compatibility switch for old captioner clients; URLs end up in access logs). */
	allowQueryToken?: boolean;
	/** Also take `Authorization: Bearer <token>` (services that can set headers; browsers cannot). */
	allowBearer?: boolean;
}

/**
 * The token of a WebSocket upgrade, from the subprotocols the client offers: `tribune.v1` and
 * `tribune.token.<token>` (as the Kubernetes API server takes a bearer token from browsers). The server then selects
 * `tribune.v1` (`selectSubprotocol`), so the token is never echoed. A token in the URL is refused unless allowed:
 * URLs are logged by proxies and edges, headers are not. Throws a TribuneError (400 or 401) saying what to send.
 */
export function upgradeToken(req: http.IncomingMessage, url: URL, options: UpgradeTokenOptions = {}): string {
	// Refused even beside a token offered properly: a client that puts one in a URL leaks it, whatever else it sends.
	if (url.searchParams.has('token') && !options.allowQueryToken) {
		throw new TribuneError('bad_request', `a token in the URL is refused (URLs are logged): offer the subprotocols ${signalingSubprotocol} and ${tokenSubprotocolPrefix}<token>`);
	}
	const offered = offeredSubprotocols(req);
	const fromProtocols = offered.filter((p) => p.startsWith(tokenSubprotocolPrefix));
	if (fromProtocols.length > 1) throw new TribuneError('bad_request', 'offer one tribune.token.<token> subprotocol');
	if (fromProtocols.length === 1) {
		if (!offered.includes(signalingSubprotocol)) throw new TribuneError('bad_request', `offer ${signalingSubprotocol} with the token subprotocol`);
		return checked(fromProtocols[0]!.slice(tokenSubprotocolPrefix.length));
	}
	if (options.allowBearer) {
		const bearer = bearerToken(req.headers.authorization);
		if (bearer !== undefined) return checked(bearer);
	}
	if (url.searchParams.has('token')) return checked(url.searchParams.get('token') ?? '');
	throw new TribuneError('unauthorized', `expected the subprotocols ${signalingSubprotocol} and ${tokenSubprotocolPrefix}<token>`);
}

/** The subprotocol a server selects (ws `handleProtocols`): only ever `tribune.v1`, never the token-bearing one. */
export function selectSubprotocol(protocols: Set<string>): string | false {
	return protocols.has(signalingSubprotocol) ? signalingSubprotocol : false;
}

function offeredSubprotocols(req: http.IncomingMessage): string[] {
	const header = req.headers['sec-websocket-protocol'];
	const value = Array.isArray(header) ? header.join(',') : (header ?? '');
	return value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
}

function checked(token: string): string {
	if (token.length === 0 || token.length > maxTokenLength) throw new TribuneError('unauthorized', 'invalid token');
	return token;
}
