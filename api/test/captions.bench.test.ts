import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { loadIngestConfig, WorkerPool } from '@tribune/ingest';
import {
	connectRedis,
	createBroadcastRunner,
	PocketsphinxEngine,
	StageLinkClient,
	subscribeCaptions,
	wordErrors,
	type CaptionCue,
	type Rendition,
	type StageLinkSnapshot,
} from '@tribune/transcoder';
import type { Browser } from 'playwright-core';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { cpuSeconds, memoryMb } from '../../transcoder/test/captions/support/procStats.js';
import { stageSentences } from '../../transcoder/test/captions/support/stageSentences.js';
import { createOrigin } from '../src/origin/createOrigin.js';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { get } from './origin/support/fetchText.js';
import { launchChromium, openPlayer, playerRoutes, sample } from './origin/support/hlsPage.js';
import { parseMediaPlaylist } from './origin/support/parsePlaylist.js';
import { commandOf, descendants } from './support/processes.js';
import { produceWav } from './support/wavProducer.js';

/**
 * The captions pipeline bench (`bench:captions`, after the engine bench in transcoder/test/captions, whose JSON it
 * extends). Skipped unless TRIBUNE_BENCH=1. An audio space's broadcast job as a transcoder runs it (stage link,
 * ffmpeg, packager, Redis feed, captions in mode 'sidecar') with two speakers on a real mediasoup router: one says
 * stage sentences (flite, two voices) with 2.5 s pauses, looped; one is silent (room noise at -60 dBFS, as a
 * microphone sends it). Measures over TRIBUNE_BENCH_CAPTIONS_S seconds (default 60):
 * - `origin_delay_ms`: from the end of an utterance (its final's last word, on the transcoder's wall clock) to the
 *   cue appearing in the origin's subtitles track (blocking playlist reloads, so at once);
 * - `player_delay_ms`: from the same instant to the cue being active in hls.js (headless Chromium, the test player
 *   in low-latency mode with subtitles on; polled every 50 ms);
 * - `pipeline_cores_talking`, `pipeline_cores_silent`, `pipeline_rss_mb_talking`: per speaker, their Opus decoder
 *   (ffmpeg) plus their recogniser process, from /proc, per wall second; the voice gate in the job's process is the
 *   engine bench's `feed_cores_*`;
 * - `wer_stage`: word error rate of the talking speaker's finals through Opus and mediasoup, each final scored against
 *   the sentence it matches best (a final cut by the measuring window scores badly).
 * Medians over the utterances of one run; the machine's load is reported with them.
 */
