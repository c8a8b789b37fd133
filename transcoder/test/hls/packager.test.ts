import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildHlsEncodePlan, HlsDiskWriter, Packager, runHlsEncoder, type HlsMessage, type Rendition } from '../../src/index.js';

const run = promisify(execFile);
const logger = pino({ level: 'warn' });
const ladder: Rendition[] = [
	{ name: '360p', video: { width: 640, height: 360, kbps: 600 }, audioKbps: 96 },
	{ name: 'audio', audioKbps: 64 },
];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-packager-'));

/** Encodes `seconds` of test pattern and tone (not paced: as fast as ffmpeg goes) into the packager. */
async function encode(packager: Packager, seconds: number): Promise<void> {
	const plan = buildHlsEncodePlan({
		inputArgs: ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
		videoInput: '0:v',
		audioInput: '1:a',
		ladder,
		partTargetMs: 200,
		segmentTargetMs: 1000,
		frameRate: 30,
		x264Preset: 'ultrafast',
	});
	const result = await runHlsEncoder('ffmpeg', plan, packager, logger).done;
	expect(result.code, result.stderr).toBe(0);
}

describe('Packager with real ffmpeg', () => {
	afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

	it('cuts fMP4 into 200 ms parts and 1 s segments that start independent, across an encoder restart', async () => {
		const messages: HlsMessage[] = [];
		const packager = new Packager({
			streamId: 'pk1',
			renditions: [{ name: '360p', kind: 'video', bandwidth: 800_000, frameRate: 30 }, { name: 'audio', kind: 'audio', bandwidth: 80_000 }],
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: true,
			sink: { publish: (message) => messages.push(message) },
			disk: new HlsDiskWriter(path.join(dataDir, 'hls'), 'pk1'),
			logger,
		});
		packager.addCue({ startS: 1.2, endS: 2.4, text: 'first cue' });
		await encode(packager, 3);
		await encode(packager, 2);
		await packager.end();

		const seqs = messages.map((m) => m.event.seq);
		expect(seqs).toEqual(seqs.map((_, i) => i));
		const video = packager.timeline('360p');
		expect(video.segments.map((s) => s.msn)).toEqual([0, 1, 2, 3, 4]);
		expect(video.segments.map((s) => s.discontinuity)).toEqual([false, false, false, true, false]);
		expect(video.segments.map((s) => s.mapUri)).toEqual(['init-0.mp4', 'init-0.mp4', 'init-0.mp4', 'init-1.mp4', 'init-1.mp4']);
		for (const segment of video.segments) {
			expect(segment.durationS).toBeCloseTo(1, 5);
			expect(segment.parts.map((p) => p.independent)).toEqual([true, false, false, false, false]);
			for (const part of segment.parts) expect(part.durationS).toBeCloseTo(0.2, 5);
		}
		const audio = packager.timeline('audio');
		// The tone outlasts the picture by a few AAC frames, which may open one more short segment at the very end.
		expect(audio.segments.map((s) => s.msn).slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
		for (const part of audio.segments.flatMap((s) => s.parts.slice(0, -1))) {
			// Whole AAC frames: 9 × 1024 samples at 48 kHz, inside [0.85, 1] × PART-TARGET (a segment's last part may be shorter).
			expect(part.durationS).toBeCloseTo(0.192, 5);
		}
		// PDT advances with media time and never goes back across the restart.
		const pdts = video.segments.map((s) => s.pdtMs);
		for (let i = 1; i < pdts.length; i++) expect(pdts[i]).toBeGreaterThan(pdts[i - 1] as number);

		const descriptor = messages.find((m) => m.event.type === 'stream')?.event;
		expect(descriptor).toMatchObject({ descriptor: { renditions: [{ name: '360p', codecs: [expect.stringMatching(/^avc1\.[0-9a-f]{6}$/), 'mp4a.40.2'], width: 640, height: 360 }, { name: 'audio', codecs: ['mp4a.40.2'] }] } });
		const vtt = fs.readFileSync(path.join(dataDir, 'hls/pk1/subs/seg-1.vtt'), 'utf8');
		expect(vtt).toBe('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:01.000\n\n00:00:01.200 --> 00:00:02.400\nfirst cue\n\n');
	});

	it('writes a replay that ffprobe reads from the start', async () => {
		const vod = path.join(dataDir, 'hls/pk1/360p/vod.m3u8');
		const text = fs.readFileSync(vod, 'utf8');
		expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
		expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
		expect(fs.readdirSync(path.dirname(vod)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
		const { stdout } = await run('ffprobe', ['-v', 'error', '-allowed_extensions', 'ALL', '-show_entries', 'stream=codec_name,width', '-of', 'json', vod]);
		const streams = (JSON.parse(stdout) as { streams: { codec_name: string }[] }).streams.map((s) => s.codec_name).sort();
		expect(streams).toEqual(['aac', 'h264']);
		// Every segment file, behind its init section, decodes to exactly one second of frames.
		const dir = path.dirname(vod);
		for (const [init, msn] of [[0, 0], [0, 1], [0, 2], [1, 3], [1, 4]] as const) {
			const file = path.join(dataDir, `check-${msn}.mp4`);
			fs.writeFileSync(file, Buffer.concat([fs.readFileSync(path.join(dir, `init-${init}.mp4`)), fs.readFileSync(path.join(dir, `seg-${msn}.m4s`))]));
			const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
			expect(Number(stdout.trim()), `segment ${msn}`).toBe(30);
		}
	});

	it('gives each subtitle segment the duration and date of the reference segment of its number, live and in the replay', async () => {
		// Audio-only as the reference: 192 ms parts make segments of 0.960 and 1.152 s, never one segment target.
		const messages: HlsMessage[] = [];
		const packager = new Packager({
			streamId: 'pk3',
			renditions: [{ name: 'audio', kind: 'audio', bandwidth: 80_000 }],
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: true,
			sink: { publish: (message) => messages.push(message) },
			disk: new HlsDiskWriter(path.join(dataDir, 'hls'), 'pk3'),
			logger,
		});
		packager.addCue({ startS: 0.5, endS: 3.5, text: 'a long cue' });
		const plan = buildHlsEncodePlan({
			inputArgs: ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=6'],
			videoInput: '0:v', audioInput: '0:a', ladder: [{ name: 'audio', audioKbps: 64 }], partTargetMs: 200, segmentTargetMs: 1000, frameRate: 30,
		});
		const encoding = runHlsEncoder('ffmpeg', plan, packager, logger);
		// Captions turn on once the stream is described: origins get it described again, subtitles shown by default.
		await expect.poll(() => messages.filter((m) => m.event.type === 'stream').length).toBe(1);
		packager.setSubtitlesDefault(true);
		packager.setSubtitlesDefault(true);
		const result = await encoding.done;
		expect(result.code, result.stderr).toBe(0);
		await packager.end();
		const descriptors = messages.flatMap((m) => (m.event.type === 'stream' ? [m.event.descriptor.subtitlesDefault] : []));
		expect(descriptors).toEqual([false, true]);
		expect(fs.readFileSync(path.join(dataDir, 'hls/pk3/vod.m3u8'), 'utf8')).toContain('DEFAULT=YES,AUTOSELECT=YES');

		const reference = packager.timeline('audio').segments;
		expect(new Set(reference.map((s) => s.durationS.toFixed(3)))).toEqual(new Set(['0.960', '1.152', ...reference.slice(-1).map((s) => s.durationS.toFixed(3))]));
		const vtts = messages.flatMap((m) => (m.event.type === 'vtt' ? [m.event] : []));
		expect(vtts.map((e) => [e.msn, e.durationS, e.pdtMs])).toEqual(reference.map((s) => [s.msn, s.durationS, s.pdtMs]));
		// Each subtitle segment goes out as its reference segment closes: after its last part, before the next one's first.
		for (const vtt of vtts) {
			const at = messages.findIndex((m) => m.event === vtt);
			const lastPart = messages.findLastIndex((m) => m.event.type === 'part' && m.event.msn === vtt.msn);
			expect(at, `msn ${vtt.msn}`).toBeGreaterThan(lastPart);
			const nextPart = messages.findIndex((m) => m.event.type === 'part' && m.event.msn === vtt.msn + 1);
			if (nextPart >= 0) expect(at, `msn ${vtt.msn}`).toBeLessThan(nextPart);
		}
		const cued = vtts.filter((e) => messages.find((m) => m.event === e)?.bytes.toString().includes('a long cue')).map((e) => e.msn);
		expect(cued).toEqual([0, 1, 2, 3]);
		const extinfs = (file: string) => [...fs.readFileSync(path.join(dataDir, 'hls/pk3', file), 'utf8').matchAll(/#EXTINF:([\d.]+)/g)].map((m) => m[1]);
		expect(extinfs('subs/vod.m3u8')).toEqual(extinfs('audio/vod.m3u8'));
	});

	it('switches to an overlapping encoder run without a gap in parts, all renditions at one segment number', { timeout: 60_000 }, async () => {
		const published: { message: HlsMessage; atMs: number }[] = [];
		const onAir: number[] = [];
		const packager = new Packager({
			streamId: 'pk2',
			renditions: [{ name: '360p', kind: 'video', bandwidth: 800_000, frameRate: 30 }, { name: 'audio', kind: 'audio', bandwidth: 80_000 }],
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: false,
			sink: { publish: (message) => published.push({ message, atMs: Date.now() }) },
			logger,
			onRunOnAir: (run) => onAir.push(run),
		});
		// Paced (-re) like a live encode, so the two runs really overlap in time.
		const plan = buildHlsEncodePlan({
			inputArgs: ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=8', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=8'],
			videoInput: '0:v', audioInput: '1:a', ladder, partTargetMs: 200, segmentTargetMs: 1000, frameRate: 30, x264Preset: 'ultrafast',
		});
		const first = runHlsEncoder('ffmpeg', plan, packager, logger, 0);
		await expect.poll(() => onAir, { timeout: 10_000 }).toEqual([0]);
		await new Promise((resolve) => setTimeout(resolve, 2500));
		const secondStartedAt = Date.now();
		const second = runHlsEncoder('ffmpeg', plan, packager, logger, 1);
		await expect.poll(() => onAir, { timeout: 10_000 }).toEqual([0, 1]);
		// The first run keeps writing until the runner stops it; none of that reaches the stream any more.
		const switchedAt = Date.now();
		await new Promise((resolve) => setTimeout(resolve, 1000));
		first.process.kill('SIGINT');
		await first.done;
		await new Promise((resolve) => setTimeout(resolve, 1500));
		second.process.kill('SIGINT');
		await second.done;
		await packager.end();

		const parts = published.filter((p) => p.message.event.type === 'part');
		const inits = published.flatMap((p) => (p.message.event.type === 'init' ? [`${p.message.event.rendition}:${p.message.event.index}`] : []));
		expect(inits.sort()).toEqual(['360p:0', '360p:1', 'audio:0', 'audio:1']);
		// While the new run warmed up, the old one stayed on air: no gap in parts beyond normal jitter.
		for (const rendition of ['360p', 'audio']) {
			const times = parts.filter((p) => p.message.event.type === 'part' && p.message.event.rendition === rendition).map((p) => p.atMs).filter((t) => t > secondStartedAt - 1000 && t < switchedAt + 1000);
			const gaps = times.slice(1).map((t, i) => t - times[i]!);
			expect(Math.max(...gaps), rendition).toBeLessThan(700);
		}
		// One discontinuity per rendition, at the same segment number, opened by an independent part of init 1.
		const video = packager.timeline('360p').segments;
		const audio = packager.timeline('audio').segments;
		const videoSwitch = video.find((s) => s.discontinuity);
		const audioSwitch = audio.find((s) => s.discontinuity);
		expect(video.filter((s) => s.discontinuity)).toHaveLength(1);
		expect(audioSwitch?.msn).toBe(videoSwitch?.msn);
		expect(videoSwitch?.mapUri).toBe('init-1.mp4');
		expect(videoSwitch?.parts[0]?.independent).toBe(true);
		const pdts = video.map((s) => s.pdtMs);
		for (let i = 1; i < pdts.length; i++) expect(pdts[i]).toBeGreaterThan(pdts[i - 1] as number);
	});
});
