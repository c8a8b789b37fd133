import { createRequire } from 'node:module';
import type { Express } from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { get, until } from './fetchText.js';
import { LiveStream } from './liveStream.js';

const require = createRequire(import.meta.url);
const hlsJsPath = require.resolve('hls.js/dist/hls.min.js');

/**
 * The test player: hls.js in low-latency mode on a muted, autoplaying video. `window.tribune.sample()` reports what
 * a listener would see: media time, distance to the live edge, the PDT on screen, the active cues, stalls.
 */
const playerHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Tribune LL-HLS test player</title></head>
<body><video id="video" muted autoplay playsinline width="640" height="360"></video>
<script src="/test/hls.min.js"></script>
<script>
const video = document.getElementById('video');
const state = { stalls: 0, playing: false, firstFrameMs: undefined, startedMs: performance.now(), errors: [], cueLog: [] };
// maxLiveSyncPlaybackRate: playback may speed up 10% to reach PART-HOLD-BACK after starting on a keyframe.
// liveSyncOnStallIncrease: after a stall hls.js moves back from the edge by this much (default 1 s, five parts).
const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1, liveSyncOnStallIncrease: 0.3, backBufferLength: 30, subtitleDisplay: true });
hls.on(Hls.Events.ERROR, (_e, data) => state.errors.push((data.fatal ? 'FATAL ' : '') + data.details + (data.fatal && data.error ? ' (' + data.error.message + ')' : '')));
hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => { if (hls.subtitleTrack < 0) hls.subtitleTrack = 0; });
// Where each main segment starts on the video element's timeline, to map the picture back to media time.
state.fragStarts = {};
hls.on(Hls.Events.FRAG_CHANGED, (_e, data) => { if (data.frag.type === 'main') state.fragStarts[data.frag.sn] = data.frag.start; });
// A stall is running out of data while playing; the 'waiting' of a seek (the jump to live) is not one. Each stall
// is logged in wall-clock ms (Date.now, comparable with the test's clock) until media time moves again.
state.stallLog = [];
let stallOpen;
const endStall = () => { if (stallOpen) { stallOpen.endMs = Date.now(); stallOpen = undefined; } };
video.addEventListener('waiting', () => {
	if (!state.playing || video.seeking) return;
	state.stalls++;
	if (!stallOpen) { stallOpen = { startMs: Date.now(), endMs: null, atTime: video.currentTime }; state.stallLog.push(stallOpen); }
});
video.addEventListener('timeupdate', () => { if (stallOpen && video.currentTime > stallOpen.atTime + 0.01) endStall(); });
video.addEventListener('playing', () => { state.playing = true; });
video.requestVideoFrameCallback?.(() => { state.firstFrameMs = performance.now() - state.startedMs; });
function activeCues() {
	const out = [];
	for (const track of video.textTracks) for (const cue of track.activeCues ?? []) out.push(cue.text);
	return out;
}
// Startup lands behind the target: hls.js picks its position when the playlist arrives, then spends the time to
// first frame loading; the live edge moves on meanwhile, and its rate-based catch-up stops with 1 s of buffer left.
// A live-stage player jumps to the target once, within what it has buffered (at most three times per load).
state.jumps = 0;
state.jumpLog = [];
setInterval(() => {
	if (!state.playing || state.jumps >= 3 || hls.liveSyncPosition === null || hls.targetLatency === null) return;
	const b = video.buffered;
	const bufferedEnd = b.length ? b.end(b.length - 1) : 0;
	// One part behind the sync position: the newest part is still being encoded, keep a part of margin for jitter.
	// Only once two parts lie buffered beyond it, as the player app does (a jump into the buffer's last tenth of a
	// second would leave the next part's fetch no margin).
	const partS = hls.levels[hls.currentLevel]?.details?.partTarget || 0.2;
	const target = hls.liveSyncPosition - partS;
	if (hls.latency - hls.targetLatency > 0.3 && bufferedEnd >= target + 2 * partS && target > video.currentTime) {
		state.jumpLog.push({ atMs: Date.now(), from: video.currentTime, to: target, bufferedEnd });
		video.currentTime = target;
		state.jumps++;
	}
}, 250);
setInterval(() => {
	if (stallOpen && video.currentTime > stallOpen.atTime + 0.01) endStall();
	const cues = activeCues();
	if (state.playing && !video.seeking) state.cueLog.push({ currentTime: video.currentTime, cues });
}, 50);
window.tribune = {
	hls,
	load(url) { state.jumps = 0; state.startedMs = performance.now(); state.firstFrameMs = undefined; state.playing = false; state.stalls = 0;
		hls.loadSource(url); hls.attachMedia(video); video.play().catch(() => {});
		video.requestVideoFrameCallback?.(() => { state.firstFrameMs = performance.now() - state.startedMs; }); },
	sample() {
		const b = video.buffered;
		return { bufferAheadS: b.length ? b.end(b.length - 1) - video.currentTime : 0, rate: video.playbackRate, targetLatency: hls.targetLatency, drift: hls.drift,
			currentTime: video.currentTime, latency: hls.latency, playingDate: hls.playingDate ? hls.playingDate.getTime() : null,
			now: Date.now(), stalls: state.stalls, playing: state.playing, firstFrameMs: state.firstFrameMs, errors: state.errors, jumps: state.jumps,
			paused: video.paused, textTracks: video.textTracks.length, cueLog: state.cueLog, fragStarts: state.fragStarts, stallLog: state.stallLog, jumpLog: state.jumpLog };
	},
};
</script></body></html>`;

/** Routes of the test page and hls.js, on the same origin as /hls/ (CORS is checked separately). */
export function playerRoutes(app: Express): void {
	app.get('/test/player.html', (_req, res) => res.type('html').send(playerHtml));
	app.get('/test/hls.min.js', (_req, res) => res.sendFile(hlsJsPath));
}

export interface PlayerSample {
	bufferAheadS: number;
	rate: number;
	targetLatency: number | null;
	drift: number;
	currentTime: number;
	latency: number;
	playingDate: number | null;
	now: number;
	stalls: number;
	playing: boolean;
	firstFrameMs: number | undefined;
	errors: string[];
	/** Jumps to the live target the page made after starting. */
	jumps: number;
	paused: boolean;
	textTracks: number;
	/** Active cues at the video element's time, polled every 50 ms while playing. */
	cueLog: { currentTime: number; cues: string[] }[];
	/** Video-element time of the start of each main segment played, by media sequence number. */
	fragStarts: Record<string, number>;
	/** Each stall while playing: wall-clock start and end (null while it lasts), ms since the epoch. */
	stallLog: { startMs: number; endMs: number | null }[];
	/** Each jump to the live target: when (ms since the epoch), from and to (media time), and the buffer's end then. */
	jumpLog: { atMs: number; from: number; to: number; bufferedEnd: number }[];
}

export async function launchChromium(): Promise<Browser> {
	return chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: [
			'--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
			'--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
		],
	});
}

/** Opens the test player on `baseUrl` and starts `playlistUrl`. */
export async function openPlayer(browser: Browser, baseUrl: string, playlistUrl: string): Promise<Page> {
	const page = await browser.newPage();
	await page.goto(`${baseUrl}/test/player.html`);
	await page.evaluate(`window.tribune.load(${JSON.stringify(playlistUrl)})`);
	return page;
}

export async function sample(page: Page): Promise<PlayerSample> {
	return (await page.evaluate('window.tribune.sample()')) as PlayerSample;
}

/**
 * For a describe block: a live stream serving the test player, its encoder started (after `prepare`), and Chromium,
 * set up before its tests once the multivariant playlist is served, and closed after them.
 */
export function livePlayback(redisUrl: () => string, prepare?: (live: LiveStream) => void): { live: () => LiveStream; browser: () => Browser } {
	let live: LiveStream | undefined;
	let browser: Browser | undefined;
	beforeAll(async () => {
		live = new LiveStream({ redisUrl: redisUrl(), routes: playerRoutes });
		await live.listen();
		prepare?.(live);
		live.startEncoder();
		browser = await launchChromium();
		const stream = live;
		await until(async () => ((await get(stream.url('master.m3u8'))).status === 200 ? true : undefined), 15_000, 'the multivariant playlist');
	});
	afterAll(async () => {
		await browser?.close();
		await live?.close();
	});
	return { live: () => live!, browser: () => browser! };
}
