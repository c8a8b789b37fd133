import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { connectRedis, defaultLadder, defaultLatency, runStageBroadcast, StageLinkClient, type StageLinkSnapshot } from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { commandOf, descendants } from './support/processes.js';
import { speechWav } from './support/speechWav.js';

/**
 * `npm run bench:composite`: what the broadcast ffmpeg costs. For 1, 4 and 9 speakers on camera (the default ladder:
 * 720p + 360p + audio, 1280×720 canvas, 25 fps, 200 ms parts, 1 s segments) and for 13 audio-only speakers (the
 * audio rendition only), it runs `runStageBroadcast()` against a real mediasoup router through the stage link, as a
 * transcoder does, and measures over a steady window after a warm-up:
 * - `<config>_cores`: the broadcast ffmpeg's CPU (utime + stime of all its threads, /proc/<pid>/stat) per wall second;
 * - `<config>_speed`: media time ffmpeg wrote per wall second in the window (1.0 = keeping up with the stage; above
 *   1.0 it was catching up on a backlog): the slope through the audio rendition's fragment times (tfdt), read every
 *   200 ms. `<config>_ffmpeg_speed` is ffmpeg's own figure at the end, counted from its start (warm-up included);
 * - `<config>_senders_cores`, `_mediasoup_cores`, `_relay_cores`: the synthetic speakers, the mediasoup worker, and
 *   this process (stage link, Opus gap fillers), reported apart from the goal;
 * - `video4_goal_met`, `audio13_goal_met`: the goals (4 on camera ≥ 1.0× using ≤ 1.0 core, the speed within
 *   its measuring resolution; 13 audio-only ≤ 0.15 core).
 * Speakers are cheap: one VP8 camera clip and an Opus speech clip per speaker are encoded once, then replayed in real
 * time with `-c copy`, so nine live VP8 encoders do not compete with the ffmpeg being measured. Renditions go to
 * files in a temporary directory (the packager is not part of this measurement). Writes a JSON summary to
 * TRIBUNE_BENCH_OUT. Skipped unless TRIBUNE_BENCH=1.
 */
const warmupMs = Number(process.env.TRIBUNE_BENCH_WARMUP_MS ?? 5000);
const measureMs = Number(process.env.TRIBUNE_BENCH_MEASURE_MS ?? 20_000);
/** Comma-separated subset of the configurations, for tuning one at a time. Default: all. */
const only = process.env.TRIBUNE_BENCH_CONFIGS?.split(',');

interface BenchConfig {
	name: string;
	speakers: number;
	video: boolean;
}

const configs: BenchConfig[] = [
	{ name: 'video1', speakers: 1, video: true },
	{ name: 'video4', speakers: 4, video: true },
	{ name: 'video9', speakers: 9, video: true },
	{ name: 'audio13', speakers: 13, video: false },
].filter((c) => !only || only.includes(c.name));

/** The goals on a 2-core machine. */
const goals = { video4: { minSpeed: 1.0, maxCores: 1.0 }, audio13: { maxCores: 0.15 } };
/** How close to 1.0 a keeping-up speed measures: fragments are 192 ms apart, read every 200 ms over the window. */
const speedResolution = 0.005;

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: 'silent' });
const fontFile = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
/** Clip length, s; senders loop their clips. */
const clipS = 12;
/** espeak-ng voices, one per speaker, so the mix holds distinct voices. */
const voices = ['en+m1', 'en+f1', 'en+m3', 'en+f2', 'en+m5', 'en+f3', 'en+m7', 'en+f4', 'en+m2', 'en+f5', 'en+m4', 'en+m6', 'en'];
const sentence = 'Welcome to the stage. Today we talk about keeping a live space in sync for every listener, and what it costs.';
const children: ChildProcess[] = [];
// Set up in beforeAll, so that a skipped bench (npm test) leaves nothing behind.
let clockTicks = 100;
let dir = '';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/** Fields of /proc/<pid>/stat after the parenthesised command name; index 0 is field 3 (state). */
function statFields(pid: number): string[] {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system, every thread) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
	try {
		const fields = statFields(pid);
		return (Number(fields[11]) + Number(fields[12])) / clockTicks;
	} catch {
		return 0;
	}
}

