import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/processes.js';

const root = path.resolve(import.meta.dirname, '../../..');
/** The shipped edge configuration, tested as it is but for its four marked lines. */
export const edgeConfigPath = path.join(root, 'deploy/nginx/tribune-edge.conf');

export interface NginxEdge {
	baseUrl: string;
	/** One line per request nginx sent to an origin: `<uri> <status>`. */
	upstreamLog: string;
	/** The shipped configuration's own access log (its `tribune_edge` format). */
	accessLog: string;
	stop(): Promise<void>;
}

/**
 * Debian's nginx as an unprivileged edge on a free loopback port, in a temporary prefix: the shipped
 * deploy/nginx/tribune-edge.conf inside a minimal main context, pointing at `origin` (`host:port`). Requests that
 * went upstream are logged apart, so a test counts what the origin saw.
 */
export async function startNginxEdge(origin: string, options: { workers?: number } = {}): Promise<NginxEdge> {
	const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-edge-'));
	const port = await freePort();
	const cacheDir = path.join(prefix, 'cache');
	const upstreamLog = path.join(prefix, 'logs', 'upstream.log');
	const accessLog = path.join(prefix, 'logs', 'access.log');
	fs.mkdirSync(cacheDir);
	fs.mkdirSync(path.join(prefix, 'logs'));
	const edge = fs
		.readFileSync(edgeConfigPath, 'utf8')
		.replace(/proxy_cache_path \S+/, `proxy_cache_path ${cacheDir}`)
		.replace(/server 127\.0\.0\.1:8080/, `server ${origin}`)
		.replace(/listen 8081;/, `listen 127.0.0.1:${port};`)
		// The shipped access log goes to the prefix; the test's count of upstream requests is logged beside it (a
		// server-level access_log replaces any inherited from http).
		.replace(/access_log \S+ tribune_edge;/, `access_log ${accessLog} tribune_edge;\n\taccess_log ${upstreamLog} tribune_upstream if=$tribune_went_upstream;`);
	if (edge.includes('8080') || !edge.includes(`${port}`) || !edge.includes(accessLog)) throw new Error('deploy/nginx/tribune-edge.conf: marked lines not found');
	fs.writeFileSync(path.join(prefix, 'tribune-edge.conf'), edge);
	const main = [
		// As root (CI containers), workers would switch to `nobody` and lose the temporary prefix.
		process.getuid?.() === 0 ? 'user root;' : '',
		`worker_processes ${options.workers ?? 1};`,
		`pid ${path.join(prefix, 'nginx.pid')};`,
		`error_log ${path.join(prefix, 'logs', 'error.log')} warn;`,
		'worker_rlimit_nofile 16384;',
		'events { worker_connections 8192; }',
		'http {',
		`  client_body_temp_path ${path.join(prefix, 'client_body')};`,
		`  proxy_temp_path ${path.join(prefix, 'proxy_temp')};`,
		`  fastcgi_temp_path ${path.join(prefix, 'fastcgi')};`,
		`  uwsgi_temp_path ${path.join(prefix, 'uwsgi')};`,
		`  scgi_temp_path ${path.join(prefix, 'scgi')};`,
		'  keepalive_requests 100000;',
		'  map $upstream_addr $tribune_went_upstream { "" 0; default 1; }',
		`  log_format tribune_upstream '$uri?$args $upstream_status';`,
		`  include ${path.join(prefix, 'tribune-edge.conf')};`,
		'}',
	].join('\n');
	const conf = path.join(prefix, 'nginx.conf');
	fs.writeFileSync(conf, main);
	const child: ChildProcess = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const stop = async (): Promise<void> => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			await exited;
		}
		fs.rmSync(prefix, { recursive: true, force: true });
	};
	const deadline = Date.now() + 10_000;
	while (!(await canConnect(port))) {
		if (child.exitCode !== null || Date.now() > deadline) {
			const log = fs.existsSync(path.join(prefix, 'logs', 'error.log')) ? fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8') : '';
			await stop();
			throw new Error(`nginx did not start: ${stderr}${log}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return { baseUrl: `http://127.0.0.1:${port}`, upstreamLog, accessLog, stop };
}

function canConnect(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}

/** Requests the origin got per part (`part-<n>.m4s`) and per blocking reload URL, from the upstream log. */
export function countUpstream(lines: readonly string[]): { perPart: Map<string, number>; perReload: Map<string, number> } {
	const perPart = new Map<string, number>();
	const perReload = new Map<string, number>();
	for (const line of lines) {
		const uri = line.split(' ')[0] ?? '';
		if (/\/part-\d+\.m4s/.test(uri)) perPart.set(uri.replace(/\?.*$/, ''), (perPart.get(uri.replace(/\?.*$/, '')) ?? 0) + 1);
		else if (uri.includes('_HLS_msn=')) perReload.set(uri, (perReload.get(uri) ?? 0) + 1);
	}
	return { perPart, perReload };
}
