import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The URL of an upgrade request, or undefined when its target does not parse (`GET http://[ HTTP/1.1` reaches the
 * 'upgrade' event: an unguarded `new URL` there throws inside an event listener and takes the process down).
 */
export function upgradeTarget(rawUrl: string | undefined): URL | undefined {
	try {
		return new URL(rawUrl ?? '/', 'http://localhost');
	} catch {
		return undefined;
	}
}

/** What an upgrade nobody serves is answered: a malformed target is a 400, an unknown path a 404. */
export function unroutedUpgradeStatus(rawUrl: string | undefined, paths: readonly string[]): { status: 400 | 404; code: 'bad_request' | 'not_found' } | undefined {
	const url = upgradeTarget(rawUrl);
	if (!url) return { status: 400, code: 'bad_request' };
	return paths.includes(url.pathname) ? undefined : { status: 404, code: 'not_found' };
}

/**
 * Answers a refused upgrade with a plain HTTP error and closes the socket (a client that never reads it is cut).
 * `retryAfterS`: when the client may try again (a 503 while Redis is away or the node stops).
 */
export function refuseUpgrade(socket: Duplex, status: number, code: string, options: { retryAfterS?: number } = {}): void {
	socket.on('error', () => socket.destroy());
	const retry = options.retryAfterS === undefined ? '' : `Retry-After: ${options.retryAfterS}\r\n`;
	socket.end(`HTTP/1.1 ${status} ${code}\r\nConnection: close\r\n${retry}Content-Type: text/plain\r\nContent-Length: ${code.length}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\r\n${code}`);
	// end() waits for the peer; a peer that never reads must not keep the socket (and its memory) forever.
	setTimeout(() => socket.destroy(), 5000).unref();
}

/**
 * Deny by default for upgrades: the WebSocket endpoints each handle their own path on the server's 'upgrade'
 * event, and Node leaves an upgrade no listener answers open forever. This listener answers every other upgrade.
 */
export function refuseUnroutedUpgrades(server: http.Server, paths: readonly string[]): void {
	server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
		const refusal = unroutedUpgradeStatus(req.url, paths);
		if (refusal) refuseUpgrade(socket, refusal.status, refusal.code);
	});
}