function threadsOf(pid: number): number {
	return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** The timescale (ticks per second) of a single-track fragmented MP4, from its moov's mdhd; undefined before it is written. */
function mp4Timescale(file: string): number | undefined {
	const fd = fs.openSync(file, 'r');
	const head = Buffer.alloc(4096);
	const length = fs.readSync(fd, head, 0, head.length, 0);
	fs.closeSync(fd);
	const at = head.indexOf('mdhd');
	if (at < 0 || at + 28 > length) return undefined;
	// After version and flags: creation and modification times (4 bytes each, 8 in version 1), then the timescale.
	return head.readUInt32BE(at + (head[at + 4] === 1 ? 24 : 16));
}

/** Media time, s, at which the last fragment written to a single-track fragmented MP4 starts (its tfdt). */
function lastFragmentS(file: string, timescale: number): number | undefined {
	const fd = fs.openSync(file, 'r');
	try {
		const size = fs.fstatSync(fd).size;
		const tail = Buffer.alloc(Math.min(size, 64 * 1024));
		fs.readSync(fd, tail, 0, tail.length, size - tail.length);
		const at = tail.lastIndexOf('tfdt');
		if (at < 0 || at + 16 > tail.length) return undefined;
		return (tail[at + 4] === 1 ? Number(tail.readBigUInt64BE(at + 8)) : tail.readUInt32BE(at + 8)) / timescale;
	} finally {
		fs.closeSync(fd);
	}
}

/** Slope of the least-squares line through (wall s, media s) points: media time written per wall second. */
function slope(points: readonly (readonly [number, number])[]): number {
	const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
	const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
	const sxy = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
	const sxx = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
	return sxy / sxx;
}

/** One speaker's voice: speech in its own voice from its own offset, padded to the clip length (Opus). */
async function encodeVoice(index: number): Promise<string> {
	const file = path.join(dir, `voice-${index}.webm`);
	const speech = speechWav(dir, `speech-${index}`, sentence, voices[index % voices.length]);
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-i', speech, '-af', `adelay=${(index * 700) % 5000},apad`,
		'-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip', '-t', String(clipS), file,
	]);
	return file;
}

/**
 * The camera every video speaker sends: a moving 640×360 test pattern (a browser speaker's camera size) in VP8 with a
 * keyframe every second. One clip for all, as decoding costs the same whatever the picture.
 */
async function encodeCamera(): Promise<string> {
	const file = path.join(dir, 'camera.webm');
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
		'-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', '25', '-keyint_min', '25', '-t', String(clipS), file,
	]);
	return file;
}

/** RTP output arguments towards a comedia PlainTransport; the output stops by itself after `durationS`. */
function rtpOutput(map: string, transport: types.PlainTransport, ssrc: number, payloadType: number, durationS: number): string[] {
	return [
		'-map', map, '-c', 'copy', '-t', String(durationS), '-ssrc', String(ssrc), '-payload_type', String(payloadType),
		'-f', 'rtp', `rtp://${ip}:${transport.tuple.localPort}?rtcpport=${transport.rtcpTuple!.localPort}&pkt_size=1200`,
	];
}

interface Clips {
	camera: string;
	voices: string[];
}

/** Puts a configuration's speakers on a router: producers on PlainTransports, fed by `-c copy` senders. */
async function startSpeakers(router: types.Router, config: BenchConfig, clips: Clips): Promise<{ speakers: StageLinkSnapshot['speakers']; senders: ChildProcess[] }> {
	const speakers: StageLinkSnapshot['speakers'] = [];
	const senders: ChildProcess[] = [];
	// Every sender stops by itself after the run, even if this test dies without cleaning up.
	const boundS = Math.ceil((warmupMs + measureMs) / 1000) + 60;
	const options = { listenIp: ip, rtcpMux: false, comedia: true };
	const opus = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } };
	for (let i = 0; i < config.speakers; i++) {
		const audioIn = await router.createPlainTransport(options);
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: { codecs: [opus], encodings: [{ ssrc: 1000 + 2 * i }] } });
		const args = ['-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clips.voices[i]!];
		let videoProducerId: string | undefined;
		if (config.video) {
			const videoIn = await router.createPlainTransport(options);
			const video = await videoIn.produce({ kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1001 + 2 * i }] } });
			videoProducerId = video.id;
			args.push('-re', '-stream_loop', '-1', '-i', clips.camera, ...rtpOutput('1:v:0', videoIn, 1001 + 2 * i, 101, boundS));
		}
		args.push(...rtpOutput('0:a:0', audioIn, 1000 + 2 * i, 100, boundS));
		const sender = spawn('ffmpeg', args, { stdio: 'ignore' });
		senders.push(sender);
		children.push(sender);
		speakers.push({ peerId: `speaker-${i}`, name: `Speaker ${i + 1}`, audioProducerId: audio.id, ...(videoProducerId && { videoProducerId }), muted: false });
		// Spread the cameras' keyframes over the second, as real speakers' are.
		if (config.video) await sleep(1000 / config.speakers);
	}
	return { speakers, senders };
}

