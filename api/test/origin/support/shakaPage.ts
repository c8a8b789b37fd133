import { createRequire } from 'node:module';
import type { Express } from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const shakaPath = require.resolve('shaka-player/dist/shaka-player.compiled.js');

/**
 * Shaka Player's settings for Tribune's LL-HLS, on top of its defaults (which already turn low-latency mode on and,
 * on a stream with parts, use 0.1 s playlist updates, two segments of prefetch and 0.1 s retries):
 * - `lowLatencyMode`: said explicitly, the point of the test; it makes Shaka start PART-HOLD-BACK behind the edge,
 *   load parts and preload hints, and read EXT-X-SERVER-CONTROL as required on every media playlist (4023 without
 *   PART-HOLD-BACK).
 * - `inaccurateManifestTolerance: 0`: the packager's durations and dates are exact, so no extra segment is fetched
 *   before the one that holds the position (2 s by default).
 * - `rebufferingGoal: 0`: play as soon as a part is buffered (the default; said because it decides the first frame).
 * - `manifest.hls.ignoreManifestProgramDateTime: false` (the default, said because `latencyS` rests on it): Shaka
 *   places segments by their EXT-X-PROGRAM-DATE-TIME, so the playhead's date is the packager's capture time.
 * - `liveSync` off (the default): Shaka holds the position it started at; a caller may turn it on through `config`.
 * - `manifest.hls.sequenceMode: true`: Shaka 5.2 (through 5.2.12) drops whole appended parts that do not begin on a
 *   keyframe when its timestamp offset is negative (shaka-project/shaka-player#10589, fixed after 5.2.12); started
 *   near the edge it showed about one part in five (433 of 1,800 frames in bench:latency, captions on 180 of 900).
 *   Sequence mode appends parts end to end and shows every frame (900 of 900); Shaka's dates stay the playlists'.
 */
export const shakaLowLatencyConfig = {
	streaming: { lowLatencyMode: true, inaccurateManifestTolerance: 0, rebufferingGoal: 0 },
	manifest: { hls: { ignoreManifestProgramDateTime: false, sequenceMode: true } },
} as const;

/**
 * The Shaka test player: Shaka Player (low-latency mode) on a muted, autoplaying video, with the first text track
 * selected and shown (unless `?captions=off`). Shaka shows cues through its native text displayer (no UI container), so they are the video
 * element's text track cues. `window.tribuneShaka.sample()` reports what a listener would see. The page plays
 * `?src=` at once; `?config=` (JSON) is merged over `shakaLowLatencyConfig`.
 * Shaka 5.2 probes video segments for CEA-608 captions when EXT-X-STREAM-INF has no CLOSED-CAPTIONS attribute; on a
 * playlist of only a couple of segments its probe picks the open segment (parts only, no URI) and load() fails with a
 * TypeError (recorded as 'load: …'). Streams a few seconds old load.
 */
const shakaHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Tribune LL-HLS Shaka test player</title></head>
<body><video id="video" muted autoplay playsinline width="640" height="360"></video>
<script src="/test/shaka-player.compiled.js"></script>
<script>
const video = document.getElementById('video');
const params = new URLSearchParams(location.search);
const state = { stalls: 0, playing: false, firstFrameMs: undefined, startedMs: performance.now(), errors: [], cuesSeen: [], cuesLoaded: [], stallLog: [] };
// Shaka's own errors carry code, category and data; anything else (an error event a plugin raised with another
// object) is told by its name, message and stack, which 'code undefined' hid (a CI run failed on one).
const describe = (error) => error && error.code !== undefined
	? (error.severity === 2 ? 'CRITICAL ' : '') + 'code ' + error.code + ' category ' + error.category + ' data ' + JSON.stringify(error.data ?? []).slice(0, 400)
	: 'not a shaka.util.Error: ' + String(error && (error.name || error.constructor && error.constructor.name)) + ': ' +
		String(error && error.message) + ' ' + String(error && error.stack || JSON.stringify(error) || '').slice(0, 600);
