/// <reference types="node" />
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { commandOf, descendants, freePort } from '../../../api/test/support/processes.js';
import { seriousViolations } from './axeCheck.js';
import { CspViolations, type CspViolation } from './cspViolations.js';

const root = path.resolve(import.meta.dirname, '../../..');

/** What a player page reports through `window.tribunePlayer.sample()` (player/src/listen/exposeForTests.ts). */
export interface Sample {
	status: string;
	level: number;
	currentTime: number;
	paused: boolean;
	hlsAttached: boolean;
	onStage: boolean;
	errors: string[];
	/** The buffered media, first start to last end, s (empty: nothing buffered). */
	buffered: number[];
	videoWidth: number;
	hlsLevel: number | null;
	audioOnly: boolean;
	/** hls.js' distance behind the live edge and its target (PART-HOLD-BACK, more after stalls), s. */
	latency: number | null;
	targetLatency: number | null;
	playbackRate: number;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, log: () => string = () => ''): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe().catch(() => undefined);
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${log().slice(-3000)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

/**
 * Tribune as `npm start` runs it (compiled: build first), on a free port with a private Redis and data dir,
 * synthetic speakers on, and one headless Chromium with fake camera and microphone. `artifactsDir` gets screenshots.
 */
export class TribuneSystem {
	readonly artifacts: string;
	readonly #dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-player-e2e-'));
	#process: ChildProcess | undefined;
	#browser: Browser | undefined;
	readonly #csp: CspViolations[] = [];
	base = '';
	output = '';

	constructor(name: string) {
		this.artifacts = path.join(root, 'test-artifacts', name);
	}

	/** The launcher's data directory (TRIBUNE_DATA_DIR): its generated token secret and admin key live there. */
	get dataDir(): string {
		return this.#dataDir;
	}

	/** `envOverrides`: variables for the launcher on top of the defaults (undefined removes one, e.g. an inherited key). */
	async start(envOverrides: Record<string, string | undefined> = {}): Promise<void> {
		fs.mkdirSync(this.artifacts, { recursive: true });
		const port = await freePort();
		this.base = `http://127.0.0.1:${port}`;
		const env: NodeJS.ProcessEnv = {
			...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: this.#dataDir, SYNTHETIC_SPEAKERS: 'true', LOG_LEVEL: process.env.TRIBUNE_TEST_LOG_LEVEL ?? 'warn',
			// Journeys create spaces anonymously unless they ask for the closed default (TRIBUNE_OPEN_HOSTING=false).
			TRIBUNE_OPEN_HOSTING: process.env.TRIBUNE_OPEN_HOSTING ?? 'true',
		};
		delete env.REDIS_URL;
		for (const [name, value] of Object.entries(envOverrides)) {
			if (value === undefined) delete env[name];
			else env[name] = value;
		}
		const child = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		this.#process = child;
		const append = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-2_000_000));
		child.stdout!.on('data', append);
		child.stderr!.on('data', append);
		this.#browser = await chromium.launch({
			executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
			args: [
				'--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
				'--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
			],
		});
		await until('a healthy node with a transcoder', async () => {
			const health = (await (await fetch(`${this.base}/healthz`)).json()) as { ok: boolean; transcoders: number };
			return health.ok && health.transcoders > 0 ? true : undefined;
		}, 30_000, () => this.output);
	}

	/** A page in a browser context of its own (its own sessionStorage, as a separate person). */
	async newPage(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
		const context = await this.#browser!.newContext({ viewport });
		this.#csp.push(await CspViolations.watch(context));
		const page = await context.newPage();
		page.on('pageerror', (error) => console.error('page error:', error.message));
		return { context, page };
	}

	/** Every Content-Security-Policy violation any page of this system reported so far (journeys end expecting none). */
	cspViolations(): CspViolation[] {
		return this.#csp.flatMap((watcher) => watcher.list());
	}

	async shot(page: Page, name: string): Promise<void> {
		await page.screenshot({ path: path.join(this.artifacts, `${name}.png`), fullPage: true });
	}

	async seriousViolations(page: Page) {
		return seriousViolations(page);
	}

	/** Keeps the server's log next to the screenshots (with TRIBUNE_TEST_LOG_LEVEL set). */
	saveLog(): void {
		if (process.env.TRIBUNE_TEST_LOG_LEVEL) fs.writeFileSync(path.join(this.artifacts, 'server.log'), this.output);
	}

	/** POSTs JSON with an optional bearer token. */
	async post(pathname: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
		const res = await fetch(`${this.base}${pathname}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
			body: JSON.stringify(body),
		});
		return { status: res.status, body: (await res.json()) as Record<string, unknown> };
	}

	/** Kills the API node with SIGKILL (the launcher restarts it): every WebSocket drops at once. */
	killApiNode(): void {
		const pid = descendants(this.#process!.pid!).find((p) => /api\/dist\/main\.js/.test(commandOf(p)));
		if (!pid) throw new Error('no API node process');
		process.kill(pid, 'SIGKILL');
	}

	/** The launcher's processes whose command line matches `pattern` (e.g. a broadcast's ffmpeg). */
	processes(pattern: RegExp): number[] {
		return descendants(this.#process!.pid!).filter((p) => pattern.test(commandOf(p)));
	}

	/** A process's command line. */
	commandOf(pid: number): string {
		return commandOf(pid);
	}

	async stop(): Promise<void> {
		await this.#browser?.close();
		const child = this.#process;
		if (child?.pid && child.exitCode === null) {
			process.kill(-child.pid, 'SIGINT');
			await new Promise((resolve) => child.once('exit', resolve));
		}
		this.saveLog();
		fs.rmSync(this.#dataDir, { recursive: true, force: true });
	}
}

export const sample = (page: Page): Promise<Sample> => page.evaluate(() => (window as unknown as { tribunePlayer: { sample(): Sample } }).tribunePlayer.sample());

export const packetStats = (page: Page) =>
	page.evaluate(() => (window as unknown as { tribunePlayer: { packetStats(): Promise<{ inbound: Record<string, number>; outbound: number }> } }).tribunePlayer.packetStats());

/** The host's token, from the page's sessionStorage (player/src/session/tokenStore.ts). */
export const tokenOf = (page: Page, spaceId: string): Promise<string> =>
	page.evaluate((id) => (JSON.parse(sessionStorage.getItem(`tribune:session:${id}`)!) as { token: string }).token, spaceId);

/**
 * A host creates a space on the home page (title, their name, optionally a description and a caption mode), lands on
 * its page and takes it live; `beforeCreate` runs on the filled form (checks, screenshots). Returns the space's id.
 */
export async function createLiveSpace(
	host: Page,
	base: string,
	form: { title: string; name: string; description?: string; captions?: string },
	beforeCreate: () => Promise<void> = async () => {},
): Promise<string> {
	await host.goto(base);
	await beforeCreate();
	await host.getByLabel('Title').fill(form.title);
	if (form.description !== undefined) await host.getByLabel('Description').fill(form.description);
	await host.getByLabel('Your name').fill(form.name);
	if (form.captions !== undefined) await host.getByLabel('Captions').selectOption(form.captions);
	await host.getByRole('button', { name: 'Create space' }).click();
	await host.waitForURL(/\/s\/[A-Za-z0-9_-]+$/, { timeout: 10_000 });
	const spaceId = new URL(host.url()).pathname.split('/')[2]!;
	await host.getByTestId('go-live').click({ timeout: 10_000 });
	await host.locator('.live-badge').waitFor({ timeout: 10_000 });
	return spaceId;
}

/**
 * A live space with a synthetic speaker talking on and on, and a listener hearing its broadcast (the system started
 * first if it is not running).
 */
export async function listenerOfLiveSpace(system: TribuneSystem, title: string): Promise<{ spaceId: string; listener: Page }> {
	if (!system.base) await system.start();
	const { page: host } = await system.newPage();
	const spaceId = await createLiveSpace(host, system.base, { title, name: 'Hana Host' });
	const spoken = 'Hello listeners, this is a live broadcast that goes on and on. '.repeat(12);
	const added = await system.post(`/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Robo Speaker', text: spoken }, await tokenOf(host, spaceId));
	if (added.status !== 201) throw new Error(`synthetic speaker: HTTP ${added.status} ${JSON.stringify(added.body)}`);
	const { page: listener } = await system.newPage();
	await listener.goto(`${system.base}/s/${spaceId}`);
	await listener.getByLabel('Your name').fill('Lena Listener');
	await listener.getByRole('button', { name: 'Listen in' }).click();
	await hearsBroadcast(system, listener, 'listener');
	return { spaceId, listener };
}

/** HLS plays: media time moves on and (unless `requireSound` is false) the analyser hears something. */
export async function hearsBroadcast(system: TribuneSystem, page: Page, what: string, diagnose: () => Promise<string> = async () => '', requireSound = true): Promise<Sample & { loudest: number }> {
	const start = await until(`${what}: playback`, async () => {
		const s = await sample(page);
		return s.status === 'playing' && s.currentTime > 0.5 ? s : undefined;
	}, 30_000, () => system.output);
	let last = start;
	let loud = 0;
	try {
		return await until(`${what}: time advancing with sound`, async () => {
			const s = (last = await sample(page));
			loud = Math.max(loud, s.level);
			return s.currentTime > start.currentTime + 1.5 && (loud > 0.001 || !requireSound) && !s.paused ? { ...s, loudest: loud } : undefined;
		}, 20_000);
	} catch (error: unknown) {
		system.saveLog();
		throw new Error(`${(error as Error).message.split('\n')[0]}; started ${JSON.stringify(start)}, last ${JSON.stringify(last)}, loudest ${loud}\n${await diagnose()}\n${system.output.slice(-3000)}`, { cause: error });
	}
}
