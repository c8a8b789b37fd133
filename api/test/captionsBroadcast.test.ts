import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import express from 'express';
import {
	computeLayout,
	connectRedis,
	createBroadcastRunner,
	PocketsphinxEngine,
	publishCaption,
	StageLinkClient,
	subscribeCaptions,
	type Rendition,
	type StageLinkSnapshot,
	type TranscriptJson,
} from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { turnTakingWavs } from '../../transcoder/test/captions/support/turnTakingWavs.js';
import { createOrigin } from '../src/origin/createOrigin.js';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { get, until } from './origin/support/fetchText.js';
import { parseMediaPlaylist, type ParsedSegment } from './origin/support/parsePlaylist.js';
import { useWavStage } from './support/wavStage.js';

// A broadcast job as a transcoder runs it (createBroadcastRunner: stage link, ffmpeg composite, packager, Redis feed,
// captions) fed by a real mediasoup router, read back through a real origin. Two speakers take turns saying different
// flite sentences, and a captioner adds a cue; the test reads the LL-HLS subtitles, decodes the audio and a frame of
// the picture, and reads the transcript of the replay.
const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));
const canvas = { width: 640, height: 360 };
const ladder: Rendition[] = [{ name: '360p', video: { width: 640, height: 360, kbps: 500 }, audioKbps: 64 }, { name: 'audio', audioKbps: 64 }];
const latency = { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 };
const lines = [
	{ name: 'Ada <Lovelace>', text: 'Welcome back to the show, it is great to have you here with us again.', voice: 'slt' as const },
	{ name: 'Bob & Co', text: 'Please raise your hand if you want to say something.', voice: 'rms' as const },
];

/** A cue of a WebVTT segment: times on the media timeline (LOCAL equals MPEGTS time in Tribune's segments). */
interface VttCue {
	startS: number;
	endS: number;
	voice: string;
	text: string;
}

