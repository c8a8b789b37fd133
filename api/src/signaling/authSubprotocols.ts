/**
 * How a WebSocket client authenticates (signaling and the captioner socket): it offers two subprotocols,
 * `tribune.v1` and `tribune.token.<token>` (`Sec-WebSocket-Protocol`); the server selects `tribune.v1` and never
 * echoes the token. Proxies and edges log URLs, not this header. No imports: the player bundles this file.
 */

/** The subprotocol the server selects: Tribune's protocol, version 1. */
export const signalingSubprotocol = 'tribune.v1';

/** The subprotocol that carries the token (a JWT's characters are all valid in a subprotocol name). */
export const tokenSubprotocolPrefix = 'tribune.token.';

/** The subprotocols a client offers to authenticate with `token`. */
export function authSubprotocols(token: string): string[] {
	return [signalingSubprotocol, `${tokenSubprotocolPrefix}${token}`];
}