const durationS = Number(process.env.TRIBUNE_BENCH_CAPTIONS_S ?? 60);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));
const ladder: Rendition[] = [{ name: 'audio', audioKbps: 64 }];
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));
const median = (values: number[]): number => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const loadavg = (): number[] => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const normalise = (text: string): string => text.toLowerCase().replace(/[^a-z' ]/g, ' ').replace(/\s+/g, ' ').trim();

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('captions pipeline bench', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-captions-pipeline-'));
	const senders: ChildProcess[] = [];
	let browser: Browser | undefined;

	afterAll(async () => {
		for (const child of senders) child.kill('SIGKILL');
		await browser?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('delays from an utterance end to the origin and to hls.js, and the cost of a talking and a silent speaker', async () => {
		const summary: Record<string, unknown> = { loadavg_pipeline_start: loadavg() };
		const pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		const router = await pool.createRouter({ spaceId: 'space-bench' });
		const redis = connectRedis(inject('redisUrl'), 'bench');
		const subscriber = connectRedis(inject('redisUrl'), 'bench-sub');
		const prefix = `bench-${randomUUID()}`;
		const spaceId = 'space-bench';
		const dataDir = path.join(dir, 'data');
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const origin = createOrigin({ redisUrl: inject('redisUrl'), redisPrefix: prefix, dataDir, windowSegments: 120, logger });
		const app = express();
		playerRoutes(app);
		app.use('/hls', origin.router);
		const httpServer = http.createServer(app);
		await new Promise<void>((resolve) => httpServer.listen(0, ip, resolve));
		const baseUrl = `http://${ip}:${(httpServer.address() as AddressInfo).port}`;
		const base = `${baseUrl}/hls/${spaceId}`;
		const stop = new AbortController();
		let job: Promise<void> | undefined;
		try {
			// The talking speaker: sentences with 2.5 s pauses (looped by the sender); the silent one: -60 dBFS noise.
			const said = Array.from({ length: 8 }, (_, i) => ({ text: stageSentences[(i * 5 + 2) % stageSentences.length]!, voice: i % 2 === 0 ? 'slt' : 'rms' }));
			const talkingWav = sentencesWav(dir, said, 2.5);
			const silentWav = path.join(dir, 'silent.wav');
			execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'anoisesrc=a=0.001:c=white:r=48000', '-t', '20', '-ac', '1', '-c:a', 'pcm_s16le', silentWav]);
			const producers = [await produceWav(router, talkingWav, 100, senders, 300), await produceWav(router, silentWav, 200, senders, 300)];
			const speakers: StageLinkSnapshot['speakers'] = [
				{ peerId: 'talker', name: 'Talking Speaker', audioProducerId: producers[0]!.id, muted: false },
				{ peerId: 'silent', name: 'Silent Speaker', audioProducerId: producers[1]!.id, muted: false },
			];
			await server.publishSnapshot({ spaceId, node: 'node-1', version: 1, speakers, pinned: [], captionMode: 'sidecar' });

			const finals: (CaptionCue & { publishedAt: number })[] = [];
			await subscribeCaptions(subscriber, prefix, spaceId, (cue) => {
				if (cue.final) finals.push({ ...cue, publishedAt: Date.now() });
			});
			const engines = new Map<string, PocketsphinxEngine>();
			const run = createBroadcastRunner({
				redis, prefix, link: client, ladder, latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 }, canvas: { width: 640, height: 360 }, dataDir,
				ffmpegPath: 'ffmpeg', fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
				createCaptionEngine: (speaker, engineLogger) => {
					const engine = new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger });
					engines.set(speaker.peerId, engine);
					return engine;
				},
			});
			job = run({ spaceId, composite: false, recording: false, requestedAt: Date.now() }, { signal: stop.signal, logger, reportProgress: async () => {} });

			// The origin side: blocking reloads of the subtitles playlist; each new segment's cues, first seen when.
			const atOrigin = new Map<string, number>();
			let following = true;
			const follow = (async () => {
				let next = 0;
				while (following) {
					const reply = await get(`${base}/subs/index.m3u8?_HLS_msn=${next}`, { timeoutMs: 10_000 }).catch(() => undefined);
					const now = Date.now();
					if (!reply || reply.status !== 200) {
						await sleep(200);
						continue;
					}
					const playlist = parseMediaPlaylist(reply.text);
					const complete = playlist.segments.filter((s) => s.uri !== undefined);
					for (const [i, segment] of complete.entries()) {
						const msn = playlist.mediaSequence + i;
						if (msn < next) continue;
						const vtt = await get(`${base}/subs/${segment.uri}`);
						for (const text of cueTexts(vtt.text)) if (!atOrigin.has(text)) atOrigin.set(text, now);
						next = msn + 1;
					}
				}
			})();

			// The player side: hls.js with subtitles on; each cue's text first seen active, wall clock.
			const deadline = Date.now() + 30_000;
			while ((await get(`${base}/master.m3u8`)).status !== 200 && Date.now() < deadline) await sleep(200);
			browser = await launchChromium();
			const page = await openPlayer(browser, baseUrl, `${base}/master.m3u8`);
			await page.evaluate(`(() => {
				window.firstActive = {};
				const video = document.getElementById('video');
				setInterval(() => {
					for (const track of video.textTracks) {
						if (track.mode === 'disabled') track.mode = 'hidden';
						for (const cue of track.activeCues ?? []) if (!(cue.text in window.firstActive)) window.firstActive[cue.text] = Date.now();
					}
				}, 50);
			})()`);

			// Warm-up (engines load, the player starts), then the measured window.
			await until(() => engines.size === 2 && [...engines.values()].every((e) => e.recogniserPid !== undefined) && decoderPid('talker') !== undefined && decoderPid('silent') !== undefined, 60_000);
			await sleep(3000);
			const pids = { talker: [engines.get('talker')!.recogniserPid!, decoderPid('talker')!], silent: [engines.get('silent')!.recogniserPid!, decoderPid('silent')!] };
			const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, list]) => [k, list.map(cpuSeconds)]));
			const t0 = Date.now();
			await sleep(durationS * 1000);
			const wallS = (Date.now() - t0) / 1000;
			const cores = (k: keyof typeof pids): number => pids[k].reduce((sum, pid, i) => sum + cpuSeconds(pid) - cpu0[k]![i]!, 0) / wallS;
			Object.assign(summary, {
				pipeline_cores_talking: round(cores('talker')),
				pipeline_cores_silent: round(cores('silent'), 4),
				decoder_cores_silent: round((cpuSeconds(pids.silent[1]!) - cpu0.silent![1]!) / wallS, 4),
				pipeline_rss_mb_talking: round(pids.talker.reduce((sum, pid) => sum + memoryMb(pid).rssMb, 0), 1),
			});
			// Let the last utterance's cue reach the player.
			await sleep(4000);
			const firstActive = (await page.evaluate('window.firstActive')) as Record<string, number>;
			const player = await sample(page);
			summary.player_state = { playing: player.playing, textTracks: player.textTracks, errors: player.errors.slice(0, 5), latency: round(player.latency, 2), seen: Object.keys(firstActive).slice(0, 3) };
			following = false;

			const talkerFinals = finals.filter((f) => f.speakerId === 'talker' && f.endMs >= t0);
			const originDelays: number[] = [];
			const playerDelays: number[] = [];
			for (const final of talkerFinals) {
				const key = `${final.speakerName}|${normalise(final.text)}`;
				const origin = atOrigin.get(key);
				if (origin !== undefined) originDelays.push(origin - final.endMs);
				const shown = Object.entries(firstActive).find(([text]) => playerKey(text) === key)?.[1];
				if (shown !== undefined) playerDelays.push(shown - final.endMs);
			}
			const silentFinals = finals.filter((f) => f.speakerId === 'silent').length;
			Object.assign(summary, {
				origin_delay_ms: Math.round(median(originDelays)),
				origin_delay_ms_max: Math.round(Math.max(...originDelays)),
				player_delay_ms: Math.round(median(playerDelays)),
				player_delay_ms_max: Math.round(Math.max(...playerDelays)),
				final_delay_ms_stage: Math.round(median(talkerFinals.map((f) => f.publishedAt - f.endMs))),
				utterances: talkerFinals.length,
				utterances_at_origin: originDelays.length,
				utterances_in_player: playerDelays.length,
				silent_speaker_finals: silentFinals,
				wer_stage: werAgainst(said.map((s) => s.text), talkerFinals.map((f) => f.text)),
				loadavg_pipeline_end: loadavg(),
			});
			mergeSummary(summary);
			expect(talkerFinals.length).toBeGreaterThanOrEqual(2);
			expect(originDelays.length).toBeGreaterThan(0);
			await follow.catch(() => {});
		} finally {
			stop.abort();
			await job?.catch(() => {});
			httpServer.closeAllConnections();
			httpServer.close();
			origin.close();
			await client.close();
			server.close();
			subscriber.disconnect();
			redis.disconnect();
			pool.close();
		}
	}, 300_000);
});

