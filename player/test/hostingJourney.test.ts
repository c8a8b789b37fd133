/// <reference types="node" />
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createLiveSpace, TribuneSystem, until } from './support/tribuneSystem.js';

/**
 * Hosting on a public server, in headless Chromium against the whole system as `npm start` runs it (compiled: `npm
 * run build` first), with hosting closed (the default) and no admin key given, so the launcher writes its one-time
 * sign-in link: the admin signs in with it and mints a host invite; a second browser sees that it may not create a
 * space, opens the invite, creates a space and goes live; a listener (a third browser) joins, may not take the host's
 * name, and is invited on stage; the host bans them; their page says so, and a new visit from that browser without a
 * token (its anonymous identity kept) is refused with the same sentence. axe-core on every page, no CSP violation.
 * Screenshots go to test-artifacts/player-hosting/.
 */
const system = new TribuneSystem('player-hosting');
afterAll(() => system.stop());

const expectAccessible = async (page: Page, name: string) => expect(await system.seriousViolations(page), `axe on ${name}`).toEqual([]);
const alertOf = (page: Page, testId: string) => page.getByTestId(testId).getByRole('alert').textContent();

describe('hosting journey', () => {
	it('first-run admin link → host invite → the host creates a space → a listener joins, is banned, and cannot come back', { timeout: 180_000 }, async () => {
		await system.start({ TRIBUNE_OPEN_HOSTING: 'false', TRIBUNE_ADMIN_KEY: undefined });
		const base = system.base;

		// Its stdout not a terminal, the launcher writes the one-time sign-in link into the data directory and prints the path.
		const linkFile = path.join(system.dataDir, 'admin-sign-in');
		const link = await until('the admin sign-in link', async () => (system.output.includes(`the link is in ${linkFile}`) ? /^\S+\/admin#code=[A-Za-z0-9_-]+$/m.exec(fs.readFileSync(linkFile, 'utf8'))?.[0] : undefined), 30_000, () => system.output);
		const signIn = new URL(link);
		expect(`${signIn.protocol}//${signIn.host}`).toBe(base);

		// The admin, on a phone: signs in with the link; the code leaves the address bar at once.
		const { page: admin } = await system.newPage({ width: 390, height: 844 });
		await admin.goto(link);
		await expect.poll(() => admin.getByTestId('admin-status').textContent(), { timeout: 10_000 }).toMatch(/Signed in with the sign-in link/);
		expect(new URL(admin.url()).hash).toBe('');
		await expectAccessible(admin, 'admin page');
		// The page fits a phone: nothing scrolls sideways.
		expect(await admin.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

		// The link works once; then the admin key (generated into the data directory) signs in, and nothing else does.
		const { page: again } = await system.newPage();
		await again.goto(link);
		await expect.poll(() => alertOf(again, 'admin-sign-in'), { timeout: 10_000 }).toMatch(/used already or has expired/);
		await expectAccessible(again, 'admin sign-in refused');
		await again.getByLabel('Admin key').fill('x'.repeat(43));
		await again.getByRole('button', { name: 'Sign in' }).click();
		await expect.poll(() => alertOf(again, 'admin-sign-in'), { timeout: 10_000 }).toMatch(/did not accept that admin key/);
		await again.getByLabel('Admin key').fill(fs.readFileSync(path.join(system.dataDir, 'admin-key'), 'utf8').trim());
		await again.getByRole('button', { name: 'Sign in' }).click();
		await expect.poll(() => again.getByTestId('admin-status').textContent(), { timeout: 10_000 }).toMatch(/Signed in with the admin key/);
		expect(await again.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }))).not.toContain(fs.readFileSync(path.join(system.dataDir, 'admin-key'), 'utf8').trim());

		// A host invite for one use, a day.
		await admin.getByRole('textbox', { name: /^Label/ }).fill('Hana');
		await admin.getByLabel('Expires after').selectOption({ label: '1 day' });
		await admin.getByLabel('Number of uses').fill('1');
		await admin.getByRole('button', { name: 'Create invite' }).click();
		const inviteUrl = await until('the invite link', async () => (await admin.getByTestId('invite-url').inputValue()) || undefined, 10_000);
		expect(inviteUrl).toMatch(new RegExp(`^${base}/host-invite#code=[A-Za-z0-9_-]{43}$`));
		await expect.poll(() => admin.getByTestId('invite-list').textContent()).toMatch(/Hana/);
		await system.shot(admin, '01-admin-invite');
		await expectAccessible(admin, 'admin page with an invite');

		// A second browser, no host yet: the create page says how to become one instead of the form.
		const { page: host } = await system.newPage();
		await host.goto(base);
		await expect.poll(() => alertOf(host, 'host-required'), { timeout: 10_000 }).toMatch(/ask this server's operator for a host invite link/);
		expect(await host.getByTestId('create-form').count()).toBe(0);
		await expectAccessible(host, 'create page without a host invite');

		// It opens the invite: a host now, the code gone from the address bar.
		await host.goto(inviteUrl);
		await host.getByTestId('host-ready').waitFor({ timeout: 10_000 });
		expect(await host.getByTestId('host-ready').getByRole('status').textContent()).toMatch(/can now host spaces on this server as “Hana”/);
		expect(new URL(host.url()).hash).toBe('');
		expect(await host.evaluate(() => localStorage.getItem('tribune.hostCredential'))).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
		await system.shot(host, '02-host-invite');
		await expectAccessible(host, 'host invite page');

		// The invite was for one use: a third browser opening it is told so.
		const { page: late } = await system.newPage();
		await late.goto(inviteUrl);
		await expect.poll(() => late.getByTestId('invite-refused').textContent(), { timeout: 10_000 }).toMatch(/cannot be used/);
		await expectAccessible(late, 'host invite refused');

		// The host creates a space and goes live.
		const spaceId = await createLiveSpace(host, base, { title: 'Hosting journey', name: 'Hana Host' }, async () => {
			await expect.poll(() => host.getByTestId('hosting-as').textContent(), { timeout: 10_000 }).toMatch(/Hosting as “Hana”/);
			await expectAccessible(host, 'create page as a host');
		});
		const hostTile = host.locator(`[data-testid=stage-tile]`).filter({ hasText: 'Hana Host' });
		expect(await hostTile.getByTestId('role').textContent()).toBe('Host');
		expect(await hostTile.getByTestId('role').getAttribute('class')).toMatch(/role-badge/);
		await system.shot(host, '03-host-live');
		await expectAccessible(host, 'space page, host');

		// A listener joins: not as the host's name, then as their own; the browser keeps its anonymous identity.
		const { page: listener } = await system.newPage();
		await listener.goto(`${base}/s/${spaceId}`);
		await listener.getByLabel('Your name').fill('hana  HOST');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await expect.poll(() => alertOf(listener, 'join-form'), { timeout: 10_000 }).toMatch(/already goes by that name/);
		await expectAccessible(listener, 'join refused, name taken');
		await listener.getByLabel('Your name').fill('Lena Listener');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await listener.getByTestId('raise-hand').click({ timeout: 15_000 });
		const identity = await listener.evaluate(() => localStorage.getItem('tribune.identity'));
		expect(identity).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
		await expectAccessible(listener, 'space page, listener');

		// The host invites them on stage, then removes them with a ban.
		await host.locator('[data-testid=hand-queue] li').first().getByTestId('approve').click({ timeout: 10_000 });
		const row = host.locator('[data-testid=manage-stage] li').filter({ hasText: 'Lena Listener' });
		await row.getByRole('button', { name: 'Ban Lena Listener', exact: true }).click({ timeout: 10_000 });
		await expect.poll(() => listener.getByTestId('final').textContent(), { timeout: 10_000 }).toMatch(/You were removed from this space by a host/);
		await system.shot(listener, '04-banned');
		await expectAccessible(listener, 'banned listener');

		// A new visit from the same browser, without its token: the kept identity is refused with the same sentence.
		await listener.evaluate(() => sessionStorage.clear());
		await listener.reload();
		await listener.getByLabel('Your name').fill('Lena Again');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await expect.poll(() => alertOf(listener, 'join-form'), { timeout: 10_000 }).toMatch(/You were removed from this space by a host/);
		expect(await listener.evaluate(() => localStorage.getItem('tribune.identity'))).not.toBeNull();
		await system.shot(listener, '05-banned-rejoin');
		await expectAccessible(listener, 'banned listener joining again');

		// The admin revokes the host: their create page forgets the credential and says what to do.
		await admin.reload();
		const hostRow = admin.getByTestId('host-list').locator('li').filter({ hasText: 'Hana' });
		await hostRow.getByRole('button', { name: /^Revoke host/ }).click({ timeout: 10_000 });
		await hostRow.getByRole('button', { name: /^Yes, revoke host/ }).click();
		await expect.poll(() => admin.getByTestId('hosts-status').textContent(), { timeout: 10_000 }).toMatch(/can no longer start spaces/);
		await host.goto(base);
		await expect.poll(() => alertOf(host, 'host-required'), { timeout: 10_000 }).toMatch(/revoked this browser's host access/);
		expect(await host.evaluate(() => localStorage.getItem('tribune.hostCredential'))).toBeNull();
		await expectAccessible(host, 'create page after the host was revoked');

		// A revoked invite's link is refused.
		await admin.getByRole('textbox', { name: /^Label/ }).fill('Spare');
		await admin.getByRole('button', { name: 'Create invite' }).click();
		const spareUrl = await until('the second invite link', async () => {
			const url = await admin.getByTestId('invite-url').inputValue();
			return url && url !== inviteUrl ? url : undefined;
		}, 10_000);
		await admin.getByRole('button', { name: 'Revoke invite Spare' }).click({ timeout: 10_000 });
		await expect.poll(() => admin.getByTestId('invites-status').textContent(), { timeout: 10_000 }).toMatch(/revoked: its link no longer works/);
		await late.goto(spareUrl);
		await expect.poll(() => late.getByTestId('invite-refused').textContent(), { timeout: 10_000 }).toMatch(/cannot be used/);

		// The admin ends the live space: it moves to the recently ended.
		const spaceRow = admin.getByTestId('running-spaces').locator('li').filter({ hasText: 'Hosting journey' });
		await spaceRow.getByRole('button', { name: 'End Hosting journey' }).click({ timeout: 10_000 });
		await spaceRow.getByRole('button', { name: 'Yes, end Hosting journey' }).click();
		await expect.poll(() => admin.getByTestId('spaces-status').textContent(), { timeout: 10_000 }).toMatch(/has ended/);
		await expect.poll(() => admin.getByTestId('ended-spaces').textContent(), { timeout: 10_000 }).toMatch(/Hosting journey/);
		expect(await admin.getByTestId('running-spaces').textContent()).not.toMatch(/Hosting journey/);
		await system.shot(admin, '06-admin-ended');
		await expectAccessible(admin, 'admin page after ending a space');

		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
