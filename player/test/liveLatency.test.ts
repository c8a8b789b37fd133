/// <reference types="node" />
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { hearsBroadcast, listenerOfLiveSpace, sample, TribuneSystem, until, type Sample } from './support/tribuneSystem.js';

/**
 * Listeners never drift: a listener in headless Chromium (the player's hls.js, against the whole system as `npm start`
 * runs it; build first) is made to fall behind by pausing its media, as a busy machine's stalls would, and must come
 * back to its target latency by itself — a little behind, by playing faster with the sound going on (no seek, no
 * wait for data); far behind, by a jump to live. Bounds are generous: this is behaviour, not speed.
 */
const system = new TribuneSystem('player-e2e-latency');
afterAll(() => system.stop());

/** What the listener's <video> did since `watch`: seeks and waits for data, counted by the page. */
interface MediaEvents {
	seeking: number;
	waiting: number;
}
const watchMedia = (page: Page) =>
	page.evaluate(() => {
		const video = document.querySelector('video')!;
		const counts = { seeking: 0, waiting: 0 };
		(window as unknown as { mediaEvents: typeof counts }).mediaEvents = counts;
		video.addEventListener('seeking', () => counts.seeking++);
		video.addEventListener('waiting', () => counts.waiting++);
	});
const mediaEvents = (page: Page): Promise<MediaEvents> => page.evaluate(() => ({ ...(window as unknown as { mediaEvents: MediaEvents }).mediaEvents }));

/** Pauses the listener's media for `ms` (the stream goes on without it), then plays on. */
async function fallBehind(page: Page, ms: number): Promise<void> {
	await page.evaluate(() => document.querySelector('video')!.pause());
	await new Promise((resolve) => setTimeout(resolve, ms));
	await page.evaluate(() => document.querySelector('video')!.play());
}

/** How far behind its target the listener is, s (undefined until hls.js knows both). */
const behindTarget = (s: Sample): number | undefined => (s.latency !== null && s.targetLatency !== null ? s.latency - s.targetLatency : undefined);

