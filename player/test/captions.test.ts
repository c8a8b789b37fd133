/// <reference types="node" />
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createLiveSpace, hearsBroadcast, TribuneSystem, until } from './support/tribuneSystem.js';

/**
 * Captions in headless Chromium against the whole system (compiled; build first): the host turns captions on while
 * live and invites a captioner from the host panel; the captioner's text (a partial, then its final) shows live on
 * the host's page (on stage: over signaling) and in a listener's hls.js captions (the LL-HLS subtitle track), with
 * the captioner's name; the CC button shows only while the mode has the track; after the end, the replay shows the
 * speaker timeline from the transcript, and picking a turn seeks the replay. Screenshots go to
 * test-artifacts/player-e2e-captions/.
 */
const system = new TribuneSystem('player-e2e-captions');
afterAll(() => system.stop());

/** axe's serious and critical findings; colour contrast is measured again after a moment, as a toast fading in reads low. */
const expectAccessible = async (page: Page, name: string) => {
	let found = await system.seriousViolations(page);
	for (let i = 0; i < 3 && found.length > 0 && found.every((v) => v.id === 'color-contrast'); i++) {
		await new Promise((resolve) => setTimeout(resolve, 1000));
		found = await system.seriousViolations(page);
	}
	expect(JSON.stringify(found), `axe on ${name}`).toBe('[]');
};
const replaySample = (page: Page) => page.evaluate(() => (window as unknown as { tribuneReplay: { sample(): { currentTime: number; status: string } } }).tribuneReplay.sample());

