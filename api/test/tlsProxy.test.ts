import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tcpAccepts } from '../src/launcher/childProcesses.js';
import { authSubprotocols } from '../src/signaling/protocol.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { freePort } from './support/processes.js';
import { eventually } from './support/speakerBrowser.js';
import { TestCa } from './support/tlsTestCa.js';

/**
 * Tribune behind the shipped deploy/nginx/tribune-tls.conf (Debian's nginx, as shipped but for its marked lines):
 * HTTPS and a WSS signaling upgrade through it, plain HTTP redirected, and X-Forwarded-For believed only as far as
 * the configured proxy vouches for it — a client's own forged header changes nothing it is counted under.
 */
const root = path.resolve(import.meta.dirname, '../..');
const name = 'tribune.test';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-tls-proxy-'));
let nginx: ChildProcess | undefined;
let cluster: Awaited<ReturnType<typeof startCluster>>;
let api: ApiProcess;
let ca: TestCa;
let tlsPort = 0;
let httpPort = 0;

beforeAll(async () => {
	ca = TestCa.create(path.join(dir, 'ca'));
	const cert = ca.issue([name, '127.0.0.1']);
	fs.writeFileSync(path.join(dir, 'fullchain.pem'), cert.fullchain);
	fs.writeFileSync(path.join(dir, 'privkey.pem'), cert.key, { mode: 0o600 });
	cluster = await startCluster();
	// Only nginx's own address is a proxy; every other loopback address is a client.
	api = await ApiProcess.start(cluster, { TRIBUNE_TRUSTED_PROXIES: '127.0.0.1', CREATES_PER_MIN_PER_ADDRESS: '2' });
	[tlsPort, httpPort] = [await freePort(), await freePort()];
	const shipped = fs.readFileSync(path.join(root, 'deploy/nginx/tribune-tls.conf'), 'utf8');
	const site = shipped
		.replace('server 127.0.0.1:8080', `server 127.0.0.1:${api.port}`)
		.replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
		.replace('listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;`)
		.replaceAll('server_name tribune.example.com;', `server_name ${name};`)
		.replace('/etc/letsencrypt/live/tribune.example.com/fullchain.pem', path.join(dir, 'fullchain.pem'))
		.replace('/etc/letsencrypt/live/tribune.example.com/privkey.pem', path.join(dir, 'privkey.pem'))
		.replace('root /var/www/letsencrypt;', `root ${path.join(dir, 'acme')};`)
		.replace('access_log /var/log/nginx/tribune.access.log tribune_tls;', `access_log ${path.join(dir, 'tribune.access.log')} tribune_tls;`);
	if (/server 127\.0\.0\.1:8080|listen (80|443)|server_name tribune\.example|ssl_certificate\S* \/etc|root \/var|\/var\/log/.test(site)) throw new Error('deploy/nginx/tribune-tls.conf: marked lines not found');
	fs.writeFileSync(path.join(dir, 'site.conf'), site);
	fs.mkdirSync(path.join(dir, 'acme/.well-known/acme-challenge'), { recursive: true });
	fs.writeFileSync(path.join(dir, 'acme/.well-known/acme-challenge/token-1'), 'challenge-answer');
	const main = [
		process.getuid?.() === 0 ? 'user root;' : '',
		'worker_processes 1;',
		`pid ${path.join(dir, 'nginx.pid')};`,
		`error_log ${path.join(dir, 'error.log')} warn;`,
		'events { worker_connections 1024; }',
		'http {',
		`  access_log ${path.join(dir, 'access.log')};`,
		...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind === 'client_body' ? 'client_body' : kind}_temp_path ${path.join(dir, `${kind}-temp`)};`),
		`  include ${path.join(dir, 'site.conf')};`,
		'}',
	].join('\n');
	fs.writeFileSync(path.join(dir, 'nginx.conf'), main);
	nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
	let stderr = '';
	nginx.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const deadline = Date.now() + 10_000;
	while (!(await tcpAccepts('127.0.0.1', tlsPort))) {
		if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}, 60_000);

afterAll(async () => {
	if (nginx && nginx.exitCode === null) {
		const exited = new Promise((resolve) => nginx!.once('exit', resolve));
		nginx.kill('SIGTERM');
		await exited;
	}
	await api?.kill('SIGTERM');
	await cluster?.stop();
	fs.rmSync(dir, { recursive: true, force: true });
});

/** A request over HTTPS (trusting the test CA only) or plain HTTP, from `from` (a loopback address). */
function request(options: { tls: boolean; port: number; method?: string; path: string; from?: string; headers?: Record<string, string>; body?: unknown }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
	return new Promise((resolve, reject) => {
		const body = options.body === undefined ? undefined : JSON.stringify(options.body);
		const common = {
			host: '127.0.0.1', port: options.port, method: options.method ?? 'GET', path: options.path, localAddress: options.from, agent: false,
			headers: { host: `${name}:${options.port}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...options.headers },
		};
		const done = (res: http.IncomingMessage) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => (text += chunk));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
		};
		const req = options.tls ? https.request({ ...common, ca: ca.pem, servername: name }, done) : http.request(common, done);
		req.on('error', reject);
		req.end(body);
	});
}

