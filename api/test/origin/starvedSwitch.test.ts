import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { get, until } from './support/fetchText.js';
import { livePlayback, openPlayer, sample, type PlayerSample } from './support/hlsPage.js';
import type { LiveStream } from './support/liveStream.js';
import { parseMediaPlaylist, type ParsedMediaPlaylist } from './support/parsePlaylist.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each segment's program date-time and length, and whether it is a gap, as a playlist lists them. */
function dated(playlist: ParsedMediaPlaylist): { msn: number; startMs: number; durationS: number; gap: boolean; discontinuity: boolean }[] {
	const out: { msn: number; startMs: number; durationS: number; gap: boolean; discontinuity: boolean }[] = [];
	for (const segment of playlist.segments) {
		if (segment.durationS === undefined) continue;
		const previous = out.at(-1);
		const startMs = segment.pdt !== undefined ? Date.parse(segment.pdt) : previous!.startMs + previous!.durationS * 1000;
		out.push({ msn: segment.msn, startMs, durationS: segment.durationS, gap: segment.gap, discontinuity: segment.discontinuity });
	}
	return out;
}

/**
 * A stage change on a starved machine: the encoder on air stops delivering without ending (SIGSTOP stands in for a
 * machine that gives it no CPU), and the run started to replace it reads the stage from seconds later. The switcher
 * waits for the backlog that never comes, then puts the new run on air; the capture time in between was never on air.
 * Gap segments (EXT-X-GAP) mark it, so the stream's dates and its replay keep the wall clock's time, and hls.js plays
 * on over them.
 */
describe('a run switch after the run on air starved', () => {
	const setup = livePlayback(() => inject('redisUrl'));
	let live: LiveStream;
	let browser: Browser;
	beforeAll(() => {
		live = setup.live();
		browser = setup.browser();
	});

	it('marks the capture time never on air with gap segments, which hls.js plays over, and the replay keeps', { timeout: 90_000 }, async () => {
		const page = await openPlayer(browser, live.baseUrl, live.url('master.m3u8'));
		await until(async () => {
			const s = await sample(page);
			return s.playing && s.currentTime > 2 ? s : undefined;
		}, 15_000, 'playback to start');
		const starved = live.encoderPid!;
		process.kill(starved, 'SIGSTOP');
		const starvedAtMs = Date.now();
		await sleep(2500);
		live.startRun(10);

		// On air within the switcher's backlog wait (5 s) and the new run's start: gap segments, then the new run.
		const after = await live.playlistWith('360p', 'gap segments, then the new run', (p) => {
			const gapAt = p.segments.findIndex((s) => s.gap);
			return gapAt > 0 && p.segments.slice(gapAt).some((s) => !s.gap && s.discontinuity && s.durationS !== undefined);
		});
		process.kill(starved, 'SIGKILL');
		const segments = dated(after);
		const firstGap = segments.findIndex((s) => s.gap);
		const resumed = segments.findIndex((s, i) => i > firstGap && !s.gap);
		const gapS = segments.slice(firstGap, resumed).reduce((sum, s) => sum + s.durationS, 0);
		// The gap begins where the starved run's media ended, the new run where it ends (dates, EXTINF and numbers
		// continuous), and it is about as long as the run on air starved before the new one read the stage.
		for (let i = 1; i < segments.length; i++) {
			expect(segments[i]!.msn).toBe(segments[i - 1]!.msn + 1);
			if (i <= resumed) expect(Math.abs(segments[i]!.startMs - (segments[i - 1]!.startMs + segments[i - 1]!.durationS * 1000)), `segment ${segments[i]!.msn}`).toBeLessThanOrEqual(2);
		}
		expect(segments[resumed]!.discontinuity).toBe(true);
		expect(gapS).toBeGreaterThan(1.5);
		expect(gapS).toBeLessThan(2500 / 1000 + 2);
		expect(segments[firstGap]!.startMs).toBeLessThan(starvedAtMs + 500);

		// hls.js plays on past the gap: media time moves on with the clock for 8 s, no fatal error.
		const resumedAt = await until(async () => {
			const s = await sample(page);
			return Object.keys(s.fragStarts).map(Number).some((sn) => sn >= segments[resumed]!.msn) ? s : undefined;
		}, 20_000, 'the new run playing');
		await sleep(8000);
		const later: PlayerSample = await sample(page);
		console.log(`starved switch: ${gapS.toFixed(3)} s of gap segments; the player's stalls ${JSON.stringify(later.stallLog.map((stall) => ((stall.endMs ?? later.now) - stall.startMs) / 1000))} s, ` +
			`jumps to live ${later.jumpLog.length}, ${(later.currentTime - resumedAt.currentTime).toFixed(2)} s played in the 8 s after the new run`);
		expect(later.errors.filter((e) => e.startsWith('FATAL'))).toEqual([]);
		expect(later.playing && !later.paused).toBe(true);
		expect(later.currentTime - resumedAt.currentTime, `stalls ${JSON.stringify(later.stallLog)}, jumps ${JSON.stringify(later.jumpLog)}`).toBeGreaterThan(6);
		await page.close();

		// The replay keeps the gap: its length is the time from its first date to its last segment's end.
		await live.end();
		const replay = parseMediaPlaylist((await get(live.url('360p/vod.m3u8'))).text);
		const replayed = dated(replay);
		const replayGapS = replayed.filter((s) => s.gap).reduce((sum, s) => sum + s.durationS, 0);
		expect(replayGapS).toBeCloseTo(gapS, 2);
		const totalS = replayed.reduce((sum, s) => sum + s.durationS, 0);
		const spanS = (replayed.at(-1)!.startMs + replayed.at(-1)!.durationS * 1000 - replayed[0]!.startMs) / 1000;
		expect(Math.abs(totalS - spanS), `replay ${totalS.toFixed(3)} s, dated over ${spanS.toFixed(3)} s`).toBeLessThan(0.05);
	});
});
