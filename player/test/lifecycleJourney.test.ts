/// <reference types="node" />
import { afterAll, describe, expect, it } from 'vitest';
import { createLiveSpace, TribuneSystem } from './support/tribuneSystem.js';

/**
 * A space's end on its own, in headless Chromium against the whole system as `npm start` runs it (compiled: `npm run
 * build` first), with the longest live time cut to seconds: the host panel says the space will end and counts down,
 * then the page turns to the replay (written whole) and says why it ended. Screenshots go to test-artifacts/player-lifecycle/.
 */
const system = new TribuneSystem('player-lifecycle');
afterAll(() => system.stop());

describe('player: a space ending on its own', () => {
	it('the host is warned with the time left, and told why the space ended', { timeout: 120_000 }, async () => {
		// Sweeps every second (a third of the shortest time the lifecycle counts).
		await system.start({ SPACE_MAX_LIVE_S: '15', HAND_DISCONNECT_LOWER_S: '3' });
		const { page: host } = await system.newPage();
		const spaceId = await createLiveSpace(host, system.base, { title: 'Short space', name: 'Hana Host' });

		const warning = host.getByTestId('space-ending');
		await expect.poll(() => warning.textContent(), { timeout: 15_000 }).toMatch(/^This space ends in \d+ s: it has been live as long as a space may be\.$/);
		const first = Number(/in (\d+) s/.exec((await warning.textContent()) ?? '')?.[1]);
		expect(first).toBeLessThanOrEqual(15);
		// Counted down on the page.
		await expect.poll(async () => Number(/in (\d+) s/.exec((await warning.textContent()) ?? '')?.[1] ?? first), { timeout: 5000 }).toBeLessThan(first);
		await system.shot(host, '01-warned');

		await expect.poll(() => host.getByTestId('toasts').textContent(), { timeout: 25_000 }).toMatch(/This space has ended: it was live as long as a space may be\./);
		await system.shot(host, '02-ended');
		const info = (await (await fetch(`${system.base}/api/spaces/${spaceId}`)).json()) as { space: { state: string } };
		expect(info.space.state).toBe('ended');
		// Ended like a host's end: the broadcast stopped and wrote the replay whole, and the page plays it.
		await host.getByTestId('replay').waitFor({ timeout: 30_000 });
		await expect.poll(async () => (await fetch(`${system.base}/hls/${spaceId}/audio/vod.m3u8`)).text(), { timeout: 30_000 }).toContain('#EXT-X-ENDLIST');
		expect(system.cspViolations(), 'CSP violations').toEqual([]);
	});
});