describe('captions in the player', () => {
	it('mode change, captioner text live on stage and in hls.js, and the replay speaker timeline', { timeout: 180_000 }, async () => {
		await system.start();
		const { page: host } = await system.newPage();
		const spaceId = await createLiveSpace(host, system.base, { title: 'Captioned space', name: 'Hana Host', captions: 'off' });

		const { page: listener } = await system.newPage();
		await listener.goto(`${system.base}/s/${spaceId}`);
		await listener.getByLabel('Your name').fill('Lena Listener');
		await listener.getByRole('button', { name: 'Listen in' }).click();
		await hearsBroadcast(system, listener, 'listener', undefined, false);
		// Captions off: no CC button, whatever tracks the stream has.
		expect(await listener.getByTestId('captions').count()).toBe(0);

		// The host turns captions on from the host panel, live; the listener's page follows.
		// By keyboard: the next option down from 'off'; the menu keeps the focus while the change is made.
		const mode = host.getByTestId('caption-mode');
		await mode.focus();
		await host.keyboard.press('ArrowDown');
		await expect.poll(() => mode.inputValue(), { timeout: 10_000 }).toBe('sidecar');
		await expect.poll(() => host.evaluate(() => document.activeElement?.id), { timeout: 10_000 }).toBe('live-caption-mode');
		await listener.getByTestId('captions').waitFor({ timeout: 20_000 });
		await host.getByTestId('live-captions').waitFor({ timeout: 10_000 });

		// The host invites a captioner: a token to copy.
		await host.getByTestId('captioner-token').click();
		const token = await host.getByTestId('captioner-token-value').inputValue({ timeout: 10_000 });
		expect(token.split('.')).toHaveLength(3);
		// Copying says what happened in a status line (whether this browser grants the clipboard or not).
		await host.getByRole('button', { name: 'Copy token' }).click();
		await expect.poll(() => host.getByTestId('captioner-copy-status').textContent(), { timeout: 10_000 }).toMatch(/^Token copied\.$|^Could not copy/);
		await expectAccessible(host, 'host with captions');
		await system.shot(host, '01-host-caption-settings');

		await listener.getByTestId('captions').click();
		const captions = `/api/spaces/${spaceId}/captions`;
		expect((await system.post(captions, { text: 'Welcome to the', speakerName: 'Cara Captioner', final: false }, token)).status).toBe(202);
		const liveLine = host.getByTestId('live-caption').filter({ hasText: 'Welcome to the' });
		await liveLine.waitFor({ timeout: 10_000 });
		// The final comes a little later, so the cue lasts long enough to be seen on the listener's timeline.
		await new Promise((resolve) => setTimeout(resolve, 2500));
		expect((await system.post(captions, { text: 'Welcome to the caption test', speakerName: 'Cara Captioner', final: true }, token)).status).toBe(202);
		const finalLine = host.getByTestId('live-caption').filter({ hasText: 'Welcome to the caption test' });
		await finalLine.waitFor({ timeout: 10_000 });
		expect(await finalLine.getAttribute('data-final')).toBe('true');
		expect(await finalLine.textContent()).toContain('Cara Captioner:');
		// The partial was replaced by its final, not added beside it.
		expect(await host.getByTestId('live-caption').filter({ hasText: /^\s*Cara Captioner: Welcome to the\s*$/ }).count()).toBe(0);
		await system.shot(host, '02-host-live-caption');

		// The listener reads it from the LL-HLS subtitle track, with the captioner's name, at its media time.
		const shown = listener.getByTestId('caption').filter({ hasText: 'caption test' });
		await shown.waitFor({ timeout: 30_000 });
		expect(await shown.textContent()).toContain('Cara Captioner');
		await system.shot(listener, '03-listener-hls-caption');
		await expectAccessible(listener, 'listener with captions');

		// The embed has no signaling connection: it reads the space's public info on a slow timer (15 s, jittered)
		// and follows the mode as well.
		const { page: embed } = await system.newPage({ width: 480, height: 320 });
		await embed.goto(`${system.base}/embed/${spaceId}`);
		await embed.getByTestId('captions').waitFor({ timeout: 30_000 });

		// A mode without the track (burned-in; this space has no picture) hides the CC button again.
		await mode.selectOption('burned-in');
		await expect.poll(() => listener.getByTestId('captions').count(), { timeout: 10_000 }).toBe(0);
		await expect.poll(() => embed.getByTestId('captions').count(), { timeout: 40_000 }).toBe(0);
		await mode.selectOption('both');
		await listener.getByTestId('captions').waitFor({ timeout: 10_000 });
		await embed.getByTestId('captions').waitFor({ timeout: 40_000 });
		await embed.close();

		// A second line, later, so the replay's timeline has two turns of the captioner.
		await new Promise((resolve) => setTimeout(resolve, 3000));
		expect((await system.post(captions, { text: 'Thank you all for coming', speakerName: 'Cara Captioner', final: true }, token)).status).toBe(202);
		await host.getByTestId('live-caption').filter({ hasText: 'Thank you all' }).waitFor({ timeout: 10_000 });
		await new Promise((resolve) => setTimeout(resolve, 1500));
		// The host revokes captioner access (asked, then confirmed in place); the status line says so, and the
		// captioner's token is refused from then on.
		await host.getByTestId('captioner-revoke').click();
		await host.getByTestId('captioner-revoke-confirm').click();
		await expect.poll(() => host.getByTestId('captioner-revoke-status').textContent(), { timeout: 10_000 }).toMatch(/^Captioner access revoked/);
		expect(await host.getByTestId('captioner-token-value').count()).toBe(0);
		expect((await system.post(captions, { text: 'After revoke', final: true }, token)).status).toBe(401);
		await expectAccessible(host, 'host after revoking captioners');
		// Captions off before the end: the transcript of the time they were on still makes the replay's timeline.
		await mode.selectOption('off');
		await expect.poll(() => mode.inputValue(), { timeout: 10_000 }).toBe('off');
		await host.getByTestId('end-space').click();
		await host.getByTestId('confirm-end').click();

		// The listener's page turns into the replay, once the broadcast has written it whole; its speaker timeline
		// comes from the transcript written with it.
		const viewer = listener;
		await viewer.getByTestId('replay').waitFor({ timeout: 20_000 });
		const row = viewer.getByTestId('timeline-speaker').filter({ has: viewer.getByText('Cara Captioner') });
		await row.waitFor({ timeout: 60_000 });
		await viewer.getByTestId('transcript-links').waitFor();
		let last: unknown;
		const replayLength = async () => {
			const text = await (await fetch(`${system.base}/hls/${spaceId}/audio/vod.m3u8`)).text();
			return [...text.matchAll(/#EXTINF:([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
		};
		// Playing (it may have played to its end while the transcript was awaited: play starts it again).
		await until('the replay playing', async () => {
			const s = (last = await replaySample(viewer));
			if (s.status !== 'playing' && s.status !== 'loading') await viewer.getByTestId('play').click({ timeout: 1000 }).catch(() => {});
			return s.status === 'playing' && s.currentTime > 0.2 ? s : undefined;
		}, 30_000, () => JSON.stringify(last));
		const turns = row.getByTestId('timeline-turn');
		const lastTurn = turns.last();
		const startS = Number(await lastTurn.getAttribute('data-start'));
		expect(startS).toBeGreaterThan(0);
		// Keyboard: focus the turn and press Enter; the replay jumps there.
		const playlist = await (await fetch(`${system.base}/hls/${spaceId}/audio/index.m3u8`)).text();
		const replayS = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
		const transcriptJson = await (await fetch(`${system.base}/api/spaces/${spaceId}/transcript.json`)).text();
		const replayOnDisk = await replayLength();
		await lastTurn.focus();
		const focusedBefore = await viewer.evaluate(() => document.activeElement?.getAttribute('aria-label'));
		await viewer.keyboard.press('Enter');
		await until(`the replay at ${startS} s`, async () => {
			const s = (last = await replaySample(viewer));
			return s.currentTime >= startS - 0.5 && s.currentTime <= startS + 4 ? s : undefined;
		}, 20_000, () => `${JSON.stringify(last)} focused ${String(focusedBefore)} replay on disk ${replayOnDisk} s, live playlist ${replayS} s; transcript ${transcriptJson}`);
		const transcript = await (await fetch(`${system.base}/api/spaces/${spaceId}/transcript.txt`)).text();
		expect(transcript).toContain('Cara Captioner');
		expect(transcript).toContain('Thank you all for coming');
		await expectAccessible(viewer, 'replay with timeline');
		await system.shot(viewer, '04-replay-timeline');
		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
