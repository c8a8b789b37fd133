import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandOf, descendants, freePort } from './support/processes.js';
import { eventually } from './support/speakerBrowser.js';
import { httpsGet, replaceFile, TestCa } from './support/tlsTestCa.js';

/**
 * Tribune serving HTTPS itself, as `npm start` runs it (compiled: build first), with a certificate from a CA this
 * test makes: the player's journey in Chromium over https:// and wss:// under a real host name (a secure context,
 * so the host's microphone is given), a renewal picked up without a restart (and a half-written one ignored), and the
 * plain-HTTP redirect.
 */
const root = path.resolve(import.meta.dirname, '../..');
const name = 'tribune.test';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-tls-'));
const ca = TestCa.create(path.join(dir, 'ca'));
const certFile = path.join(dir, 'fullchain.pem');
const keyFile = path.join(dir, 'privkey.pem');
let launcher: ChildProcess | undefined;
let browser: Browser | undefined;
let output = '';
let port = 0;
let redirectPort = 0;
let first: ReturnType<TestCa['issue']>;

beforeAll(async () => {
	first = ca.issue([name, '127.0.0.1']);
	replaceFile(certFile, first.fullchain);
	replaceFile(keyFile, first.key);
	[port, redirectPort] = [await freePort(), await freePort()];
	const env: NodeJS.ProcessEnv = {
		...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn', TRIBUNE_OPEN_HOSTING: 'true',
		MEDIASOUP_NUM_WORKERS: '1', TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_RELOAD_CHECK_S: '1', HTTP_REDIRECT_PORT: String(redirectPort),
	};
	delete env.REDIS_URL;
	launcher = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	const append = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000));
	launcher.stdout!.on('data', append);
	launcher.stderr!.on('data', append);
	await until('a healthy node with a transcoder, over HTTPS', async () => {
		const health = await httpsGet(`https://${name}:${port}/healthz`, ca.pem, name);
		return health.status === 200 && (JSON.parse(health.body) as { transcoders: number }).transcoders > 0 ? true : undefined;
	}, 40_000, () => output);
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: [
			'--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
			// tribune.test is this machine; the test CA is trusted by its key (as an installed root would be), nothing else.
			`--host-resolver-rules=MAP ${name} 127.0.0.1`,
			`--ignore-certificate-errors-spki-list=${ca.spkiSha256}`,
		],
	});
}, 90_000);

afterAll(async () => {
	await browser?.close();
	if (launcher?.pid && launcher.exitCode === null) {
		process.kill(-launcher.pid, 'SIGINT');
		await new Promise((resolve) => launcher!.once('exit', resolve));
	}
	fs.rmSync(dir, { recursive: true, force: true });
});

/** `probe` until it gives a value (a throw counts as none yet), at most `timeoutMs`; a timeout shows the server's log. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, log: () => string = () => ''): Promise<T> {
	try {
		// A probe that throws (the server not up yet) is a "not yet".
		return await eventually(() => probe().catch(() => undefined), what, timeoutMs);
	} catch (error) {
		throw new Error(`${(error as Error).message}\n${log().slice(-3000)}`, { cause: error });
	}
}

/** What the player page reports (player/src/listen/exposeForTests.ts), as far as this test reads it. */
interface PlayerSample {
	status: string;
	level: number;
	currentTime: number;
	errors: string[];
}
// Browser code as strings: the API's tests are compiled without the DOM library.
const sample = (page: Page): Promise<PlayerSample> => page.evaluate('window.tribunePlayer.sample()') as Promise<PlayerSample>;
const outboundPackets = async (page: Page): Promise<number> => ((await page.evaluate('window.tribunePlayer.packetStats()')) as { outbound: number }).outbound;

/** The host creates a space on the home page and takes it live, as player/test's journeys do; the space's id. */
async function createLiveSpace(host: Page, base: string, form: { title: string; name: string }): Promise<string> {
	await host.goto(base);
	await host.getByLabel('Title').fill(form.title);
	await host.getByLabel('Your name').fill(form.name);
	await host.getByRole('button', { name: 'Create space' }).click();
	await host.waitForURL(/\/s\/[A-Za-z0-9_-]+$/, { timeout: 10_000 });
	const spaceId = new URL(host.url()).pathname.split('/')[2]!;
	await host.getByTestId('go-live').click({ timeout: 10_000 });
	await host.locator('.live-badge').waitFor({ timeout: 10_000 });
	return spaceId;
}

const apiPid = (): number | undefined => descendants(launcher!.pid!).find((p) => /api\/dist\/main\.js/.test(commandOf(p)));

async function newPage(): Promise<Page> {
	const page = await (await browser!.newContext()).newPage();
	page.on('pageerror', (error) => console.error('page error:', error.message));
	return page;
}