function parseVtt(text: string): VttCue[] {
	const cues: VttCue[] = [];
	const seconds = (t: string): number => t.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
	const blocks = text.split('\n\n');
	for (const block of blocks) {
		const [timing, ...body] = block.split('\n');
		const match = /^(\S+) --> (\S+)/.exec(timing ?? '');
		const voice = /^<v ([^>]*)>(.*)<\/v>$/s.exec(body.join('\n'));
		if (match && voice) cues.push({ startS: seconds(match[1]!), endS: seconds(match[2]!), voice: unescape(voice[1]!), text: unescape(voice[2]!) });
	}
	return cues;
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('captions in a broadcast: sidecar WebVTT, burned-in, transcript', () => {
	const stage = useWavStage('space-cb', 'tribune-captions-broadcast-', logger);

	it('puts named cues on the right media time, draws them on the picture, and writes the transcript', { timeout: 180_000 }, async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const spaceId = 'space-cb';
		const dataDir = path.join(stage.dir, 'data');
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const origin = createOrigin({ redisUrl: inject('redisUrl'), redisPrefix: prefix, dataDir, windowSegments: 60, logger });
		const httpServer = http.createServer(express().use('/hls', origin.router));
		await new Promise<void>((resolve) => httpServer.listen(0, ip, resolve));
		const base = `http://${ip}:${(httpServer.address() as AddressInfo).port}/hls/${spaceId}`;

		// Gaps long enough that the two senders, started a moment apart, still take clean turns.
		const { parts } = turnTakingWavs(path.join(stage.dir, 'wav'), lines, 2.5);
		const producers = [await stage.produce(parts[0]!.wav, 100), await stage.produce(parts[1]!.wav, 200)];
		const speakers: StageLinkSnapshot['speakers'] = lines.map((line, i) => ({ peerId: `p${i}`, name: line.name, audioProducerId: producers[i]!.id, muted: false }));
		const snapshot = (version: number, captionMode: StageLinkSnapshot['captionMode']): StageLinkSnapshot => ({ spaceId, node: 'node-1', version, speakers, pinned: [], captionMode });
		await server.publishSnapshot(snapshot(1, 'sidecar'));
		const subscriber = connectRedis(inject('redisUrl'), 'test-sub');
		const published: string[] = [];
		await subscribeCaptions(subscriber, prefix, spaceId, (cue) => {
			if (cue.final) published.push(`${new Date(cue.startMs).toISOString().slice(17, 23)}-${new Date(cue.endMs).toISOString().slice(17, 23)} @${new Date().toISOString().slice(17, 23)} ${cue.speakerName}: ${cue.text}`);
		});

		const stop = new AbortController();
		const run = createBroadcastRunner({
			redis, prefix, link: client, ladder, latency, canvas, dataDir, ffmpegPath: 'ffmpeg', fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			createCaptionEngine: (_, engineLogger) => new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger }),
		});
		const job = run({ spaceId, composite: true, recording: true, requestedAt: Date.now() }, { signal: stop.signal, logger, reportProgress: async () => {} });
		const failed = job.then(() => 'ended', (error: unknown) => `failed: ${String(error)}`);

		const playlist = async (rendition: string): Promise<ParsedSegment[]> => {
			const reply = await get(`${base}/${rendition}/index.m3u8`);
			// Complete segments only (the one being written has parts and no URI yet).
			return reply.status === 200 ? parseMediaPlaylist(reply.text).segments.filter((segment) => segment.uri !== undefined) : [];
		};
		try {
			// The subtitles rendition is in the multivariant playlist from the start, whatever the mode.
			const master = await until(async () => {
				const reply = await get(`${base}/master.m3u8`);
				return reply.status === 200 ? reply.text : undefined;
			}, 30_000, 'the multivariant playlist');
			expect(master).toContain('TYPE=SUBTITLES');

			// A frame with no captions: burned-in is off ('sidecar').
			const first = await until(async () => ((await playlist('360p')).length >= 2 ? (await playlist('360p'))[1] : undefined), 30_000, 'two video segments');
			const plain = await frameOf(base, first, path.join(stage.dir, 'plain'));
			await server.publishSnapshot(snapshot(2, 'both'));
			const switchedAfterMsn = (await playlist('360p')).at(-1)!.msn;

			// Both speakers' finals reach the subtitles track, under their names.
			const subtitleCues = async (): Promise<VttCue[]> => {
				const found = new Map<string, VttCue>();
				for (const segment of await playlist('subs')) {
					const vtt = await get(`${base}/subs/${segment.uri}`);
					for (const cue of parseVtt(vtt.text)) found.set(`${cue.startS}|${cue.voice}`, cue);
				}
				return [...found.values()].sort((a, b) => a.startS - b.startS);
			};
			// Two cues of each speaker: the first may be cut (captioning began while they talked).
			const cues = await until(async () => {
				const all = await subtitleCues();
				return lines.every((l) => all.filter((c) => c.voice === l.name).length >= 2) ? all : undefined;
			}, 60_000, 'two cues of each speaker in the subtitles track');
			expect(new Set(cues.map((c) => c.voice))).toEqual(new Set(lines.map((l) => l.name)));
			// Cues start where their speaker's voice starts in the broadcast audio (±0.5 s): any voice starting within
			// 0.5 s of a cue is panned to that cue's speaker's side of the composite, and each speaker gets such a cue.
			// Each speaker's first cue is left out (captioning may have begun mid-utterance). A loaded machine's encode
			// can lose stretches of audio, so the check looks again at newer turns until every speaker matched.
			const layout = computeLayout({ speakers: speakers.map((s) => ({ id: s.peerId, name: s.name, video: false, muted: false })), pinned: [], activeSpeakerId: undefined }, canvas);
			const side = (name: string): 'left' | 'right' => {
				const peerId = speakers.find((s) => s.name === name)!.peerId;
				return layout.tiles.find((t) => t.speakerId === peerId)!.pan < 0 ? 'left' : 'right';
			};
			expect(side(lines[0]!.name)).not.toBe(side(lines[1]!.name));
			const firsts = lines.map((l) => cues.find((c) => c.voice === l.name)!);
			let context = '';
			await until(async () => {
				const speech = await speechIntervals(base, await playlist('audio'), path.join(stage.dir, 'audio'));
				const inAudio = (await subtitleCues()).filter((c) => c.startS >= speech.fromS && c.startS <= speech.toS - 1);
				context = `speech ${JSON.stringify(speech)}; cues ${JSON.stringify(inAudio)}; published: ${published.join(' | ')}`;
				const matched = new Map<string, number>();
				for (const cue of inAudio) {
					if (firsts.some((first) => first.startS === cue.startS && first.voice === cue.voice)) continue;
					const interval = speech.intervals.find((s) => Math.abs(s.startS - cue.startS) <= 0.5);
					if (!interval) continue;
					expect(interval.side, `${JSON.stringify(cue)}; ${context}`).toBe(side(cue.voice));
					matched.set(`${cue.voice} ${cue.startS.toFixed(2)}`, cue.startS - interval.startS);
				}
				if (new Set([...matched.keys()].map((key) => key.slice(0, key.lastIndexOf(' ')))).size < lines.length) return undefined;
				console.log(`cue − voice start, s: ${[...matched].map(([key, offset]) => `${key}: ${offset.toFixed(2)}`).join(', ')} (of ${inAudio.length} cues in the audio read)`);
				return true;
			}, 60_000, 'a cue of each speaker on the start of their voice').catch((error: unknown) => {
				throw new Error(`${String(error)}; ${context}`);
			});

			// A captioner's cue (as the api's captioner endpoint publishes it) takes the same path into the track.
			const now = Date.now();
			await publishCaption(redis, prefix, { spaceId, id: 'desk-1', speakerName: 'Caption Desk', text: 'Applause from the audience', final: true, startMs: now - 1500, endMs: now - 200, source: 'captioner' });
			await until(async () => ((await subtitleCues()).some((c) => c.voice === 'Caption Desk' && c.text === 'Applause from the audience') ? true : undefined), 20_000, "the captioner's cue in the track");

			// Burned in: after the switch to 'both', some frame shows captions in the caption area, and only there.
			let checkedMsn = switchedAfterMsn + 1;
			const differences: number[] = [];
			const captioned = await until(async () => {
				for (const segment of (await playlist('360p')).filter((s) => s.msn > checkedMsn)) {
					checkedMsn = segment.msn;
					const frame = await frameOf(base, segment, path.join(stage.dir, `frame-${segment.msn}`));
					differences.push(Math.round(meanDiff(plain, frame, captionArea)));
					if (differences.at(-1)! > 8) return frame;
				}
				return undefined;
			}, 20_000, 'a frame with burned-in captions').catch((error: unknown) => {
				throw new Error(`${String(error)}; caption-area differences seen: ${differences.join(', ')}`);
			});
			expect(meanDiff(plain, captioned, topArea)).toBeLessThan(3);

			stop.abort();
			expect(await failed).toBe('ended');
			const replay = path.join(dataDir, 'hls', spaceId);
			const transcript = fs.readFileSync(path.join(replay, 'transcript.txt'), 'utf8');
			for (const line of lines) expect(transcript).toContain(`${line.name}: `);
			const json = JSON.parse(fs.readFileSync(path.join(replay, 'transcript.json'), 'utf8')) as TranscriptJson;
			expect(new Set(json.cues.map((c) => c.speakerId ?? c.speakerName))).toEqual(new Set(['p0', 'p1', 'Caption Desk']));
			expect(transcript).toContain('Caption Desk: Applause from the audience');
			expect(json.cues.every((c, i) => c.startS >= 0 && c.endS >= c.startS && (i === 0 || c.startS >= json.cues[i - 1]!.startS))).toBe(true);
			const vtt = fs.readFileSync(path.join(replay, 'transcript.vtt'), 'utf8');
			expect(vtt).toMatch(/^WEBVTT\n\n1\n\d\d:\d\d:\d\d\.\d{3} --> /);
			expect(vtt).toContain('<v Ada &lt;Lovelace&gt;>');
			expect(vtt).toContain('<v Bob &amp; Co>');
			expect(fs.existsSync(path.join(replay, 'transcript.srt'))).toBe(true);
		} finally {
			stop.abort();
			await job.catch(() => {});
			httpServer.closeAllConnections();
			httpServer.close();
			origin.close();
			await client.close();
			server.close();
			redis.disconnect();
			subscriber.disconnect();
		}
	});
});

