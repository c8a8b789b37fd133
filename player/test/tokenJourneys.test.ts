/// <reference types="node" />
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createLiveSpace, tokenOf, TribuneSystem } from './support/tribuneSystem.js';

/**
 * Tokens in the player, in headless Chromium against the whole system as `npm start` runs it (compiled: `npm run
 * build` first): the signaling WebSocket carries no token in its URL; a host signs a speaker out (their page goes back
 * to the join form and says why); the host rotates their token (the old one is refused, this tab carries on). Screenshots go to test-artifacts/player-tokens/.
 */
const system = new TribuneSystem('player-tokens');
afterAll(() => system.stop());

/** Every WebSocket URL a page opens. */
function socketUrls(page: Page): string[] {
	const urls: string[] = [];
	page.on('websocket', (ws) => urls.push(ws.url()));
	return urls;
}

describe('player tokens', () => {
	it('no token in the socket URL; a signed-out speaker is told why and shown the join form; a rotated host token is refused while the tab carries on', { timeout: 120_000 }, async () => {
		await system.start();
		const base = system.base;

		const { page: host } = await system.newPage();
		const hostSockets = socketUrls(host);
		const spaceId = await createLiveSpace(host, base, { title: 'Token journeys', name: 'Hana Host' });
		const hostToken = await tokenOf(host, spaceId);
		// Open hosting: the creator is this browser's anonymous identity, whose credential it keeps for its next joins.
		expect(await host.evaluate(() => localStorage.getItem('tribune.identity'))).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

		// A listener joins, asks to speak and is invited; the host signs them out (their tokens revoked, no ban).
		const { page: listener } = await system.newPage();
		const listenerSockets = socketUrls(listener);
		await listener.goto(`${base}/s/${spaceId}`);
		await listener.getByLabel('Your name').fill('Lena Listener');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await listener.getByTestId('raise-hand').click({ timeout: 15_000 });
		await host.locator('[data-testid=hand-queue] li').first().getByTestId('approve').click({ timeout: 10_000 });
		const row = host.locator('[data-testid=manage-stage] li').filter({ hasText: 'Lena Listener' });
		await row.getByTestId('revoke').click({ timeout: 10_000 });
		await listener.getByTestId('join-form').waitFor({ timeout: 10_000 });
		await expect.poll(() => listener.getByTestId('join-form').getByRole('alert').textContent(), { timeout: 5000 }).toMatch(/access to this space was revoked/);
		await system.shot(listener, '01-signed-out');
		expect(await listener.evaluate((id) => sessionStorage.getItem(`tribune:session:${id}`), spaceId)).toBeNull();
		// Joining again works: a new visit.
		await listener.getByLabel('Your name').fill('Lena Again');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await listener.getByTestId('raise-hand').waitFor({ timeout: 15_000 });

		// The host rotates: a copy of the old token (a second device, a leaked session) stops working; this tab carries
		// on with the new one, over signaling and REST. (One node keeps one connection per person, so a second tab here
		// would replace this one; closing another node's connection is api/test/tokenRevocation.test.ts.)
		await host.getByTestId('rotate-token').click();
		await expect.poll(() => host.getByTestId('rotate-status').textContent(), { timeout: 10_000 }).toMatch(/other sessions are signed out/);
		await system.shot(host, '02-rotated');
		expect(await tokenOf(host, spaceId)).not.toBe(hostToken);
		expect((await system.post(`/api/spaces/${spaceId}/join`, { displayName: 'Hana Host', token: hostToken })).status).toBe(401);
		expect(await host.getByTestId('host-panel').isVisible()).toBe(true);
		expect((await system.post(`/api/spaces/${spaceId}/end`, {}, hostToken)).status).toBe(401);
		expect((await system.post(`/api/spaces/${spaceId}/end`, {}, await tokenOf(host, spaceId))).status).toBe(200);

		// No page ever put a token in a WebSocket URL.
		const all = [...hostSockets, ...listenerSockets];
		expect(all.length).toBeGreaterThanOrEqual(2);
		for (const url of all) expect(new URL(url).search, url).toBe('');
		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
