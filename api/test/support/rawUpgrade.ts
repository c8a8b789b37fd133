import net from 'node:net';

export interface RawUpgradeReply {
	status: number;
	/** Response headers, names in lower case. */
	headers: Record<string, string>;
	/** Everything the server sent within the wait (status line, headers, and any frames after a 101). */
	text: string;
}

/**
 * A WebSocket upgrade written by hand: any path and any header bytes (a client library refuses subprotocols that
 * are not HTTP tokens, a server must not care). Resolves with the server's answer, then closes the socket.
 */
export function rawUpgrade(wsUrl: string, path: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<RawUpgradeReply> {
	const url = new URL(wsUrl);
	return new Promise((resolve, reject) => {
		const socket = net.connect(Number(url.port), url.hostname);
		let received = Buffer.alloc(0);
		const timer = setTimeout(() => finish(new Error(`no answer to the upgrade in ${timeoutMs} ms`)), timeoutMs);
		const finish = (error?: Error): void => {
			clearTimeout(timer);
			socket.destroy();
			const text = received.toString('latin1');
			const [head = ''] = text.split('\r\n\r\n');
			const [statusLine = '', ...lines] = head.split('\r\n');
			const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
			if (error && status === 0) return reject(error);
			resolve({ status, headers: Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])), text });
		};
		socket.on('data', (chunk: Buffer) => {
			received = Buffer.concat([received, chunk]);
			if (received.includes('\r\n\r\n')) finish();
		});
		socket.on('error', (error) => finish(error));
		socket.on('close', () => finish(new Error('closed without an answer')));
		socket.once('connect', () => {
			const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
			socket.write(
				Buffer.from(
					`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
					'latin1',
				),
			);
		});
	});
}