// A stall is running out of data while playing (as the hls.js page counts it): the 'waiting' of a seek is not one.
let stallOpen;
video.addEventListener('waiting', () => {
	if (!state.playing || video.seeking) return;
	state.stalls++;
	if (!stallOpen) { stallOpen = { startMs: Date.now(), endMs: null, atTime: video.currentTime }; state.stallLog.push(stallOpen); }
});
video.addEventListener('playing', () => { state.playing = true; });
function activeCues() {
	const out = [];
	for (const track of video.textTracks) for (const cue of track.activeCues ?? []) out.push(cue.text);
	return out;
}
setInterval(() => {
	if (stallOpen && video.currentTime > stallOpen.atTime + 0.01) { stallOpen.endMs = Date.now(); stallOpen = undefined; }
	for (const text of activeCues()) if (!state.cuesSeen.includes(text)) state.cuesSeen.push(text);
	for (const track of video.textTracks) for (const cue of track.cues ?? []) {
		if (!state.cuesLoaded.some((c) => c.text === cue.text && c.startS === cue.startTime)) {
			state.cuesLoaded.push({ text: cue.text, startS: cue.startTime, endS: cue.endTime, atS: video.currentTime, atMs: Date.now() });
		}
	}
}, 50);
shaka.polyfill.installAll();
const player = new shaka.Player();
player.addEventListener('error', (event) => state.errors.push(describe(event.detail)));
// Shaka rejects some failures of a track's playlist (4023 on a later text playlist) without an 'error' event.
window.addEventListener('unhandledrejection', (event) => state.errors.push('unhandled ' +
	(event.reason && event.reason.code !== undefined ? describe(event.reason) : String(event.reason && event.reason.stack || event.reason).slice(0, 600))));
window.addEventListener('error', (event) => state.errors.push('uncaught ' +
	(event.error && event.error.code !== undefined ? describe(event.error) : String(event.message).slice(0, 600))));
