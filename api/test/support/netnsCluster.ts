import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { PlayerSample } from '../origin/support/hlsPage.js';
import { edgeConfigPath } from '../load/nginxEdge.js';
import type { NetnsLab } from './netns.js';

const root = path.resolve(import.meta.dirname, '../../..');

/** What every Tribune process of one namespace cluster shares: its Redis, token secret and operator key. */
export interface ClusterShared {
	redisUrl: string;
	tokenSecret: string;
	adminKey: string;
	/** Parent of each machine's own data directory (machines share no disk). */
	dir: string;
}

/** A long-running process on one machine of the lab, its output kept for failure messages. */
export class MachineProcess {
	readonly machine: string;
	readonly child: ChildProcess;
	#output = '';

	constructor(lab: NetnsLab, machine: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
		this.machine = machine;
		this.child = lab.spawn(machine, command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
		const keep = (chunk: Buffer) => (this.#output = (this.#output + chunk.toString()).slice(-20_000));
		this.child.stdout?.on('data', keep);
		this.child.stderr?.on('data', keep);
	}

	get running(): boolean {
		return this.child.exitCode === null && this.child.signalCode === null;
	}

	output(): string {
		return `--- ${this.machine}\n${this.#output.slice(-3000)}`;
	}
}

/** An API node (api/dist/main.js: build first) on `machine`, port 8080 of the machine's address. */
export class MachineApi extends MachineProcess {
	readonly baseUrl: string;
	readonly wsUrl: string;

	constructor(lab: NetnsLab, machine: string, shared: ClusterShared, trustedProxy: string, extraEnv: Record<string, string> = {}) {
		const ip = lab.ip(machine);
		const dataDir = path.join(shared.dir, machine);
		fs.mkdirSync(dataDir, { recursive: true });
		super(lab, machine, process.execPath, [path.join(root, 'api/dist/main.js')], {
			...process.env,
			PORT: '8080',
			HOST: ip,
			REDIS_URL: shared.redisUrl,
			TRIBUNE_TOKEN_SECRET: shared.tokenSecret,
			TRIBUNE_ADMIN_KEY: shared.adminKey,
			TRIBUNE_DATA_DIR: dataDir,
			PLAYER_DIR: '/nonexistent',
			MEDIASOUP_NUM_WORKERS: '1',
			// The stage's WebRTC and plain-RTP ports on the machine's own address: clients and transcoders reach it there.
			MEDIASOUP_LISTEN_IP: ip,
			TRIBUNE_TRUSTED_PROXIES: trustedProxy,
			TRIBUNE_OPEN_HOSTING: 'true',
			JOINS_PER_MIN_PER_ADDRESS: '1000000',
			JOINS_PER_MIN_PER_ADDRESS_IN_SPACE: '1000000',
			LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
			...extraEnv,
		});
		this.baseUrl = `http://${ip}:8080`;
		this.wsUrl = `ws://${ip}:8080/ws`;
	}
}

/** A transcoder (transcoder/dist/main.js) on `machine`, receiving stage RTP on the machine's address. */
export function startMachineTranscoder(lab: NetnsLab, machine: string, shared: ClusterShared): MachineProcess {
	const dataDir = path.join(shared.dir, machine);
	fs.mkdirSync(dataDir, { recursive: true });
	return new MachineProcess(lab, machine, process.execPath, [path.join(root, 'transcoder/dist/main.js')], {
		...process.env,
		REDIS_URL: shared.redisUrl,
		TRIBUNE_DATA_DIR: dataDir,
		TRANSCODER_RTP_IP: lab.ip(machine),
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
	});
}

/** Redis on `machine`, port 6379 of its address, no persistence (the Sentinel test covers Redis faults). */
export function startMachineRedis(lab: NetnsLab, machine: string, dir: string): MachineProcess {
	const redisDir = path.join(dir, machine);
	fs.mkdirSync(redisDir, { recursive: true });
	return new MachineProcess(lab, machine, 'redis-server', ['--port', '6379', '--bind', lab.ip(machine), '--protected-mode', 'no', '--dir', redisDir, '--save', '', '--appendonly', 'no'], process.env);
}

/**
 * Debian's nginx on `machine` (port 8081 of its address) running the shipped deploy/nginx/tribune-edge.conf with
 * `origin` (`host:port`) as its one upstream, in a prefix under `dir`.
 */
export function startMachineEdge(lab: NetnsLab, machine: string, origin: string, dir: string): MachineProcess & { baseUrl: string } {
	const prefix = path.join(dir, machine);
	for (const sub of ['cache', 'logs']) fs.mkdirSync(path.join(prefix, sub), { recursive: true });
	const listen = `${lab.ip(machine)}:8081`;
	const edge = fs
		.readFileSync(edgeConfigPath, 'utf8')
		.replace(/proxy_cache_path \S+/, `proxy_cache_path ${path.join(prefix, 'cache')}`)
		.replace(/server 127\.0\.0\.1:8080/, `server ${origin}`)
		.replace(/listen 8081;/, `listen ${listen};`)
		.replace(/access_log \S+ tribune_edge;/, `access_log ${path.join(prefix, 'logs', 'access.log')} tribune_edge;`);
	if (edge.includes('127.0.0.1:8080') || !edge.includes(listen)) throw new Error('deploy/nginx/tribune-edge.conf: marked lines not found');
	fs.writeFileSync(path.join(prefix, 'tribune-edge.conf'), edge);
	const conf = path.join(prefix, 'nginx.conf');
	fs.writeFileSync(conf, [
		// As root, workers would switch to `nobody` and lose the prefix.
		'user root;',
		'worker_processes 1;',
		`pid ${path.join(prefix, 'nginx.pid')};`,
		`error_log ${path.join(prefix, 'logs', 'error.log')} warn;`,
		'events { worker_connections 4096; }',
		'http {',
		...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(prefix, `${t}_temp`)};`),
		`  include ${path.join(prefix, 'tribune-edge.conf')};`,
		'}',
	].join('\n'));
	const edgeProcess = new MachineProcess(lab, machine, '/usr/sbin/nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], process.env);
	return Object.assign(edgeProcess, { baseUrl: `http://${listen}` });
}

/**
 * Headless Chromium run inside `machine`'s namespace (through a wrapper that enters it), with a fake microphone
 * and camera. `secureOrigins`: http origins to treat as secure (getUserMedia needs one; the lab has no TLS);
 * `extraArgs` go last.
 */
export async function launchChromiumOn(lab: NetnsLab, machine: string, dir: string, secureOrigins: readonly string[], extraArgs: readonly string[] = []): Promise<Browser> {
	const wrapper = path.join(dir, `chromium-${machine}.sh`);
	fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns(machine)} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
	return chromium.launch({
		executablePath: wrapper,
		args: [
			'--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
			...(secureOrigins.length > 0 ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`] : []),
			...extraArgs,
		],
	});
}

/** Waits until `probe` gives a value (every 100 ms, at most `timeoutMs`); on a timeout the error says `what` and `context()`. */
export async function within<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, context: () => string = () => ''): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (let attempt = 0; attempt < 100_000; attempt++) {
		// A probe that throws (a server not up yet) is a "not yet".
		const value = await probe().catch(() => undefined);
		if (value !== undefined) return value;
		if (Date.now() > deadline) break;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
}

/** A test player's stall time in [from, to], ms: every logged stall clipped to the window (one still open lasts until `to`). */
export const stallMs = (s: PlayerSample, from: number, to: number): number =>
	s.stallLog.reduce((sum, stall) => sum + Math.max(0, Math.min(stall.endMs ?? to, to) - Math.max(stall.startMs, from)), 0);
