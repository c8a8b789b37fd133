import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CspViolations, type CspViolation } from '../../player/test/support/cspViolations.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { createLiveSpace, type TestNode } from './support/startTestNode.js';

/**
 * Security headers of a real API node serving the built player (`npm run build` first): every main route carries
 * nosniff and no-referrer, app pages a strict CSP and no framing, the embed a CSP that lets other sites frame it.
 * Framing is proved in Chromium from a page on another origin (a second HTTP server on another port, reached as
 * `localhost`): `/s/<id>` is refused, `/embed/<id>` plays; a node with TRIBUNE_EMBED_ORIGINS naming another site
 * refuses that page too. /metrics: 404 by default, bearer-only with TRIBUNE_METRICS_TOKEN.
 */
const playerDir = path.resolve(import.meta.dirname, '../../player/dist');
const metricsToken = 'metrics-token-for-the-security-header-test';
let cluster: Awaited<ReturnType<typeof startCluster>>;
let open: ApiProcess;
let partnerOnly: ApiProcess;
let browser: Browser;
let framer: http.Server;
let framerBase = '';

beforeAll(async () => {
	if (!fs.existsSync(path.join(playerDir, 'index.html'))) throw new Error(`${playerDir} is missing: run npm run build`);
	cluster = await startCluster();
	[open, partnerOnly] = await Promise.all([
		ApiProcess.start(cluster, { PLAYER_DIR: playerDir }),
		ApiProcess.start(cluster, { PLAYER_DIR: playerDir, TRIBUNE_EMBED_ORIGINS: 'https://partner.example', TRIBUNE_METRICS_TOKEN: metricsToken }),
	]);
	// Another site: a page that frames whatever URL its query names.
	framer = http.createServer((req, res) => {
		const target = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>framer</title><iframe id="f" src="${target.replace(/"/g, '')}" width="480" height="320"></iframe>`);
	});
	await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
	framerBase = `http://localhost:${(framer.address() as AddressInfo).port}`;
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
	});
}, 90_000);
afterAll(async () => {
	await browser?.close();
	framer?.close();
	await Promise.all([open?.kill('SIGTERM'), partnerOnly?.kill('SIGTERM')]);
	await cluster?.stop();
});

const headersOf = async (url: string, init?: RequestInit) => {
	const response = await fetch(url, init);
	await response.arrayBuffer();
	return { status: response.status, get: (name: string) => response.headers.get(name) };
};

