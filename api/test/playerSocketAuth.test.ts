import type http from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchSpeakerBrowser, openSpeakerPage, pageRequest } from './support/speakerBrowser.js';
import { serveStagePage } from './support/stagePageBundle.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/** The player's own signaling client (player/src/signaling, bundled by vite) in headless Chromium against a real node. */
let node: TestNode;
let stagePage: Awaited<ReturnType<typeof serveStagePage>>;
let browser: Browser;
const upgrades: { url: string; protocol: string | undefined }[] = [];

beforeAll(async () => {
	[node, stagePage, browser] = await Promise.all([startTestNode(inject('redisUrl')), serveStagePage(), launchSpeakerBrowser('/dev/null')]);
	node.server.on('upgrade', (req: http.IncomingMessage) => upgrades.push({ url: req.url ?? '', protocol: req.headers['sec-websocket-protocol'] }));
}, 120_000);
afterAll(async () => {
	await browser?.close();
	await stagePage?.close();
	await node?.close();
});

describe("the player's signaling socket", () => {
	it('carries its token in the subprotocol offer, never in the URL, and works', async () => {
		const { hostToken } = await createLiveSpace(node);
		const page = await openSpeakerPage(browser, stagePage.url, node.wsUrl, hostToken);
		try {
			// Chromium fails a connection whose server selects none of the offered subprotocols: this one is open.
			expect(((await pageRequest(page, 'getState')) as { you: { role: string } }).you.role).toBe('host');
			expect(upgrades).toHaveLength(1);
			expect(upgrades[0]!.url).toBe('/ws');
			expect(upgrades[0]!.protocol).toBe(`tribune.v1, tribune.token.${hostToken}`);
		} finally {
			await page.close();
		}
	});
});
