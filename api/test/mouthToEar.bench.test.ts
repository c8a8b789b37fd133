import fs from 'node:fs';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTribuneUnderLoad, type TribuneUnderLoad } from './load/tribuneUnderLoad.js';
import { launchChromium } from './origin/support/hlsPage.js';
import { routeShakaPage, sampleShaka, shakaPageUrl } from './origin/support/shakaPage.js';
import { attachEar, earInitScript, earOnsets, earStalls } from './support/earDetector.js';
import { HlsFeedTap, OriginPartTap, type PublishedPart } from './support/hlsPartTaps.js';
import { eventually, openSpeakerPage, type Tribune } from './support/speakerBrowser.js';
import { StageAudioTap, type TappedPacket } from './support/stageAudioTap.js';
import { serveStagePage } from './support/stagePageBundle.js';
import { postJson } from './support/startTestNode.js';

/**
 * `npm run bench:latency` (second half): the latency a listener feels, mouth to ear, through the whole of Tribune as
 * `npm start` runs it (compiled: build first). A speaker's page in Chromium publishes a 50 ms beep every
 * `periodS` as its microphone (the stage test page's beeper, stamped on the speaker's clock) → stage (mediasoup) →
 * stage link → standing encode (ffmpeg) → packager → Redis feed → origin → a listener in the same Chromium who hears
 * each beep's onset in what the player outputs: first Tribune's own embed player (hls.js, the product's settings),
 * then Shaka Player (low-latency mode, api/test/origin/support/shakaPage.ts). One machine, one clock.
 *
 * Where the time goes, per beep, from taps beside the path: **stage** — the beep's first loud Opus packet at a
 * plain-RTP consumer of the stage link, as a transcoder's input gets it; **encode** — the packager's part holding the
 * beep's first loud AAC frame, as it comes off the Redis feed (of which **part fill**: the part's media after that
 * frame, which must be captured before the part closes); **publication** — that part answered to a blocking request
 * at the origin; **player** — the origin to the ear (the player's hold-back, buffering and output).
 * Merges its keys into the JSON at TRIBUNE_BENCH_OUT. Skipped unless TRIBUNE_BENCH=1.
 */
const durationS = Number(process.env.TRIBUNE_BENCH_MOUTH_S ?? 45);
/**
 * Longer than any one hop, so each onset pairs with the one before it on the path without doubt: a player that fell
 * 2 s behind (Shaka after a stall, with its live sync off) paired with the next beep at 2 s.
 */
const periodS = 3;
/** Shaka settings over the test page's (`shakaLowLatencyConfig`), as JSON: e.g. its live sync, to compare. */
const shakaConfig = JSON.parse(process.env.TRIBUNE_BENCH_SHAKA_CONFIG ?? '{}') as object;
/** Time a player gets after it starts playing to settle at its distance from the live edge, ms. */
const settleMs = 5000;

/** What Tribune's player reports (player/src/listen/exposeForTests.ts). */
const samplePlayer = (page: Page) => page.evaluate('window.tribunePlayer.sample()') as Promise<{ status: string; currentTime: number; errors: string[]; latency: number | null }>;

function percentile(values: readonly number[], p: number): number | null {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
}

/** Times at which sound starts: a loud item after at least `quietMs` of quiet ones. */
function onsets<T>(items: readonly T[], atMs: (item: T) => number, loud: (item: T) => boolean, quietMs: number): T[] {
	const out: T[] = [];
	let lastLoud = -Infinity;
	for (const item of items) {
		if (!loud(item)) continue;
		if (atMs(item) - lastLoud > quietMs) out.push(item);
		lastLoud = atMs(item);
	}
	return out;
}

/** The first of `times` in [from, from + periodS). */
const next = (times: readonly number[], from: number): number | undefined => times.find((t) => t >= from && t < from + periodS * 1000);

interface Hops {
	mouthToEar: number;
	stage: number;
	encode: number;
	partFill: number;
	publication: number;
	player: number;
}

/**
 * Follows each beep along the path. RTP: a packet is loud at three times the median payload (Opus spends a few bytes
 * on silence, tens on a tone). Parts: the beep's part is the first with an AAC frame three times the median frame.
 */