/** The picture area burned-in captions use (bottom centre) and one they never touch (top band), at 640×360. */
const captionArea = { x: 40, y: 250, width: 560, height: 95 };
const topArea = { x: 0, y: 0, width: 640, height: 20 };

/** The first frame of a video segment, as 8-bit grey pixels at 640×360. */
async function frameOf(base: string, segment: ParsedSegment, file: string): Promise<Buffer> {
	const init = await get(`${base}/360p/${segment.map}`);
	const media = await get(`${base}/360p/${segment.uri}`);
	if (init.status !== 200 || media.status !== 200) throw new Error(`frame of segment ${segment.msn} (${segment.uri}): init ${init.status}, media ${media.status} ${media.text} ${(await get(`${base}/360p/index.m3u8`)).text}`);
	fs.writeFileSync(`${file}.mp4`, Buffer.concat([init.body, media.body]));
	if (process.env.KEEP_FRAMES) fs.copyFileSync(`${file}.mp4`, `/tmp/h2-${path.basename(file)}.mp4`);
	const { stdout } = await execFileAsync('ffmpeg', ['-v', 'error', '-i', `${file}.mp4`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', '640x360', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 22 });
	return stdout;
}

function meanDiff(a: Buffer, b: Buffer, area: { x: number; y: number; width: number; height: number }): number {
	let sum = 0;
	for (let y = area.y; y < area.y + area.height; y++) {
		for (let x = area.x; x < area.x + area.width; x++) sum += Math.abs(a[y * 640 + x]! - b[y * 640 + x]!);
	}
	return sum / (area.width * area.height);
}

/**
 * Where voices sound in the broadcast audio, on the media timeline: the complete segments of the newest run, decoded,
 * cut into 20 ms windows; runs of loud windows (pauses under 0.7 s bridged) of at least 0.8 s, each with the louder
 * channel.
 */
async function speechIntervals(base: string, segments: ParsedSegment[], file: string): Promise<{ fromS: number; toS: number; intervals: { startS: number; endS: number; side: 'left' | 'right' }[] }> {
	const lastMap = segments.at(-1)!.map;
	const run = segments.filter((s) => s.map === lastMap && s.uri);
	const init = await get(`${base}/audio/${lastMap}`);
	const bodies = await Promise.all(run.map(async (s) => (await get(`${base}/audio/${s.uri}`)).body));
	fs.writeFileSync(`${file}.mp4`, Buffer.concat([init.body, ...bodies]));
	if (process.env.KEEP_FRAMES) fs.copyFileSync(`${file}.mp4`, '/tmp/h2-audio.mp4');
	const firstPts = Number((await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts_time', '-read_intervals', '%+#1', '-of', 'csv=p=0', `${file}.mp4`])).stdout.trim());
	const { stdout } = await execFileAsync('ffmpeg', ['-v', 'error', '-i', `${file}.mp4`, '-f', 's16le', '-ac', '2', '-ar', '48000', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 26 });
	const windowSamples = 960;
	const frames = stdout.length / 4;
	const windows: { loud: boolean; left: number; right: number }[] = [];
	for (let w = 0; (w + 1) * windowSamples <= frames; w++) {
		let left = 0;
		let right = 0;
		for (let i = w * windowSamples; i < (w + 1) * windowSamples; i++) {
			left += stdout.readInt16LE(i * 4) ** 2;
			right += stdout.readInt16LE(i * 4 + 2) ** 2;
		}
		const db = 10 * Math.log10((left + right) / (2 * windowSamples) / 32768 ** 2 + 1e-12);
		windows.push({ loud: db > -45, left, right });
	}
	const intervals: { startS: number; endS: number; side: 'left' | 'right' }[] = [];
	let start = -1;
	let lastLoud = -1;
	let left = 0;
	let right = 0;
	const close = (): void => {
		if (start >= 0 && (lastLoud - start + 1) * 0.02 >= 0.8) {
			intervals.push({ startS: firstPts + start * 0.02, endS: firstPts + (lastLoud + 1) * 0.02, side: left > right ? 'left' : 'right' });
		}
		start = -1;
		left = right = 0;
	};
	for (const [w, window] of windows.entries()) {
		if (!window.loud) {
			if (start >= 0 && w - lastLoud > 35) close();
			continue;
		}
		if (start < 0) start = w;
		lastLoud = w;
		left += window.left;
		right += window.right;
	}
	close();
	return { fromS: firstPts, toS: firstPts + windows.length * 0.02, intervals };
}