// Captions on (unless ?captions=off): the first text track, once Shaka knows the tracks (it picks none unless a
// preference matches). Shaka updates the playlists of the active tracks together, each round waiting for all of
// them, so a subtitles playlist without parts holds every round for up to a segment.
const showText = () => {
	if (params.get('captions') === 'off') return;
	const tracks = player.getTextTracks();
	if (tracks.length > 0 && !tracks.some((t) => t.active)) player.selectTextTrack(tracks[0]);
};
player.addEventListener('trackschanged', showText);
const merge = (base, over) => {
	const out = { ...base };
	for (const [key, value] of Object.entries(over)) out[key] = value && typeof value === 'object' && !Array.isArray(value) ? merge(base[key] ?? {}, value) : value;
	return out;
};
player.configure(merge(${JSON.stringify(shakaLowLatencyConfig)}, JSON.parse(params.get('config') ?? '{}')));
window.tribuneShaka = {
	player,
	sample() {
		const b = video.buffered;
		const range = player.seekRange();
		const date = state.playing ? player.getPlayheadTimeAsDate() : null;
		const stats = player.getStats();
		return { playing: state.playing, firstFrameMs: state.firstFrameMs, latencyS: date ? (Date.now() - date.getTime()) / 1000 : undefined,
			liveEdgeDistanceS: state.playing ? range.end - video.currentTime : undefined, stalls: state.stalls, errors: state.errors,
			activeCues: activeCues(), cuesSeen: state.cuesSeen, cuesLoaded: state.cuesLoaded, currentTime: video.currentTime, paused: video.paused,
			bufferAheadS: b.length ? b.end(b.length - 1) - video.currentTime : 0, rate: video.playbackRate, stallLog: state.stallLog,
			textTracks: player.getTextTracks().map((t) => ({ id: t.id, language: t.language, active: t.active })),
			variant: (({ height, bandwidth }) => ({ height, bandwidth }))(player.getVariantTracks().find((t) => t.active) ?? {}), videoHeight: video.videoHeight, quality: (({ droppedVideoFrames, totalVideoFrames }) => ({ droppedVideoFrames, totalVideoFrames }))(video.getVideoPlaybackQuality()),
			lowLatency: state.lowLatency ?? null, shakaLatencyS: stats.liveLatency, shakaStalls: stats.stallsDetected, now: Date.now() };
	},
};
(async () => {
	await player.attach(video);
	state.startedMs = performance.now();
	video.requestVideoFrameCallback?.(() => { state.firstFrameMs = performance.now() - state.startedMs; });
	try {
		await player.load(params.get('src'));
		state.lowLatency = player.getManifest()?.isLowLatency ?? null;
		showText();
		// Autoplay of a muted video is allowed (the browser runs with --autoplay-policy=no-user-gesture-required).
		await video.play();
	} catch (error) {
		state.errors.push(error && error.code !== undefined ? describe(error) : 'load: ' + String(error && error.stack || error).slice(0, 600));
	}
})();
</script></body></html>`;

/** Routes of the Shaka test page and Shaka's compiled script from node_modules (nothing downloads at run time). */
export function shakaRoutes(app: Express): void {
	app.get('/test/shaka.html', (_req, res) => res.type('html').send(shakaHtml));
	app.get('/test/shaka-player.compiled.js', (_req, res) => res.sendFile(shakaPath));
}

/**
 * The same two routes inside the browser, for a server the test cannot add routes to (the whole system, compiled):
 * Playwright answers `<baseUrl>/test/shaka.html` and the script itself, so the page and the origin share an origin.
 */
export async function routeShakaPage(target: BrowserContext | Page, baseUrl: string): Promise<void> {
	await target.route(`${baseUrl}/test/shaka.html*`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: shakaHtml }));
	await target.route(`${baseUrl}/test/shaka-player.compiled.js`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', path: shakaPath }));
}

export interface ShakaSample {
	/** The video has played (its first 'playing'). */
	playing: boolean;
	/** From asking Shaka to load to the first frame presented, ms. */
	firstFrameMs: number | undefined;
	/** Wall clock minus the program date-time of the frame playing (the packager's PDT is the capture time), s. */
	latencyS: number | undefined;
	/**
	 * The end of Shaka's seek range minus the playhead, s: how far behind the position Shaka starts at (its live edge,
	 * reckoned from the newest part it has seen and the clock since, less PART-HOLD-BACK) it plays.
	 */
	liveEdgeDistanceS: number | undefined;
	stalls: number;
	/**
	 * Every Shaka 'error' event, a failed load, and any uncaught error or unhandled rejection in the page: code, category
	 * and data ('CRITICAL ' first when fatal), or the message.
	 */
	errors: string[];
	/** Text of the cues active at the video's time. */
	activeCues: string[];
	/** Every cue text that was active at some 50 ms poll since the page opened, first seen first. */
	cuesSeen: string[];
	/**
	 * Every cue the text tracks held at some 50 ms poll, first seen first: its times, and the playhead and the wall clock
	 * when it was first there (a cue loaded after the playhead passed its end is never shown).
	 */
	cuesLoaded: { text: string; startS: number; endS: number; atS: number; atMs: number }[];
	currentTime: number;
	paused: boolean;
	bufferAheadS: number;
	rate: number;
	stallLog: { startMs: number; endMs: number | null }[];
	textTracks: { id: number; language: string; active: boolean }[];
	/** The variant Shaka plays (height null for the audio-only one). */
	variant: { height?: number | null; bandwidth?: number };
	videoHeight: number;
	/** The video element's frame counts: a player skipping ahead shows fewer frames than media time passes. */
	quality: { droppedVideoFrames: number; totalVideoFrames: number };
	/** Shaka found the stream low-latency (it has parts); null until the load. */
	lowLatency: boolean | null;
	/** Shaka's own `getStats().liveLatency` (presentation start + current time against the clock), s. */
	shakaLatencyS: number;
	shakaStalls: number;
	now: number;
}

export interface ShakaPageOptions {
	/** Select and show the first text track (default true); false is a viewer who never turns captions on. */
	captions?: boolean;
}

/** The URL of the Shaka test page for `src`, with `config` merged over `shakaLowLatencyConfig`. */
export function shakaPageUrl(baseUrl: string, src: string, config: object = {}, options: ShakaPageOptions = {}): string {
	const query = new URLSearchParams({ src, config: JSON.stringify(config), ...(options.captions === false && { captions: 'off' }) });
	return `${baseUrl}/test/shaka.html?${query.toString()}`;
}

/** Opens the Shaka test page on `baseUrl` (served by `shakaRoutes`) playing `src`. */
export async function openShakaPlayer(browser: Browser, baseUrl: string, src: string, config: object = {}, options: ShakaPageOptions = {}): Promise<Page> {
	const page = await browser.newPage();
	await page.goto(shakaPageUrl(baseUrl, src, config, options));
	return page;
}

export async function sampleShaka(page: Page): Promise<ShakaSample> {
	return (await page.evaluate('window.tribuneShaka.sample()')) as ShakaSample;
}