describe('a listener holds its target latency', () => {
	it('catches up by playing faster when a little behind, and jumps to live when far behind', { timeout: 240_000 }, async () => {
		const listener = (await listenerOfLiveSpace(system, 'Latency')).listener;
		const log: string[] = [];
		const note = (s: Sample) => void log.push(`${s.currentTime.toFixed(2)} behind ${behindTarget(s)?.toFixed(2)} ×${s.playbackRate} ${s.status} ${s.errors.slice(-1).join('')}`);
		const onTarget = async (what: string, boundS: number, timeoutMs: number) =>
			until(what, async () => {
				const s = await sample(listener);
				note(s);
				const behind = behindTarget(s);
				return s.status === 'playing' && behind !== undefined && behind < boundS ? s : undefined;
			}, timeoutMs, () => log.slice(-12).join('\n'));
		await onTarget('the listener near its target after start-up', 0.5, 30_000);
		// Past the start-up jumps' 10 s (a load retried while the stream starts counts from the retry).
		await new Promise((resolve) => setTimeout(resolve, 11_000));
		await onTarget('the listener near its target', 0.5, 30_000);

		// A little behind (paused 1.5 s): back near the target by playing faster, without a seek or a wait for data.
		await watchMedia(listener);
		await fallBehind(listener, 1500);
		let fastest = 1;
		let behindAtResume: number | undefined;
		const caughtUp = await until('the listener back near its target by playing faster', async () => {
			const s = await sample(listener);
			note(s);
			fastest = Math.max(fastest, s.playbackRate);
			behindAtResume ??= behindTarget(s);
			const behind = behindTarget(s);
			return s.status === 'playing' && behind !== undefined && behind < 0.3 && fastest > 1 ? s : undefined;
		}, 60_000, () => log.slice(-12).join('\n'));
		const little = await mediaEvents(listener);
		console.log(`a little behind: ${behindAtResume?.toFixed(2)} s behind its target after the pause, fastest ×${fastest}, back within 0.3 s at ×${caughtUp.playbackRate}; ${JSON.stringify(little)}`);
		expect(behindAtResume).toBeGreaterThan(0.8);
		expect(fastest).toBeLessThanOrEqual(1.1);
		// Continuous: the pause and play are not seeks, and playing faster never ran the buffer dry.
		expect(little).toEqual({ seeking: 0, waiting: 0 });
		// Done catching up: 1×, or a little slower should a block of the busy page have moved the target back.
		await until('no faster than 1× again on target', async () => ((await sample(listener)).playbackRate <= 1 ? true : undefined), 20_000, () => log.slice(-12).join('\n'));

		// Far behind (paused 6 s), again and again: a jump to live each time (never a cap per load that leaves a
		// listener drifting), not minutes at 1.1×.
		for (let round = 1; round <= 3; round++) {
			await watchMedia(listener);
			await fallBehind(listener, 6000);
			const back = await onTarget(`the listener back near its target after falling far behind (${round})`, 0.5, 30_000);
			const far = await mediaEvents(listener);
			console.log(`far behind (${round}): back within 0.5 s of its target at ${back.currentTime.toFixed(2)}; ${JSON.stringify(far)}`);
			expect(far.seeking).toBeGreaterThanOrEqual(1);
		}
		// It keeps playing with sound after the jump.
		await hearsBroadcast(system, listener, 'listener after the jump');

		// Stalled (the origin answers nothing for 2.5 s, as a busy server or a bad network would): the target moves back
		// by about the stall, so the same hiccup again finds media buffered; then it stays within its bound (3 s).
		const before = await sample(listener);
		expect(before.targetLatency).not.toBeNull();
		await watchMedia(listener);
		let holdUntil = 0;
		await listener.route('**/hls/**', async (route) => {
			const waitMs = holdUntil - Date.now();
			if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
			await route.continue();
		});
		holdUntil = Date.now() + 2500;
		const moved = await until('the target moved back after a stall', async () => {
			const s = await sample(listener);
			note(s);
			return s.status === 'playing' && s.targetLatency !== null && s.targetLatency >= before.targetLatency! + 0.8 ? s : undefined;
		}, 30_000, () => log.slice(-12).join('\n'));
		const stalled = await mediaEvents(listener);
		console.log(`stalled: target ${before.targetLatency!.toFixed(2)} → ${moved.targetLatency!.toFixed(2)} s; ${JSON.stringify(stalled)}`);
		expect(stalled.waiting).toBeGreaterThanOrEqual(1);
		expect(moved.targetLatency!).toBeLessThanOrEqual(before.targetLatency! + 3);
		await onTarget('the listener near its moved target', 0.5, 30_000);
		await listener.unroute('**/hls/**');
		expect(system.cspViolations()).toEqual([]);
	});

	it('takes half as much margin again as its page was blocked, buffers it by playing a little slower, and the same block again does not stall', { timeout: 180_000 }, async () => {
		const listener = (await listenerOfLiveSpace(system, 'Blocked')).listener;
		const log: string[] = [];
		const near = (what: string, aheadS: number) =>
			until(what, async () => {
				const s = await sample(listener);
				log.push(`${s.currentTime.toFixed(2)} behind ${behindTarget(s)?.toFixed(2)} target ${s.targetLatency} ×${s.playbackRate} ${s.status}`);
				const behind = behindTarget(s);
				return s.status === 'playing' && behind !== undefined && behind > -aheadS && behind < 0.5 ? s : undefined;
			}, 60_000, () => log.slice(-12).join('\n'));
		await near('the listener near its target after start-up', 0.3);
		// Past the start-up jumps' 10 s: a jump to the target is a seek and a wait for data of the player's own.
		await new Promise((resolve) => setTimeout(resolve, 11_000));
		await near('the listener near its target', 0.3);
		// A phone or computer too busy to run the page for a second (its main thread blocked, as a machine's other work
		// would): nothing is fetched or appended meanwhile.
		const block = (ms: number) => listener.evaluate((ms) => {
			const end = performance.now() + ms;
			while (performance.now() < end) { /* busy */ }
		}, ms);
		const before = await sample(listener);
		await block(1000);
		// The block, and half as much again to fetch what was missed (a tick comes up to 0.25 s after the block).
		const moved = await until('the target moved back by half as much again as the block', async () => {
			const s = await sample(listener);
			// Against PART-HOLD-BACK (0.6 s): a busy machine may have blocked the page before, and margins do not add up.
			return s.targetLatency !== null && s.targetLatency >= 0.6 + 1.45 ? s : undefined;
		}, 10_000, () => log.slice(-12).join('\n'));
		// Buffered by playing a little slower (a stall would have earned only its own length, less than the block).
		let slowest = 1;
		await until('the listener at its moved target by playing slower', async () => {
			const s = await sample(listener);
			slowest = Math.min(slowest, s.playbackRate);
			const behind = behindTarget(s);
			return s.status === 'playing' && behind !== undefined && Math.abs(behind) < 0.25 && slowest < 1 ? s : undefined;
		}, 60_000, () => log.slice(-12).join('\n'));
		console.log(`blocked 1 s: target ${before.targetLatency!.toFixed(2)} → ${moved.targetLatency!.toFixed(2)} s, buffered at ×${slowest}`);
		expect(slowest).toBeGreaterThanOrEqual(0.95);
		await watchMedia(listener);
		const last = await sample(listener);
		log.push(`before the second block: ${last.currentTime.toFixed(2)} buffered to ${last.buffered[1]?.toFixed(2)} behind ${behindTarget(last)?.toFixed(2)} target ${last.targetLatency}`);
		await block(1000);
		for (const end = Date.now() + 3000; Date.now() < end; ) {
			const s = await sample(listener);
			log.push(`${s.currentTime.toFixed(2)} buffered to ${s.buffered[1]?.toFixed(2)} behind ${behindTarget(s)?.toFixed(2)} target ${s.targetLatency} ×${s.playbackRate} ${s.status} ${s.errors.slice(-1).join('')}`);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
		expect(await mediaEvents(listener), log.slice(-16).join('\n')).toEqual({ seeking: 0, waiting: 0 });
		await hearsBroadcast(system, listener, 'listener after the blocks');
	});
});
