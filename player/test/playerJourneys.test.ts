/// <reference types="node" />
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { estimateLatencyMs } from '../src/listen/estimateLatency.js';
import { createLiveSpace, hearsBroadcast, packetStats, sample, tokenOf, TribuneSystem, until } from './support/tribuneSystem.js';

/**
 * The player's journeys in headless Chromium against the whole system as `npm start` runs it (compiled: `npm run
 * build` first): a host creates a space and goes live, a synthetic speaker talks, a listener hears it over LL-HLS,
 * raises a hand, is invited on stage (WebRTC, HLS stopped), is moved back to the audience (HLS again), the host pins
 * the speaker (on top on every page), mutes and unmutes it, a reaction floats on the host's page, an embed plays,
 * the host ends the space and the replay plays. Every page is checked with axe-core; screenshots of each step go to
 * test-artifacts/player-e2e/ (laptop and phone widths).
 */
const system = new TribuneSystem('player-e2e');
afterAll(() => system.stop());

const expectAccessible = async (page: Page, name: string) => expect(await system.seriousViolations(page), `axe on ${name}`).toEqual([]);
const shot = (page: Page, name: string) => system.shot(page, name);
const firstTileId = (page: Page) => page.locator('[data-testid=stage-tile]').first().getAttribute('data-participant-id');