describe('behind nginx terminating TLS (deploy/nginx/tribune-tls.conf)', () => {
	it('serves HTTPS with HSTS, redirects plain HTTP, and answers ACME challenges over plain HTTP', async () => {
		const health = await request({ tls: true, port: tlsPort, path: '/healthz' });
		expect(health.status).toBe(200);
		expect(health.headers['strict-transport-security']).toBe('max-age=15552000');
		expect(await request({ tls: false, port: httpPort, path: '/s/abc?x=1' })).toMatchObject({ status: 308, headers: { location: `https://${name}/s/abc?x=1` } });
		expect(await request({ tls: false, port: httpPort, path: '/.well-known/acme-challenge/token-1' })).toMatchObject({ status: 200, body: 'challenge-answer' });
	});

	it('passes the WebSocket upgrade through: a participant signals over wss://', async () => {
		const created = await request({ tls: true, port: tlsPort, method: 'POST', path: '/api/spaces', from: '127.0.0.9', body: { title: 'Through nginx', hostName: 'Hana Host' } });
		expect(created.status).toBe(201);
		const { token } = JSON.parse(created.body) as { token: string };
		const socket = new WebSocket(`wss://127.0.0.1:${tlsPort}/ws`, authSubprotocols(token), { ca: ca.pem, headers: { host: `${name}:${tlsPort}` } });
		const first = await new Promise<{ type?: string; event?: string }>((resolve, reject) => {
			socket.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as { type?: string; event?: string }));
			socket.once('error', reject);
			socket.once('close', (code) => reject(new Error(`closed ${code}`)));
		});
		expect(socket.protocol).toBe('tribune.v1');
		expect(first).toBeTypeOf('object');
		socket.close();
		// The proxy's access log has the paths, never the token (it rode in the subprotocol header). nginx writes a
		// WebSocket's line when it closes.
		const log = await eventually(async () => {
			const text = fs.readFileSync(path.join(dir, 'tribune.access.log'), 'utf8');
			return text.includes('GET /ws HTTP/1.1') ? text : undefined;
		}, 'the WebSocket in the access log', 10_000);
		expect(log).not.toContain(token);
	});

	it('counts a client by the address nginx saw, whatever X-Forwarded-For the client sent', async () => {
		const create = (from: string, forged: string) => request({ tls: true, port: tlsPort, method: 'POST', path: '/api/spaces', from, headers: { 'x-forwarded-for': forged }, body: { title: 'Counted', hostName: 'Hana Host' } }).then((r) => r.status);
		// Three creates from one client, each claiming another address: the third is over its 2 a minute.
		expect([await create('127.0.0.2', '198.51.100.1'), await create('127.0.0.2', '198.51.100.2'), await create('127.0.0.2', '198.51.100.3')]).toEqual([201, 201, 429]);
		// Another client through the same proxy is counted apart (the proxy's own address is not what is limited).
		expect(await create('127.0.0.3', '127.0.0.2')).toBe(201);
		// A client straight to the node is not a proxy: its header is ignored, it is counted as itself.
		const direct = (forged: string) => request({ tls: false, port: api.port, method: 'POST', path: '/api/spaces', from: '127.0.0.4', headers: { 'x-forwarded-for': forged }, body: { title: 'Direct', hostName: 'Hana Host' } }).then((r) => r.status);
		expect([await direct('198.51.100.7'), await direct('198.51.100.8'), await direct('198.51.100.9')]).toEqual([201, 201, 429]);
	});
});
