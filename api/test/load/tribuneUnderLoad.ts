import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandOf, descendants, freePort } from '../support/processes.js';

const root = path.resolve(import.meta.dirname, '../../..');
const launcherScript = path.join(root, 'api/dist/start.js');

/** A Tribune under load: the whole of `npm start` on loopback, or one already running (by URL). */
export interface TribuneUnderLoad {
	baseUrl: string;
	wsUrl: string;
	/** Redis of that Tribune (its packagers publish parts there); undefined when unknown. */
	redisUrl: string | undefined;
	/** Key prefix of that Tribune's Redis keys. */
	redisPrefix: string;
	/** The API process (origin + signaling), when it runs on this machine and is known. */
	apiPid: () => number | undefined;
	/** Every Tribune process (launcher, Redis, API, transcoders, ffmpeg, synthetic speakers). */
	pids: () => number[];
	stop(): Promise<void>;
}

export interface StartOptions {
	/** Extra environment for the launcher and its children. */
	env?: Record<string, string>;
	transcoders?: number;
}

/**
 * `TRIBUNE_LOAD_URL` set: targets that Tribune (its `REDIS_URL`, when given, serves as the parts' publication clock).
 * Otherwise starts the compiled launcher (`api/dist/start.js`) in a fresh data directory with its private Redis,
 * synthetic speakers allowed, on a free loopback port.
 */
export async function startTribuneUnderLoad(options: StartOptions = {}): Promise<TribuneUnderLoad> {
	const external = process.env.TRIBUNE_LOAD_URL;
	if (external) {
		const baseUrl = external.replace(/\/$/, '');
		return {
			baseUrl,
			wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws`,
			redisUrl: process.env.TRIBUNE_LOAD_REDIS_URL,
			redisPrefix: 'tribune',
			apiPid: () => (process.env.TRIBUNE_LOAD_API_PID ? Number(process.env.TRIBUNE_LOAD_API_PID) : undefined),
			pids: () => [],
			stop: async () => {},
		};
	}
	if (!fs.existsSync(launcherScript)) throw new Error(`${launcherScript} is missing: run npx tsc -b ingest transcoder api`);
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-load-'));
	const port = await freePort();
	const env: NodeJS.ProcessEnv = {
		...process.env,
		PORT: String(port),
		HOST: '127.0.0.1',
		TRIBUNE_DATA_DIR: dataDir,
		LOG_LEVEL: process.env.TRIBUNE_LOAD_LOG_LEVEL ?? 'warn',
		SYNTHETIC_SPEAKERS: 'true',
		TRANSCODER_PROCESSES: String(options.transcoders ?? 1),
		// Admission control must not refuse the audience the bench brings (10,000 WebSockets and the host).
		NODE_MAX_AUDIENCE: '100000',
		NODE_MAX_JOINS_PER_S: '100000',
		// Nor the per-address join rates: the bench's audience all joins from loopback.
		JOINS_PER_MIN_PER_ADDRESS: '1000000',
		JOINS_PER_MIN_PER_ADDRESS_IN_SPACE: '1000000',
		...options.env,
	};
	delete env.REDIS_URL;
	const child: ChildProcess = spawn(process.execPath, [launcherScript], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	const keep = (chunk: Buffer): void => {
		output = (output + chunk.toString()).slice(-20_000);
	};
	child.stdout?.on('data', keep);
	child.stderr?.on('data', keep);
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const baseUrl = `http://127.0.0.1:${port}`;
	const launcherPid = child.pid as number;
	const pids = (): number[] => [launcherPid, ...descendants(launcherPid)];
	const apiPid = (): number | undefined => pids().find((pid) => commandOf(pid).includes('api/dist/main.js'));
	const stop = async (): Promise<void> => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
			await exited;
			clearTimeout(timer);
		}
		fs.rmSync(dataDir, { recursive: true, force: true });
	};
	try {
		await waitHealthy(baseUrl, 60_000, () => output);
	} catch (error) {
		await stop();
		throw error;
	}
	return {
		baseUrl,
		wsUrl: `ws://127.0.0.1:${port}/ws`,
		redisUrl: `unix://${path.join(dataDir, 'redis', 'redis.sock')}`,
		redisPrefix: 'tribune',
		apiPid,
		pids,
		stop,
	};
}

async function waitHealthy(baseUrl: string, timeoutMs: number, output: () => string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer';
	while (Date.now() < deadline) {
		try {
			const body = (await (await fetch(`${baseUrl}/healthz`)).json()) as { ok: boolean; transcoders: number };
			last = JSON.stringify(body);
			if (body.ok && body.transcoders >= 1) return;
		} catch (error) {
			last = String(error);
		}
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	throw new Error(`Tribune did not become healthy in ${timeoutMs} ms (last: ${last})\n${output()}`);
}

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
	const res = await fetch(url, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: JSON.stringify(body),
	});
	const json = (await res.json()) as Record<string, unknown>;
	if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(json)}`);
	return json;
}

export interface LiveSpace {
	spaceId: string;
	hostToken: string;
	/** `/hls/<spaceId>/` */
	hlsDir: string;
}

const lines = [
	'Welcome to the load test. Every listener hears this sentence a little after it is spoken.',
	'Reactions and raised hands travel over the audience sockets while the broadcast goes on.',
	'The origin answers blocking playlist requests as soon as each part is published.',
	'This is the fourth synthetic speaker, talking so that the mix always has a voice in it.',
];

/** Creates and starts an audio space with `speakers` synthetic speakers and waits until its LL-HLS plays. */
export async function startLiveSpace(tribune: TribuneUnderLoad, speakers: number): Promise<LiveSpace> {
	const created = await post(`${tribune.baseUrl}/api/spaces`, { title: 'Load test', hostName: 'Load host' });
	const spaceId = (created.space as { id: string }).id;
	const hostToken = created.token as string;
	await post(`${tribune.baseUrl}/api/spaces/${spaceId}/start`, {}, hostToken);
	for (let i = 0; i < speakers; i++) {
		await post(`${tribune.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: `Speaker ${i + 1}`, text: lines[i % lines.length], video: false }, hostToken);
	}
	const hlsDir = `/hls/${spaceId}/`;
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline) {
		const res = await fetch(`${tribune.baseUrl}${hlsDir}audio/index.m3u8`).catch(() => undefined);
		const text = res?.ok ? await res.text() : '';
		// Two whole segments: listeners start with a full part window.
		if ((text.match(/#EXTINF/g) ?? []).length >= 2) return { spaceId, hostToken, hlsDir };
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
	throw new Error(`space ${spaceId} did not reach the origin in 60 s`);
}

/** Joins `count` listeners over REST (`concurrency` at a time) and returns their tokens. */
export async function joinListeners(tribune: TribuneUnderLoad, spaceId: string, count: number, concurrency = 16): Promise<string[]> {
	const tokens: string[] = new Array<string>(count);
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < count) {
			const index = next++;
			const joined = await post(`${tribune.baseUrl}/api/spaces/${spaceId}/join`, { displayName: `Listener ${index + 1}` });
			tokens[index] = joined.token as string;
		}
	};
	await Promise.all(Array.from({ length: concurrency }, worker));
	return tokens;
}
