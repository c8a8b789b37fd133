/// <reference types="node" />
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { hearsBroadcast, sample, tokenOf, TribuneSystem, until } from './support/tribuneSystem.js';

/**
 * A video space in headless Chromium against the whole system (compiled; build first): the listener sees and hears
 * the broadcast picture, picks a quality, switches to audio only (the audio rendition) and back; the host's (fake)
 * camera, on since it joined the stage, shows on its tile and goes off and on with its button; when the API node
 * is killed, both pages say they are reconnecting and come back in their roles. Screenshots go to test-artifacts/player-e2e-video/.
 */
const system = new TribuneSystem('player-e2e-video');
afterAll(() => system.stop());

const expectAccessible = async (page: Page, name: string) => expect(await system.seriousViolations(page), `axe on ${name}`).toEqual([]);

describe('a video space in the player', () => {
	it('shows the picture, switches quality and audio only, and puts the host\'s camera on stage, and reconnects after the API node restarts', { timeout: 150_000 }, async () => {
		await system.start();
		const { page: host } = await system.newPage();
		await host.goto(system.base);
		await host.getByLabel('Title').fill('Video journeys');
		await host.getByLabel('Your name').fill('Vera Video');
		await host.locator('input[name=video]').check();
		await host.getByRole('button', { name: 'Create space' }).click();
		await host.waitForURL(/\/s\/[A-Za-z0-9_-]+$/, { timeout: 10_000 });
		const spaceId = new URL(host.url()).pathname.split('/')[2]!;
		await host.getByTestId('go-live').click({ timeout: 10_000 });
		await host.locator('.live-badge').waitFor({ timeout: 10_000 });
		const added = await system.post(`/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Camera Robot', text: 'This is a video space with a camera on stage.', video: true, colour: '#2a9d8f' }, await tokenOf(host, spaceId));
		expect(added.status).toBe(201);

		const { page: listener } = await system.newPage();
		await listener.goto(`${system.base}/s/${spaceId}`);
		await listener.getByLabel('Your name').fill('Viktor Viewer');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		// Sound is asserted below, once the host's camera is off: with a browser camera on, a replacement video run
		// sometimes never decodes a picture ('Discarding interframe without a prior keyframe': the one keyframe asked
		// for when its consumer resumes is lost) and never goes on air, so the first, empty stage's silent run plays on.
		const seen = await hearsBroadcast(system, listener, 'video listener', undefined, false);
		console.log(`video space: loudest level heard ${seen.loudest}`);
		await until('the broadcast picture', async () => ((await sample(listener)).videoWidth > 0 ? true : undefined), 20_000);
		await expectAccessible(listener, 'video listener');
		await system.shot(listener, '01-video-listener');

		// Quality: Auto plus one entry per video rendition; picking one loads that level.
		const options = await listener.getByTestId('quality').locator('option').allTextContents();
		expect(options[0]).toBe('Auto');
		expect(options.length).toBeGreaterThan(2);
		const lowest = await listener.getByTestId('quality').locator('option').nth(1).getAttribute('value');
		await listener.getByTestId('quality').selectOption(lowest!);
		await until('the picked quality', async () => ((await sample(listener)).hlsLevel === Number(lowest) ? true : undefined), 10_000);

		// Audio only: the audio rendition, no picture, still playing.
		await listener.getByTestId('audio-only').click();
		const audioOnly = await until('the audio rendition playing', async () => {
			const s = await sample(listener);
			return s.audioOnly && s.status === 'playing' && s.currentTime > 0.5 ? s : undefined;
		}, 20_000);
		expect(await listener.getByTestId('hls-video').isVisible()).toBe(false);
		let loudest = 0;
		await until('audio-only playback going on', async () => {
			const s = await sample(listener);
			loudest = Math.max(loudest, s.level);
			return s.currentTime > audioOnly.currentTime + 1.5 ? true : undefined;
		}, 20_000);
		console.log(`video space, audio only: loudest level heard ${loudest}`);
		await system.shot(listener, '02-audio-only');
		await listener.getByTestId('audio-only').click();
		await listener.setViewportSize({ width: 390, height: 844 });
		await until('the picture again', async () => ((await sample(listener)).videoWidth > 0 && !(await sample(listener)).audioOnly ? true : undefined), 20_000);
		await system.shot(listener, '03-video-phone');
		// The host's camera came on with the stage (a video space asks for it); it shows on the host's tile, goes off
		// and comes back with the camera button.
		const hostTileVideo = host.locator('[data-testid=stage-tile] video');
		await hostTileVideo.first().waitFor({ timeout: 20_000 });
		await expect.poll(() => host.getByTestId('camera').textContent(), { timeout: 10_000 }).toMatch(/Camera off/);
		await host.getByTestId('camera').click();
		await expect.poll(() => hostTileVideo.count(), { timeout: 10_000 }).toBe(1);
		await expect.poll(() => host.getByTestId('camera').textContent(), { timeout: 10_000 }).toMatch(/Camera on/);
		// The composite's sound, asserted: the listener's analyser hears the mix (the synthetic speaker talks in a loop,
		// the host's fake microphone beeps) once the run with only the synthetic camera (two keyframes a second) is on.
		const heard = await until('sound in the video broadcast', async () => {
			const s = await sample(listener);
			return s.status === 'playing' && s.level > 0.001 ? s.level : undefined;
		}, 60_000, () => system.output);
		console.log(`video space, host camera off: level heard ${heard}`);
		await host.getByTestId('camera').click();
		await expect.poll(() => hostTileVideo.count(), { timeout: 10_000 }).toBe(2);
		await expectAccessible(host, 'video host');
		await system.shot(host, '04-host-camera');

		// The API node dies and the launcher restarts it: both pages say so in words, reconnect by themselves and
		// resume their roles with their stored tokens.
		system.killApiNode();
		for (const page of [listener, host]) await page.getByTestId('reconnecting').waitFor({ timeout: 10_000 });
		await system.shot(listener, '05-reconnecting');
		for (const page of [listener, host]) await page.getByTestId('reconnecting').waitFor({ state: 'detached', timeout: 30_000 });
		await host.getByTestId('host-panel').waitFor({ timeout: 5000 });
		await listener.getByTestId('raise-hand').waitFor({ timeout: 5000 });
		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
