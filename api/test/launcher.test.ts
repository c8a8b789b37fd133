import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { commandOf, descendants, freePort } from './support/processes.js';

// `npm start` runs the compiled launcher; `npm test` builds before it tests.
const root = path.resolve(import.meta.dirname, '../..');
const launcherScript = path.join(root, 'api/dist/start.js');

interface Running {
	child: ChildProcess;
	port: number;
	output: () => string;
	exited: Promise<number | null>;
}

const started: Running[] = [];
const dataDirs: string[] = [];


function newDataDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-launcher-'));
	dataDirs.push(dir);
	return dir;
}

/** Starts `npm start`'s launcher in its own process group, as a terminal would. */
async function startTribune(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Running> {
	if (!fs.existsSync(launcherScript)) throw new Error(`${launcherScript} is missing: run npm run build`);
	const port = await freePort();
	const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...extraEnv };
	delete env.REDIS_URL;
	if (!('TRIBUNE_ADMIN_KEY' in extraEnv)) delete env.TRIBUNE_ADMIN_KEY;
	const child = spawn(process.execPath, [launcherScript], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
	child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const running = { child, port, output: () => output, exited };
	started.push(running);
	return running;
}

async function waitHealthy(running: Running, timeoutMs = 30_000): Promise<{ ok: boolean; mediasoupWorkers: number; transcoders: number }> {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer';
	while (Date.now() < deadline) {
		try {
			const response = await fetch(`http://127.0.0.1:${running.port}/healthz`);
			const body = (await response.json()) as { ok: boolean; mediasoupWorkers: number; transcoders: number };
			last = JSON.stringify(body);
			if (body.ok && body.transcoders >= 1) return body;
		} catch (error) {
			last = String(error);
		}
		await sleep(200);
	}
	throw new Error(`Tribune did not become healthy in ${timeoutMs} ms (last: ${last})\n${running.output()}`);
}



function isAlive(pid: number): boolean {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
	const deadline = Date.now() + timeoutMs;
	let alive = pids.filter(isAlive);
	while (alive.length > 0 && Date.now() < deadline) {
		await sleep(100);
		alive = alive.filter(isAlive);
	}
	return alive;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]);
	} finally {
		clearTimeout(timer);
	}
}