describe('security headers', () => {
	it('every main route: nosniff and no-referrer; app pages a strict CSP and no framing; the embed framable; JSON framable by nobody', async () => {
		const { spaceId } = await createLiveSpace({ baseUrl: open.baseUrl } as TestNode);
		const asset = /src="(\/assets\/[^"]+\.js)"/.exec(fs.readFileSync(path.join(playerDir, 'index.html'), 'utf8'))![1]!;
		const routes = ['/', `/s/${spaceId}`, `/embed/${spaceId}`, asset, `/api/spaces/${spaceId}`, '/api/nothing', `/hls/${spaceId}/master.m3u8`, '/hls/x/y', '/HLS/x/y', '/healthz', '/metrics'];
		for (const route of routes) {
			const reply = await headersOf(`${open.baseUrl}${route}`);
			expect([route, reply.get('x-content-type-options'), reply.get('referrer-policy')]).toEqual([route, 'nosniff', 'no-referrer']);
		}
		for (const route of ['/', `/s/${spaceId}`, asset]) {
			const reply = await headersOf(`${open.baseUrl}${route}`);
			expect(reply.status).toBe(200);
			const csp = reply.get('content-security-policy') ?? '';
			expect(csp).toMatch(/^default-src 'self'; /);
			expect(csp).toContain("frame-ancestors 'none'");
			expect(csp).toContain("object-src 'none'");
			expect(csp).toContain("base-uri 'none'");
			expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
			expect(csp).toContain(`connect-src 'self' ws://${new URL(open.baseUrl).host} wss://${new URL(open.baseUrl).host};`);
			expect(reply.get('x-frame-options')).toBe('DENY');
		}
		const embed = await headersOf(`${open.baseUrl}/embed/${spaceId}`);
		expect(embed.get('content-security-policy')).toMatch(/^default-src 'self'; /);
		expect(embed.get('content-security-policy')).not.toContain('frame-ancestors');
		expect(embed.get('x-frame-options')).toBeNull();
		const partnerEmbed = await headersOf(`${partnerOnly.baseUrl}/embed/${spaceId}`);
		expect(partnerEmbed.get('content-security-policy')).toContain("frame-ancestors 'self' https://partner.example");
		for (const route of [`/api/spaces/${spaceId}`, '/healthz']) {
			const reply = await headersOf(`${open.baseUrl}${route}`);
			expect(reply.status).toBe(200);
			expect(reply.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
		}
	});

	it('/metrics is not on the main port by default, and with TRIBUNE_METRICS_TOKEN only to that bearer token', async () => {
		expect((await headersOf(`${open.baseUrl}/metrics`)).status).toBe(404);
		expect((await headersOf(`${partnerOnly.baseUrl}/metrics`)).status).toBe(401);
		expect((await headersOf(`${partnerOnly.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}x` } })).status).toBe(401);
		const scraped = await fetch(`${partnerOnly.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
		expect(scraped.status).toBe(200);
		expect(await scraped.text()).toMatch(/^tribune_http_connections_refused_total 0$/m);
	});
});

/** The framed document of a framer page, once it has navigated (Chromium shows its error page for a refused frame). */
async function framed(page: Page): Promise<Frame> {
	await page.waitForLoadState('load');
	const frame = page.frames().find((f) => f !== page.mainFrame());
	if (!frame) throw new Error('no iframe');
	await frame.waitForLoadState('load').catch(() => undefined);
	return frame;
}

async function frameFrom(src: string): Promise<{ frame: Frame; violations: CspViolation[] }> {
	const context = await browser.newContext();
	const csp = await CspViolations.watch(context);
	const page = await context.newPage();
	await page.goto(`${framerBase}/?src=${encodeURIComponent(src)}`);
	const frame = await framed(page);
	// A refused frame is reported on the console a moment after its load.
	await page.waitForTimeout(500);
	return { frame, violations: csp.list() };
}

describe('framing from another site', () => {
	it('refuses to be framed on /s/<id>, and plays in a frame at /embed/<id>', { timeout: 60_000 }, async () => {
		const { spaceId } = await createLiveSpace({ baseUrl: open.baseUrl } as TestNode);
		const share = await frameFrom(`${open.baseUrl}/s/${spaceId}`);
		expect(share.frame.url()).toMatch(/^chrome-error:/);
		expect(share.violations.map((v) => v.what).join('\n')).toMatch(/frame-ancestors 'none'/);

		const embed = await frameFrom(`${open.baseUrl}/embed/${spaceId}`);
		expect(embed.frame.url()).toBe(`${open.baseUrl}/embed/${spaceId}`);
		// The app ran inside the frame (under its own CSP, without a violation).
		await embed.frame.locator('#app > *').first().waitFor({ timeout: 10_000 });
		expect(embed.violations).toEqual([]);
	});

	it('with TRIBUNE_EMBED_ORIGINS naming another site, the embed refuses this one', { timeout: 60_000 }, async () => {
		const { spaceId } = await createLiveSpace({ baseUrl: partnerOnly.baseUrl } as TestNode);
		const embed = await frameFrom(`${partnerOnly.baseUrl}/embed/${spaceId}`);
		expect(embed.frame.url()).toMatch(/^chrome-error:/);
		expect(embed.violations.map((v) => v.what).join('\n')).toMatch(/frame-ancestors 'self' https:\/\/partner\.example/);
	});
});
