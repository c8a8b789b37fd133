import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionPolicy } from './ConnectionPolicy.js';
import { parseTrustedProxies } from './trustedProxies.js';

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
	for (const socket of sockets.splice(0)) socket.destroy();
	for (const server of servers.splice(0)) {
		server.closeAllConnections();
		server.close();
	}
});

/** A server behind the policy that answers every request 200 and counts what reached its listeners. */
async function serve(maxPerAddress: number, proxies: string): Promise<{ port: number; policy: ConnectionPolicy; served: string[]; upgraded: string[] }> {
	const policy = new ConnectionPolicy({ maxConnections: 1000, maxPerAddress }, parseTrustedProxies(proxies), pino({ level: 'silent' }));
	const served: string[] = [];
	const upgraded: string[] = [];
	const server = http.createServer((req, res) => {
		if (policy.refused(req.socket)) return;
		served.push(req.url ?? '');
		res.end('ok');
	});
	policy.attach(server);
	server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
		upgraded.push(req.url ?? '');
		socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
	});
	policy.guardUpgrades(server);
	servers.push(server);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return { port: (server.address() as AddressInfo).port, policy, served, upgraded };
}

/** Opens a connection, sends `request` and resolves with the first status line the server writes (or 'closed'). */
function exchange(port: number, request: string, localAddress = '127.0.0.1'): Promise<string> {
	return new Promise((resolve) => {
		const socket = net.connect({ port, host: '127.0.0.1', localAddress });
		sockets.push(socket);
		let got = '';
		socket.on('data', (chunk) => {
			got += chunk.toString();
			if (got.includes('\r\n')) resolve(got.split('\r\n')[0]!);
		});
		socket.on('error', () => resolve('closed'));
		socket.on('close', () => resolve(got.split('\r\n')[0] || 'closed'));
		socket.write(request);
	});
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
const upgrade = (path: string, forwardedFor?: string) => `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test\r\n${forwardedFor ? `X-Forwarded-For: ${forwardedFor}\r\n` : ''}\r\n`;

describe('ConnectionPolicy', () => {
	it('answers an address over its cap 429 too_many_connections, serves nothing it sends, and lets other addresses in', async () => {
		const { port, policy, served } = await serve(2, 'none');
		expect(await exchange(port, get('/one'))).toBe('HTTP/1.1 200 OK');
		expect(await exchange(port, get('/two'))).toBe('HTTP/1.1 200 OK');
		expect(policy.countFor('127.0.0.1')).toBe(2);
		expect(await exchange(port, get('/three'))).toBe('HTTP/1.1 429 Too Many Requests');
		expect(await exchange(port, get('/four'), '127.0.0.2')).toBe('HTTP/1.1 200 OK');
		expect(served).toEqual(['/one', '/two', '/four']);
		expect(policy.refusals).toBe(1);
	});

	it('counts a connection until it closes', async () => {
		const { port, policy } = await serve(1, 'none');
		expect(await exchange(port, get('/a'))).toBe('HTTP/1.1 200 OK');
		for (const socket of sockets.splice(0)) socket.destroy();
		for (let i = 0; i < 50 && policy.countFor('127.0.0.1') > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(await exchange(port, get('/b'))).toBe('HTTP/1.1 200 OK');
	});

	it('does not cap a trusted proxy by its own address, but caps the WebSockets of each client it forwards', async () => {
		const { port, policy, upgraded } = await serve(1, 'loopback');
		for (const path of ['/a', '/b', '/c']) expect(await exchange(port, get(path))).toBe('HTTP/1.1 200 OK');
		expect(await exchange(port, upgrade('/ws1', '203.0.113.5'))).toBe('HTTP/1.1 101 Switching Protocols');
		expect(await exchange(port, upgrade('/ws2', '203.0.113.5'))).toBe('HTTP/1.1 429 too_many_connections');
		expect(await exchange(port, upgrade('/ws3', '203.0.113.6'))).toBe('HTTP/1.1 101 Switching Protocols');
		// The proxy's own upgrades (nothing forwarded) are its own business.
		expect(await exchange(port, upgrade('/ws4'))).toBe('HTTP/1.1 101 Switching Protocols');
		expect(upgraded).toEqual(['/ws1', '/ws3', '/ws4']);
		expect(policy.countFor('127.0.0.1')).toBe(0);
	});

	it('drops an upgrade on a refused connection', async () => {
		const { port, upgraded } = await serve(1, 'none');
		expect(await exchange(port, upgrade('/ws1'))).toBe('HTTP/1.1 101 Switching Protocols');
		expect(await exchange(port, upgrade('/ws2'))).toBe('HTTP/1.1 429 Too Many Requests');
		expect(upgraded).toEqual(['/ws1']);
	});
});