/** A speaker's decoder: the ffmpeg reading their SDP (named after the speaker). */
function decoderPid(peerId: string): number | undefined {
	return descendants(process.pid).find((pid) => commandOf(pid).includes(`speaker-${peerId}-`) && commandOf(pid).includes('s16le'));
}

/** Cue texts of a WebVTT segment as `Name|normalised text`, from `<v Name>text</v>`. */
function cueTexts(vtt: string): string[] {
	const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
	return [...vtt.matchAll(/<v ([^>]*)>([\s\S]*?)<\/v>/g)].map((m) => `${unescape(m[1]!)}|${normalise(unescape(m[2]!))}`);
}

/** A VTTCue's text as the browser keeps it (`<v Name>text</v>`, escapes as sent) in the same form. */
function playerKey(text: string): string {
	return cueTexts(text)[0] ?? '';
}

/** Word error rate of `hypotheses` (whole utterances), each scored against the said sentence it matches best. */
function werAgainst(references: string[], hypotheses: string[]): number {
	let errors = 0;
	let words = 0;
	for (const hypothesis of hypotheses) {
		const best = references.map((r) => wordErrors(r, hypothesis)).sort((a, b) => a.errors / a.referenceWords - b.errors / b.referenceWords)[0]!;
		errors += best.errors;
		words += best.referenceWords;
	}
	return words === 0 ? NaN : round(errors / words, 4);
}