describe('player journeys', () => {
	it('create, listen over LL-HLS, speak on stage over WebRTC, back to HLS, pin, mute, react, embed, end and replay', { timeout: 180_000 }, async () => {
		await system.start();
		const base = system.base;

		// Each person has a browser context of their own (their own sessionStorage, as separate people would).
		const newPage = (viewport?: { width: number; height: number }) => system.newPage(viewport);

		// The host creates a space from the home page and lands on its page.
		const { page: host } = await newPage();
		const spaceId = await createLiveSpace(host, base, { title: 'Player journeys', description: 'A space the end-to-end test runs.', name: 'Hana Host' }, async () => {
			await expectAccessible(host, 'create page');
			await shot(host, '01-create');
		});
		const hostToken = await tokenOf(host, spaceId);

		// A synthetic speaker talks on stage.
		const added = await fetch(`${base}/api/spaces/${spaceId}/synthetic-speakers`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', authorization: `Bearer ${hostToken}` },
			body: JSON.stringify({ displayName: 'Robo Speaker', text: 'Hello listeners, this is a live broadcast from the stage of Tribune. Welcome, everyone.' }),
		});
		expect(added.status).toBe(201);
		const robotId = ((await added.json()) as { participant: { id: string } }).participant.id;

		// A listener opens the share link, gives a name and hears the space over LL-HLS.
		const { page: listener } = await newPage();
		await listener.goto(`${base}/s/${spaceId}`);
		await listener.getByTestId('join-form').waitFor({ timeout: 10_000 });
		await expectAccessible(listener, 'join form');
		await shot(listener, '02-join');
		await listener.getByLabel('Your name').fill('Lena Listener');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await hearsBroadcast(system, listener, 'listener');
		await listener.locator(`[data-testid=stage-tile][data-participant-id="${robotId}"]`).waitFor({ timeout: 10_000 });
		await expect.poll(() => listener.getByTestId('listener-count').textContent(), { timeout: 10_000 }).toMatch(/^1 listener/);
		await expectAccessible(listener, 'listener page');
		await shot(listener, '03-listening');

		// Request to speak: hand raised, the host invites; the listener joins the stage over WebRTC and HLS stops.
		// Keyboard only: Tab reaches the request-to-speak button, Enter presses it.
		let focused = '';
		for (let i = 0; i < 30 && focused !== 'raise-hand'; i++) {
			await listener.keyboard.press('Tab');
			focused = await listener.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
		}
		expect(focused).toBe('raise-hand');
		await listener.keyboard.press('Enter');
		await listener.getByTestId('hand-raised').waitFor({ timeout: 10_000 });
		await expect.poll(() => listener.getByTestId('hand-raised').textContent(), { timeout: 10_000 }).toMatch(/you are next/);
		const hand = host.locator('[data-testid=hand-queue] li').first();
		await hand.waitFor({ timeout: 10_000 });
		const listenerId = (await hand.getAttribute('data-participant-id'))!;
		await expectAccessible(host, 'host page with a raised hand');
		// The host's live stats estimate the listeners' delay from the live playlist.
		await expect.poll(() => host.getByTestId('latency').textContent(), { timeout: 10_000 }).toMatch(/≈ \d+\.\d s/);
		await shot(host, '04-host-queue');
		await hand.getByTestId('approve').click();
		const onStage = await until('the listener on stage with HLS stopped', async () => {
			const s = await sample(listener);
			return s.onStage && !s.hlsAttached ? s : undefined;
		}, 20_000);
		expect(onStage.paused).toBe(true);
		await listener.getByTestId('speaker-controls').waitFor({ timeout: 5000 });
		// Its microphone reaches the host over the SFU, and it hears the synthetic speaker.
		const before = await until('the host receiving the new speaker', async () => ((await packetStats(host)).inbound[listenerId] ?? 0) > 0 ? (await packetStats(host)).inbound[listenerId]! : undefined, 20_000);
		await until('packets from the new speaker still flowing', async () => (((await packetStats(host)).inbound[listenerId] ?? 0) > before + 20 ? true : undefined), 10_000);
		await until('the new speaker receiving the synthetic speaker', async () => (((await packetStats(listener)).inbound[robotId] ?? 0) > 20 ? true : undefined), 20_000);
		await expectAccessible(listener, 'speaker page');
		await shot(listener, '05-on-stage');

		// The host moves them back to the audience: HLS plays again, no page load.
		await host.locator(`[data-testid=manage-stage] li[data-participant-id="${listenerId}"]`).getByTestId('demote').click();
		await until('the stage left', async () => (!(await sample(listener)).onStage ? true : undefined), 10_000);
		await hearsBroadcast(system, listener, 'listener back in the audience', async () => {
			const playlist = await (await fetch(`${base}/hls/${spaceId}/audio/index.m3u8`)).text().catch((e: Error) => e.message);
			// Tells a stalled broadcast (no new media at the origin) from a player that does not play what is there.
			const behindMs = estimateLatencyMs(playlist, Date.now());
			const verdict = behindMs !== undefined && behindMs > 5000 ? `THE BROADCAST STALLED: the origin's newest media is ${(behindMs / 1000).toFixed(1)} s old` : `the origin is ${behindMs} ms behind`;
			return `${verdict}; its playlist ends:\n${playlist.split('\n').slice(-10).join('\n')}`;
		});
		await listener.getByTestId('raise-hand').waitFor({ timeout: 5000 });

		// The host pins the synthetic speaker: first on every page.
		await host.locator(`[data-testid=manage-stage] li[data-participant-id="${robotId}"]`).getByTestId('pin').click();
		for (const page of [host, listener]) await expect.poll(() => firstTileId(page), { timeout: 10_000 }).toBe(robotId);

		// The host mutes the speaker: every page shows it muted; unmuted again.
		const robotTile = (page: Page) => page.locator(`[data-testid=stage-tile][data-participant-id="${robotId}"]`);
		const robotRow = host.locator(`[data-testid=manage-stage] li[data-participant-id="${robotId}"]`);
		await robotRow.getByTestId('mute').click();
		for (const page of [host, listener]) await expect.poll(() => robotTile(page).getAttribute('class'), { timeout: 10_000 }).toMatch(/\bmuted\b/);
		await robotRow.getByRole('button', { name: /^Unmute/ }).click();
		for (const page of [host, listener]) await expect.poll(() => robotTile(page).getAttribute('class'), { timeout: 10_000 }).not.toMatch(/\bmuted\b/);

		// A listener's reaction floats on the host's stage.
		await listener.getByRole('button', { name: 'React: Fire' }).click();
		await host.getByTestId('floating-reaction').first().waitFor({ timeout: 5000 });

		await shot(host, '06-host-pinned');
		await shot(listener, '07-listener-pinned');
		await listener.setViewportSize({ width: 390, height: 844 });
		await shot(listener, '08-listener-phone');
		await host.setViewportSize({ width: 390, height: 844 });
		await shot(host, '09-host-phone');
		await host.setViewportSize({ width: 1280, height: 800 });

		// The embed plays the same space with the minimal controls.
		const { page: embed } = await newPage({ width: 480, height: 320 });
		await embed.goto(`${base}/embed/${spaceId}`);
		await hearsBroadcast(system, embed, 'embed');
		await expectAccessible(embed, 'embed');
		await shot(embed, '10-embed');
		await embed.close();

		// The host ends the space; the listener's page turns into the replay, which plays.
		await host.getByTestId('end-space').click();
		await host.getByTestId('confirm-end').click();
		await listener.getByTestId('replay').waitFor({ timeout: 15_000 });
		await until('the replay playing', async () => {
			const s = (await listener.evaluate(() => (window as unknown as { tribuneReplay: { sample(): { status: string; currentTime: number; level: number } } }).tribuneReplay.sample()));
			return s.status === 'playing' && s.currentTime > 1 ? s : undefined;
		}, 30_000);
		await listener.getByTestId('download-mp4').waitFor({ timeout: 30_000 });
		await expectAccessible(listener, 'replay page');
		await shot(listener, '11-replay-phone');
		await listener.setViewportSize({ width: 1280, height: 800 });
		await shot(listener, '12-replay');
		// Every page above ran under the app's Content-Security-Policy (and the embed's).
		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