interface Stage {
	pool: WorkerPool;
	server: StageLinkServer;
	client: StageLinkClient;
	routers: Map<string, types.Router>;
}

/** Broadcasts one configuration and measures it; returns its `<config>_…` figures. */
async function measure(stage: Stage, config: BenchConfig, clips: Clips): Promise<Record<string, unknown>> {
	const spaceId = `bench-${config.name}`;
	const router = await stage.pool.createRouter({ spaceId });
	stage.routers.set(spaceId, router);
	const { speakers, senders } = await startSpeakers(router, config, clips);
	await stage.server.publishSnapshot({ spaceId, node: 'node-1', version: 1, speakers, pinned: [], activeSpeakerId: 'speaker-0' });

	let speed: number | undefined;
	let restarts = 0;
	let run = 0;
	const stop = new AbortController();
	const outputs = path.join(dir, config.name);
	fs.mkdirSync(outputs);
	const broadcast = runStageBroadcast({
		spaceId,
		composite: config.video,
		link: stage.client,
		sessionId: spaceId,
		ladder: defaultLadder,
		latency: defaultLatency,
		canvas: { width: 1280, height: 720 },
		workDir: path.join(outputs, 'work'),
		fontFile,
		openOutputs: async (n, renditions) => {
			run = n;
			return Object.fromEntries(renditions.map((r) => [r.name, path.join(outputs, `run-${n}-${r.name}.mp4`)]));
		},
		signal: stop.signal,
		logger,
		reportProgress: async (progress) => {
			restarts = progress.restarts;
			if (progress.state === 'live' && progress.speed !== undefined) speed = progress.speed;
		},
	});
	const figures: Record<string, unknown> = {};
	try {
		for (let i = 0; i < 300 && speed === undefined; i++) await sleep(100);
		// This configuration's broadcast ffmpeg: the one reading an SDP from its work directory.
		const [ffmpeg] = descendants(process.pid).filter((pid) => /ffmpeg .*-f sdp/.test(commandOf(pid)) && commandOf(pid).includes(outputs));
		expect(ffmpeg, `${config.name}: the broadcast ffmpeg runs and reports progress`).toBeDefined();
		await sleep(warmupMs);
		// Speed from what ffmpeg wrote: the audio rendition's fragment times, read every 200 ms (one part).
		const audioFile = path.join(outputs, `run-${run}-audio.mp4`);
		const timescale = mp4Timescale(audioFile);
		expect(timescale, `${config.name}: the audio rendition has started`).toBeGreaterThan(0);

		const snapshot = () => ({
			atMs: Date.now(),
			ffmpeg: cpuSeconds(ffmpeg!),
			senders: senders.reduce((sum, s) => sum + cpuSeconds(s.pid!), 0),
			mediasoup: stage.pool.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
			relay: process.cpuUsage(),
			restarts,
		});
		const start = snapshot();
		const written: [number, number][] = [];
		for (let i = 0; i < measureMs / 200 && Date.now() - start.atMs < measureMs; i++) {
			const mediaS = lastFragmentS(audioFile, timescale!);
			if (mediaS !== undefined) written.push([(Date.now() - start.atMs) / 1000, mediaS]);
			await sleep(200);
		}
		const end = snapshot();
		expect(end.restarts, `${config.name}: one ffmpeg run for the whole window`).toBe(start.restarts);
		expect(written.length, `${config.name}: fragments read in the window`).toBeGreaterThan(measureMs / 400);
		const wallS = (end.atMs - start.atMs) / 1000;
		const cores = (from: number, to: number) => round((to - from) / wallS);
		Object.assign(figures, {
			[`${config.name}_cores`]: cores(start.ffmpeg, end.ffmpeg),
			[`${config.name}_speed`]: round(slope(written)),
			// ffmpeg's own figure: media time over time since it started, warm-up included.
			[`${config.name}_ffmpeg_speed`]: speed,
			[`${config.name}_senders_cores`]: cores(start.senders, end.senders),
			[`${config.name}_mediasoup_cores`]: cores(start.mediasoup, end.mediasoup),
			[`${config.name}_relay_cores`]: cores(0, (end.relay.user + end.relay.system - start.relay.user - start.relay.system) / 1e6),
			[`${config.name}_ffmpeg_threads`]: threadsOf(ffmpeg!),
			[`${config.name}_loadavg_end`]: loadavg(),
		});
	} finally {
		stop.abort();
		await broadcast;
		for (const sender of senders) sender.kill('SIGKILL');
		router.close();
		stage.routers.delete(spaceId);
	}
	figures[`${config.name}_output_kbps`] = await outputRates(outputs, config);
	fs.rmSync(outputs, { recursive: true, force: true });
	return figures;
}