function sentencesWav(dir: string, lines: { text: string; voice: string }[], pauseS: number): string {
	const parts: string[] = [];
	lines.forEach((line, i) => {
		const wav = path.join(dir, `said-${i}.wav`);
		execFileSync('flite', ['-voice', line.voice, '-t', line.text, '-o', wav]);
		parts.push(wav);
	});
	const out = path.join(dir, 'talking.wav');
	const inputs = parts.flatMap((p) => ['-i', p]);
	const pads = parts.map((_, i) => `[${i}:a]aresample=48000,apad=pad_dur=${pauseS}[p${i}]`).join(';');
	execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', `${pads};${parts.map((_, i) => `[p${i}]`).join('')}concat=n=${parts.length}:v=0:a=1`, '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', out]);
	return out;
}

async function until(probe: () => boolean, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!probe()) {
		if (Date.now() > deadline) throw new Error('timed out');
		await sleep(200);
	}
}

/**
 * Adds this bench's figures to the engine bench's JSON (TRIBUNE_BENCH_OUT; `bench:captions` runs that one first), or
 * starts it; prints the line. A speaker's whole cost is their decoder and recogniser (measured here) plus the voice
 * gate in the job's process (the engine bench's `feed_cores_*`): that sum becomes `cores_talking`/`cores_silent`, and
 * the engine bench's recogniser-only figures are kept as `engine_*`.
 */
function mergeSummary(summary: Record<string, unknown>): void {
	const out = process.env.TRIBUNE_BENCH_OUT;
	let merged: Record<string, unknown> = {};
	if (out && fs.existsSync(out)) {
		try {
			merged = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
		} catch {
			merged = {};
		}
	}
	for (const key of ['cores_talking', 'cores_silent', 'rss_mb_talking']) {
		if (merged[key] !== undefined) merged[`engine_${key}`] = merged[key];
	}
	const silentGate = (merged.silent as Record<string, { feed_cores?: number }> | undefined)?.noise_60dbfs?.feed_cores ?? 0;
	const talkingGate = typeof merged.feed_cores_talking === 'number' ? merged.feed_cores_talking : 0;
	Object.assign(merged, summary, {
		cores_talking: round((summary.pipeline_cores_talking as number) + talkingGate),
		cores_silent: round((summary.pipeline_cores_silent as number) + silentGate, 4),
		rss_mb_talking: summary.pipeline_rss_mb_talking,
	});
	const line = JSON.stringify(merged);
	if (out) fs.writeFileSync(out, `${line}\n`);
	console.log(line);
}