describe('HTTPS served by Tribune', () => {
	it('refuses plain HTTP and old TLS on the HTTPS port, and verifies against the test CA only', async () => {
		await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
		// Trusting nothing but the system's roots, the test CA's certificate is refused.
		await expect(httpsGet(`https://${name}:${port}/healthz`, fs.readFileSync('/etc/ssl/certs/ca-certificates.crt'), name)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
	});

	it('a host creates a space and goes live over https:// and wss:// with the microphone, and a listener hears it over LL-HLS', { timeout: 120_000 }, async () => {
		const base = `https://${name}:${port}`;
		const host = await newPage();
		const spaceId = await createLiveSpace(host, base, { title: 'Over HTTPS', name: 'Hana Host' });
		expect(await host.evaluate('({ secure: window.isSecureContext, protocol: location.protocol })')).toEqual({ secure: true, protocol: 'https:' });
		// The microphone is given only to a secure context: its packets leave for the stage.
		await until('the host\'s microphone on stage', async () => ((await outboundPackets(host)) > 50 ? true : undefined), 30_000, () => output);

		const listener = await newPage();
		await listener.goto(`${base}/s/${spaceId}`);
		await listener.getByLabel('Your name').fill('Lena Listener');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		const heard = await until('the listener hearing the host over LL-HLS', async () => {
			const s = await sample(listener);
			return s.status === 'playing' && s.currentTime > 1 && s.level > 0.001 ? s : undefined;
		}, 60_000, () => output);
		expect(heard.errors).toEqual([]);
		const requests = (await listener.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")) as string[];
		expect(requests.filter((url) => url.includes('/hls/')).length).toBeGreaterThan(3);
		expect(requests.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith('data:') && !url.startsWith('blob:'))).toEqual([]);
		await Promise.all([host.context().close(), listener.context().close()]);
	});

	it('serves a renewed certificate without a restart, and keeps the old one while a renewal is half written', { timeout: 60_000 }, async () => {
		const pid = apiPid();
		expect(pid).toBeDefined();
		expect((await httpsGet(`https://${name}:${port}/healthz`, ca.pem, name)).fingerprint).toBe(first.fingerprint);
		// A host page stays connected through the renewal.
		const host = await newPage();
		const spaceId = await createLiveSpace(host, `https://${name}:${port}`, { title: 'Renewal', name: 'Hana Host' });

		// The new chain is in place but its key is not yet: the old pair keeps serving.
		const renewed = ca.issue([name, '127.0.0.1']);
		replaceFile(certFile, renewed.fullchain);
		await until('the half-written renewal noticed', async () => (/do not load; still serving the previous certificate/.test(output) ? true : undefined), 10_000, () => output);
		expect((await httpsGet(`https://${name}:${port}/healthz`, ca.pem, name)).fingerprint).toBe(first.fingerprint);

		replaceFile(keyFile, renewed.key);
		await until('the renewed certificate served', async () => ((await httpsGet(`https://${name}:${port}/healthz`, ca.pem, name)).fingerprint === renewed.fingerprint ? true : undefined), 10_000, () => output);
		expect(apiPid()).toBe(pid);
		// A new browser connection verifies the renewed certificate too; the host's page never had to reconnect.
		const again = await newPage();
		await again.goto(`https://${name}:${port}/s/${spaceId}`);
		await again.getByLabel('Your name').waitFor({ timeout: 10_000 });
		expect(await host.getByTestId('reconnecting').count()).toBe(0);
		// `systemctl reload` (SIGHUP to the launcher) reaches the node, which stays up.
		process.kill(launcher!.pid!, 'SIGHUP');
		await until('the node re-reading its certificate on SIGHUP', async () => (/SIGHUP|TLS certificate/.test(output) && (await httpsGet(`https://${name}:${port}/healthz`, ca.pem, name)).status === 200 ? true : undefined), 10_000, () => output);
		expect(apiPid()).toBe(pid);
		await Promise.all([host.context().close(), again.context().close()]);
	});

	it('redirects plain HTTP to the same path over HTTPS on HTTP_REDIRECT_PORT, and only to its own name', async () => {
		const get = (hostHeader: string, pathname: string) => new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
			http.get({ host: '127.0.0.1', port: redirectPort, path: pathname, headers: { host: hostHeader } }, (res) => {
				res.resume();
				resolve({ status: res.statusCode ?? 0, location: res.headers.location });
			}).on('error', reject);
		});
		expect(await get(`${name}:${redirectPort}`, '/s/abc?x=1')).toEqual({ status: 308, location: `https://${name}:${port}/s/abc?x=1` });
		expect(await get(name, '/')).toEqual({ status: 308, location: `https://${name}:${port}/` });
		expect((await get('evil.example/x', '/')).status).toBe(400);
		expect((await get('user@evil.example', '/')).status).toBe(400);
	});
});