function followBeeps(beeps: number[], packets: TappedPacket[], parts: PublishedPart[], available: Map<number, number>, ears: number[]): Hops[] {
	const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
	const packetFloor = Math.max(8, 3 * median(packets.map((p) => p.payloadBytes)));
	const rtpOnsets = onsets(packets, (p) => p.atMs, (p) => p.payloadBytes > packetFloor, 200).map((p) => p.atMs);
	const frameFloor = Math.max(16, 3 * median(parts.flatMap((p) => p.sampleBytes)));
	const loudPart = (p: PublishedPart) => p.sampleBytes.some((b) => b > frameFloor);
	const partOnsets = onsets(parts, (p) => p.emittedAtMs, loudPart, 200);
	const hops: Hops[] = [];
	for (const beep of beeps) {
		const rtp = next(rtpOnsets, beep);
		const part = rtp === undefined ? undefined : partOnsets.find((p) => p.emittedAtMs >= rtp && p.emittedAtMs < rtp + periodS * 1000);
		const origin = part && available.get(part.partSeq);
		const ear = origin === undefined ? undefined : next(ears, origin);
		if (rtp === undefined || !part || origin === undefined || ear === undefined) continue;
		const frames = part.sampleBytes.length;
		const first = part.sampleBytes.findIndex((b) => b > frameFloor);
		hops.push({
			mouthToEar: ear - beep,
			stage: rtp - beep,
			encode: part.emittedAtMs - rtp,
			partFill: ((frames - first) / frames) * part.durationS * 1000,
			publication: origin - part.emittedAtMs,
			player: ear - origin,
		});
	}
	return hops;
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('mouth-to-ear latency bench', () => {
	let system: TribuneUnderLoad;
	let stagePage: Awaited<ReturnType<typeof serveStagePage>>;
	let browser: Browser;
	let redis: Redis;
	beforeAll(async () => {
		stagePage = await serveStagePage();
		browser = await launchChromium();
		system = await startTribuneUnderLoad();
		if (!system.redisUrl) throw new Error('the bench taps the Redis feed: set TRIBUNE_LOAD_REDIS_URL with TRIBUNE_LOAD_URL');
		redis = connectRedis(system.redisUrl, 'mouth-to-ear-bench');
	}, 120_000);
	afterAll(async () => {
		redis?.disconnect();
		await browser?.close();
		await stagePage?.close();
		await system?.stop();
	});

	it(`follows a beep every ${periodS} s from a speaker's microphone to a listener's ear, ${durationS} s per player`, { timeout: (2 * durationS + 150) * 1000 }, async () => {
		const created = await postJson(`${system.baseUrl}/api/spaces`, { title: 'Mouth to ear', hostName: 'Hana Host', settings: { video: false } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const hostId = created.body.participant!.id;
		const hostToken = created.body.token!;
		expect((await postJson(`${system.baseUrl}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
		const master = `${system.baseUrl}/hls/${spaceId}/master.m3u8`;
		const audioPlaylist = `${system.baseUrl}/hls/${spaceId}/audio/index.m3u8`;

		// The host speaks: beeps as the microphone.
		const mouth = await openSpeakerPage(browser, stagePage.url, system.wsUrl, hostToken);
		await mouth.evaluate((p) => (globalThis as unknown as Tribune).tribune.joinStageWithBeeps(p), periodS);
		// Until the stage's snapshot lists the host's microphone (the error says what was missing on the last try).
		const stageTap = await eventually(() => StageAudioTap.open(redis, system.redisPrefix, spaceId, hostId).catch(() => undefined), 'the host on stage with a microphone', 20_000);
		await eventually(async () => ((await fetch(audioPlaylist)).status === 200 ? true : undefined), 'the audio rendition at the origin', 30_000);
		const feedTap = await HlsFeedTap.open(redis, system.redisPrefix, spaceId, 'audio');
		const originTap = new OriginPartTap(audioPlaylist, (2 * durationS + 100) * 1000);

		/** Plays on `page` until it settles, then listens for `durationS`: the beeps of that window and what was heard. */
		const listen = async (
			page: Page,
			playing: () => Promise<boolean>,
			behindLiveS: () => Promise<number | undefined>,
		): Promise<{ from: number; to: number; ears: number[]; stalls: number; stalledMs: number; behindLiveMs: number[] }> => {
			await eventually(async () => ((await playing()) ? true : undefined), 'the listener playing', 30_000);
			await new Promise((resolve) => setTimeout(resolve, settleMs));
			const from = Date.now();
			const before = await earStalls(page);
			// The player's own distance behind the live edge, once a second (bounded by the window).
			const behindLiveMs: number[] = [];
			for (let i = 0; i < durationS && Date.now() < from + durationS * 1000; i++) {
				await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(1000, from + durationS * 1000 - Date.now()))));
				const behind = await behindLiveS();
				if (behind !== undefined) behindLiveMs.push(behind * 1000);
			}
			const after = await earStalls(page);
			// A beep near the window's end is heard up to a period later.
			await new Promise((resolve) => setTimeout(resolve, periodS * 1000));
			// When each onset reached the page's main thread, against when it was output: a check on the output clock.
			const seen = (await page.evaluate('window.tribuneEar.seen.slice()')) as number[];
			const ears = await earOnsets(page);
			console.log('ear: output minus main-thread time, ms', percentile(ears.map((t, i) => t - seen[i]!), 50));
			return { from, to: from + durationS * 1000, ears, stalls: after.stalls - before.stalls, stalledMs: after.stalledMs - before.stalledMs, behindLiveMs };
		};

		// Tribune's own player, as a listener's embed runs it (its Content-Security-Policy bypassed for the ear's module).
		const hlsContext = await browser.newContext({ bypassCSP: true });
		await hlsContext.addInitScript(earInitScript);
		const hlsPage = await hlsContext.newPage();
		await hlsPage.goto(`${system.baseUrl}/embed/${spaceId}`);
		const hlsWindow = await listen(hlsPage, async () => {
			const s = await samplePlayer(hlsPage);
			return s.status === 'playing' && s.currentTime > 0.5;
		}, async () => (await samplePlayer(hlsPage)).latency ?? undefined);
		const hlsErrors = (await samplePlayer(hlsPage)).errors;
		await hlsContext.close();

		const shakaContext = await browser.newContext();
		await routeShakaPage(shakaContext, system.baseUrl);
		await shakaContext.addInitScript(earInitScript);
		const shakaPage = await shakaContext.newPage();
		await shakaPage.goto(shakaPageUrl(system.baseUrl, master, shakaConfig));
		const shakaWindow = await listen(shakaPage, async () => {
			const s = await sampleShaka(shakaPage);
			if (s.playing) await attachEar(shakaPage);
			return s.playing && s.currentTime > 0.5;
		}, async () => (await sampleShaka(shakaPage)).latencyS);
		const shakaSample = await sampleShaka(shakaPage);
		await shakaContext.close();

		await originTap.stop();
		feedTap.close();
		await stageTap.close();
		const beeps = await mouth.evaluate(() => (globalThis as unknown as Tribune).tribune.beepTimes);
		await mouth.close();

		const follow = (window: { from: number; to: number; ears: number[] }) =>
			followBeeps(beeps.filter((b) => b >= window.from && b < window.to), stageTap.packets, feedTap.parts, originTap.availableAtMs, window.ears);
		const hls = follow(hlsWindow);
		const shaka = follow(shakaWindow);
		const both = [...hls, ...shaka];
		const p50 = (hops: Hops[], hop: keyof Hops) => percentile(hops.map((h) => h[hop]), 50);
		const result = {
			mouth_to_ear_p50_ms: p50(hls, 'mouthToEar'),
			mouth_to_ear_p95_ms: percentile(hls.map((h) => h.mouthToEar), 95),
			mouth_to_ear_player_p50_ms: p50(hls, 'player'),
			mouth_to_ear_beeps: hls.length,
			mouth_to_ear_hlsjs_latency_p50_ms: percentile(hlsWindow.behindLiveMs, 50),
			mouth_to_ear_stalls: hlsWindow.stalls,
			mouth_to_ear_stalled_ms: hlsWindow.stalledMs,
			shaka_mouth_to_ear_p50_ms: p50(shaka, 'mouthToEar'),
			shaka_mouth_to_ear_p95_ms: percentile(shaka.map((h) => h.mouthToEar), 95),
			shaka_mouth_to_ear_player_p50_ms: p50(shaka, 'player'),
			shaka_mouth_to_ear_beeps: shaka.length,
			shaka_mouth_to_ear_pdt_latency_p50_ms: percentile(shakaWindow.behindLiveMs, 50),
			shaka_mouth_to_ear_stalls: shakaWindow.stalls,
			shaka_mouth_to_ear_stalled_ms: shakaWindow.stalledMs,
			mouth_to_ear_stage_p50_ms: p50(both, 'stage'),
			mouth_to_ear_encode_p50_ms: p50(both, 'encode'),
			mouth_to_ear_part_fill_p50_ms: p50(both, 'partFill'),
			mouth_to_ear_publication_p50_ms: p50(both, 'publication'),
			mouth_to_ear_period_s: periodS,
			mouth_to_ear_duration_s: durationS,
		};
		console.log(JSON.stringify({ ...result, hlsErrors, shakaErrors: shakaSample.errors, hls, shaka }));
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) {
			// bench:latency's first half (hlsLatency.bench.test.ts) wrote its line already: add to it.
			const earlier = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>) : {};
			fs.writeFileSync(out, `${JSON.stringify({ ...earlier, ...result })}\n`);
		}
		// Most beeps are followed the whole way in each player (a stall or a re-buffer may lose a few).
		const expected = Math.floor(durationS / periodS);
		expect(hls.length).toBeGreaterThanOrEqual(expected / 2);
		expect(shaka.length).toBeGreaterThanOrEqual(expected / 2);
	});
});