/** The renditions are real: each was written as media lasting the window, at about its bit rate (kbit/s). */
async function outputRates(outputs: string, config: BenchConfig): Promise<Record<string, number>> {
	const kbps: Record<string, number> = {};
	for (const file of fs.readdirSync(outputs).filter((f) => f.endsWith('.mp4'))) {
		const media = path.join(outputs, file);
		const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', media]);
		expect(Number(stdout), `${config.name}: ${file} lasts the window`).toBeGreaterThan(measureMs / 1000);
		kbps[file.replace(/^run-\d+-|\.mp4$/g, '')] = Math.round((fs.statSync(media).size * 8) / 1000 / Number(stdout));
	}
	expect(Object.keys(kbps).sort()).toEqual(config.video ? ['360p', '720p', 'audio'] : ['audio']);
	return kbps;
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('broadcast composite CPU bench', () => {
	beforeAll(() => {
		clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-composite-'));
	});

	afterAll(() => {
		for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	it('measures the broadcast ffmpeg for 1, 4 and 9 speakers on camera and 13 audio-only speakers', { timeout: 900_000 }, async () => {
		const loadavgBefore = loadavg();
		const maxSpeakers = Math.max(...configs.map((c) => c.speakers));
		const clips = { camera: await encodeCamera(), voices: await Promise.all(Array.from({ length: maxSpeakers }, (_, i) => encodeVoice(i))) };

		const pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		const redis = connectRedis(inject('redisUrl'), 'bench');
		const prefix = `bench-${randomUUID()}`;
		const routers = new Map<string, types.Router>();
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => routers.get(id) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const figures: Record<string, unknown> = {};
		try {
			for (const config of configs) Object.assign(figures, await measure({ pool, server, client, routers }, config, clips));
		} finally {
			await client.close();
			server.close();
			redis.disconnect();
			pool.close();
		}

		// Headline figures first, then the goals, then the details.
		const headline = Object.fromEntries(configs.flatMap((c) => [`${c.name}_cores`, `${c.name}_speed`, `${c.name}_senders_cores`].map((key) => [key, figures[key]])));
		const met: Record<string, boolean> = {};
		if (figures.video4_cores !== undefined) {
			met.video4_goal_met = (figures.video4_speed as number) >= goals.video4.minSpeed - speedResolution && (figures.video4_cores as number) <= goals.video4.maxCores;
		}
		if (figures.audio13_cores !== undefined) met.audio13_goal_met = (figures.audio13_cores as number) <= goals.audio13.maxCores;
		const result = { ...headline, ...met, loadavg_before: loadavgBefore, cores_online: os.cpus().length, warmup_ms: warmupMs, measure_ms: measureMs, ...figures };
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);
		for (const config of configs) expect(figures[`${config.name}_speed`]).toBeGreaterThan(0);
	});
});
