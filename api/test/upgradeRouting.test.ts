import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiProcess, startCluster } from './support/apiProcess.js';

/**
 * Upgrades the API does not serve, sent to a real API process over a raw socket: each is answered with an HTTP
 * error and the socket is closed by the server (before, an unknown path was never answered and the socket stayed
 * open; a target that does not parse as a URL crashed the process).
 */
let cluster: Awaited<ReturnType<typeof startCluster>>;
let api: ApiProcess;

beforeAll(async () => {
	cluster = await startCluster();
	api = await ApiProcess.start(cluster);
}, 60_000);
afterAll(async () => {
	await api?.kill('SIGTERM');
	await cluster?.stop();
});

/**
 * Sends `head` raw; resolves with what the server wrote once it closes the connection, followed by `[reset]` when it
 * reset it (or 'timeout' after 15 s).
 */
function rawUpgrade(port: number, head: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
		let got = '';
		const timer = setTimeout(() => {
			socket.destroy();
			resolve(`timeout: ${got}`);
		}, 15_000);
		socket.on('data', (d: Buffer) => (got += d.toString()));
		socket.on('close', () => {
			clearTimeout(timer);
			resolve(got);
		});
		socket.on('error', (error: NodeJS.ErrnoException) => {
			if (error.code !== 'ECONNRESET') return reject(error);
			clearTimeout(timer);
			resolve(`${got}[reset]`);
		});
	});
}

const upgradeHeaders = 'Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

async function healthy(): Promise<boolean> {
	return fetch(`${api.baseUrl}/healthz`).then((r) => r.ok, () => false);
}

describe('upgrade routing (real API process)', () => {
	it('an upgrade to an unknown path is answered 404 and closed', async () => {
		const reply = await rawUpgrade(api.port, `GET /nope HTTP/1.1\r\n${upgradeHeaders}\r\n`);
		expect(reply).toMatch(/^HTTP\/1\.1 404 not_found\r\n/);
	}, 30_000);

	it('an upgrade whose target is not a URL is answered 400 and the process lives on', async () => {
		const reply = await rawUpgrade(api.port, `GET http://[ HTTP/1.1\r\n${upgradeHeaders}\r\n`);
		expect(reply).toMatch(/^HTTP\/1\.1 400 bad_request\r\n/);
		expect(await healthy()).toBe(true);
	}, 30_000);

	it('the served paths still answer for themselves: a bad token on /ws and /captions/ws is a 401, one in the URL a 400', async () => {
		for (const p of ['/ws', '/captions/ws']) {
			const reply = await rawUpgrade(api.port, `GET ${p} HTTP/1.1\r\n${upgradeHeaders}Sec-WebSocket-Protocol: tribune.v1, tribune.token.x\r\n\r\n`);
			expect(reply, p).toMatch(/^HTTP\/1\.1 401 unauthorized\r\n/);
			const inUrl = await rawUpgrade(api.port, `GET ${p}?token=x HTTP/1.1\r\n${upgradeHeaders}\r\n`);
			expect(inUrl, p).toMatch(/^HTTP\/1\.1 400 bad_request\r\n/);
		}
	}, 30_000);

	it('an upgrade with oversized headers is refused with 431 and closed', async () => {
		const reply = await rawUpgrade(api.port, `GET /ws HTTP/1.1\r\n${upgradeHeaders}X-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
		// Node's parser answers 431 and closes at once; while the client is still sending the rest of its 64 KiB the
		// kernel may turn that close into a reset that arrives before the 431 is read. Either way: refused, closed.
		expect(reply).toMatch(/^(HTTP\/1\.1 431 [^]*|\[reset\])$/);
		expect(await healthy()).toBe(true);
	}, 30_000);
});