describe('npm start (the one-machine launcher)', () => {
	afterEach(() => {
		for (const running of started.splice(0)) {
			for (const pid of descendants(running.child.pid!)) process.kill(pid, 'SIGKILL');
			if (running.child.exitCode === null) running.child.kill('SIGKILL');
		}
	});
	afterAll(() => {
		for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
	});

	it('serves the player, health and metrics (on their own loopback port), and Ctrl-C leaves no process behind', async () => {
		const metricsPort = await freePort();
		const running = await startTribune(newDataDir(), { METRICS_PORT: String(metricsPort) });
		const health = await waitHealthy(running);
		expect(health.mediasoupWorkers).toBe(os.availableParallelism());
		const page = await fetch(`http://127.0.0.1:${running.port}/`);
		expect(page.status).toBe(200);
		expect(await page.text()).toContain('<div id="app">');
		const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
		expect(metrics).toMatch(/^tribune_mediasoup_workers \d+$/m);
		// Not on the public port.
		expect((await fetch(`http://127.0.0.1:${running.port}/metrics`)).status).toBe(404);

		const tree = descendants(running.child.pid!);
		const commands = tree.map(commandOf).join('\n');
		expect(commands).toMatch(/redis-server/);
		expect(commands).toMatch(/mediasoup-worker/);
		expect(commands).toMatch(/transcoder\/dist\/main\.js/);

		// A terminal's Ctrl-C signals the whole foreground process group.
		process.kill(-running.child.pid!, 'SIGINT');
		expect(await withTimeout(running.exited, 20_000, 'launcher exit')).toBe(0);
		expect(await waitGone(tree, 5_000)).toEqual([]);
	});

	it('stops everything, Redis last, on SIGTERM to the launcher alone', async () => {
		const dataDir = newDataDir();
		// With a configured admin key, no key file and no sign-in link (checked below).
		const running = await startTribune(dataDir, { TRIBUNE_ADMIN_KEY: 'configured-admin-key-'.padEnd(40, 'k') });
		await waitHealthy(running);
		const tree = descendants(running.child.pid!);
		running.child.kill('SIGTERM');
		expect(await withTimeout(running.exited, 20_000, 'launcher exit')).toBe(0);
		expect(await waitGone(tree, 5_000)).toEqual([]);
		const log = running.output();
		expect(log.indexOf('private redis-server stopped')).toBeGreaterThan(log.lastIndexOf('api stopping'));
		expect(log).not.toContain('Admin sign-in');
		expect(log).not.toContain('configured-admin-key');
		expect(fs.existsSync(path.join(dataDir, 'admin-key'))).toBe(false);
	});

	it('restarts a child that crashes', async () => {
		const running = await startTribune(newDataDir());
		await waitHealthy(running);
		const transcoder = descendants(running.child.pid!).find((pid) => commandOf(pid).includes('transcoder/dist/main.js'))!;
		process.kill(transcoder, 'SIGKILL');
		const deadline = Date.now() + 15_000;
		let replacement: number | undefined;
		while (!replacement && Date.now() < deadline) {
			await sleep(100);
			replacement = descendants(running.child.pid!).find((pid) => pid !== transcoder && commandOf(pid).includes('transcoder/dist/main.js'));
		}
		expect(replacement).toBeDefined();
		expect(running.output()).toContain('child exited; restarting it');
	});

	it('after the launcher is killed with -9, its children exit and the next start stops the stale Redis', async () => {
		const dataDir = newDataDir();
		const first = await startTribune(dataDir);
		await waitHealthy(first);
		const tree = descendants(first.child.pid!);
		const redisPid = tree.find((pid) => commandOf(pid).includes('redis-server'))!;
		const nodeChildren = tree.filter((pid) => /dist\/main\.js/.test(commandOf(pid)));
		expect(nodeChildren).toHaveLength(2);
		first.child.kill('SIGKILL');
		// The API and transcoder see their IPC channel close and exit; mediasoup workers follow the API.
		expect(await waitGone(tree.filter((pid) => pid !== redisPid), 15_000)).toEqual([]);

		const second = await startTribune(dataDir);
		await waitHealthy(second);
		expect(await waitGone([redisPid], 5_000)).toEqual([]);
		expect(second.output()).toContain('left over from an earlier run');
		const secondTree = descendants(second.child.pid!);
		second.child.kill('SIGTERM');
		expect(await withTimeout(second.exited, 20_000, 'launcher exit')).toBe(0);
		expect(await waitGone(secondTree, 5_000)).toEqual([]);
	});

	it('without TRIBUNE_ADMIN_KEY, writes one (0600) into the data dir and, its stdout not a terminal, a sign-in link (0600) that works once into a file whose path it prints; the key and the code are printed nowhere; once used, a restart offers none', async () => {
		const dataDir = newDataDir();
		const running = await startTribune(dataDir);
		await waitHealthy(running);
		const keyFile = path.join(dataDir, 'admin-key');
		expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
		const key = fs.readFileSync(keyFile, 'utf8').trim();
		expect(key.length).toBeGreaterThanOrEqual(32);
		const linkFile = path.join(dataDir, 'admin-sign-in');
		const deadline = Date.now() + 10_000;
		while (!running.output().includes('Admin sign-in') && Date.now() < deadline) await sleep(100);
		expect(running.output()).toContain(`Admin sign-in (one-time, 1 h): the link is in ${linkFile}\n`);
		expect(fs.statSync(linkFile).mode & 0o777).toBe(0o600);
		const link = fs.readFileSync(linkFile, 'utf8').trim();
		const url = new URL(link);
		expect(url.origin).toBe(`http://127.0.0.1:${running.port}`);
		expect(url.pathname).toBe('/admin');
		const code = new URLSearchParams(url.hash.slice(1)).get('code')!;
		expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

		const signIn = () => fetch(`${url.origin}/api/admin/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
		const first = await signIn();
		expect(first.status).toBe(200);
		const { token } = (await first.json()) as { token: string };
		expect((await fetch(`${url.origin}/api/server/spaces`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
		expect((await signIn()).status).toBe(401);
		// The key itself works too (from the file, as an operator would read it).
		expect((await fetch(`${url.origin}/api/server/hosts`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);

		// A crash restart of the API node: an admin has signed in with a code, so no new one is offered.
		const api = descendants(running.child.pid!).find((pid) => commandOf(pid).includes('api/dist/main.js'))!;
		process.kill(api, 'SIGKILL');
		const restarted = Date.now() + 20_000;
		while (!descendants(running.child.pid!).some((pid) => pid !== api && commandOf(pid).includes('api/dist/main.js')) && Date.now() < restarted) await sleep(100);
		await waitHealthy(running);
		await sleep(1000);

		running.child.kill('SIGTERM');
		expect(await withTimeout(running.exited, 20_000, 'launcher exit')).toBe(0);
		const output = running.output();
		expect(output).toContain('child exited; restarting it');
		expect(output).not.toContain(key);
		expect(output).not.toContain(code);
		expect(output.match(/Admin sign-in/g)).toHaveLength(1);
		expect(fs.readFileSync(linkFile, 'utf8').trim()).toBe(link);
	});

	it('refuses to start with an invalid variable, naming it, and starts nothing', async () => {
		const running = await startTribune(newDataDir(), { PORT: 'http', MEDIASOUP_NUM_WORKERS: 'many' });
		expect(await withTimeout(running.exited, 10_000, 'launcher exit')).toBe(78);
		expect(running.output()).toContain('PORT="http": expected a port number');
		expect(running.output()).toContain('MEDIASOUP_NUM_WORKERS="many": expected a whole number');
		expect(descendants(running.child.pid!)).toEqual([]);
	});
});
