import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CspViolations } from '../../player/test/support/cspViolations.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, type TestNode } from './support/startTestNode.js';

/** The player on a full node: it says so, with when it retries, and gets in once there is room. Needs `npm run build`. */
const playerDir = path.resolve(import.meta.dirname, '../../player/dist');
let cluster: Awaited<ReturnType<typeof startCluster>>;
let api: ApiProcess;
let browser: Browser;

beforeAll(async () => {
	if (!fs.existsSync(path.join(playerDir, 'index.html'))) throw new Error(`${playerDir} is missing: run npm run build`);
	cluster = await startCluster();
	api = await ApiProcess.start(cluster, { NODE_MAX_AUDIENCE: '1', NODE_FULL_RETRY_AFTER_S: '2', PLAYER_DIR: playerDir });
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
}, 60_000);
afterAll(async () => {
	await browser?.close();
	await api?.kill('SIGTERM');
	await cluster?.stop();
});

describe('admission control in the player', () => {
	it('a visitor to a full node reads "This space is full here, retrying in N s" and is let in once a place frees', async () => {
		const rest = { baseUrl: api.baseUrl } as TestNode;
		const { spaceId } = await createLiveSpace(rest);
		const occupant = await SignalingClient.connect(api.wsUrl, (await joinSpace(rest, spaceId, 'First')).token);
		const context = await browser.newContext();
		const csp = await CspViolations.watch(context);
		const page = await context.newPage();
		await page.goto(`${api.baseUrl}/s/${spaceId}`);
		await page.getByLabel('Your name').fill('Second');
		await page.getByRole('button', { name: 'Listen in' }).click();
		const alert = page.getByTestId('join-form').getByRole('alert');
		await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toMatch(/^This space is full here, retrying in [23] s\.$/);
		// Still full at the retry: it says so again and keeps waiting.
		await page.waitForTimeout(3000);
		await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toMatch(/full here, retrying/);
		occupant.close();
		await page.getByTestId('listener-count').waitFor({ timeout: 20_000 });
		expect(await page.getByTestId('join-form').count()).toBe(0);
		expect(csp.list(), 'CSP violations').toEqual([]);
	});
});
