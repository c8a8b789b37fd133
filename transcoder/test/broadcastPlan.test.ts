import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { allocateUdpPortPair, buildConsumerSdp, buildRtpSenderPlan, loadIngestConfig, WorkerPool, type SdpStream } from '@tribune/ingest';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFfmpegPlan, computeLayout, defaultLadder, defaultLatency, FfmpegError, runFfmpeg, type FfmpegStats } from '../src/index.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';

function waitForBound(file: '/proc/net/udp' | '/proc/net/tcp', port: number, timeoutMs: number): Promise<void> {
	const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
	const deadline = Date.now() + timeoutMs;
	return new Promise((resolve, reject) => {
		const poll = () => {
			if (fs.readFileSync(file, 'utf8').includes(hex)) resolve();
			else if (Date.now() > deadline) reject(new Error(`nothing bound ${file} port ${port} within ${timeoutMs} ms`));
			else setTimeout(poll, 25);
		};
		poll();
	});
}

async function probe(file: string): Promise<{ streams: { codec_type: string; codec_name: string; width?: number; height?: number; channels?: number }[]; format: { duration?: string } }> {
	const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height,channels:format=duration', '-of', 'json', file]);
	return JSON.parse(stdout) as Awaited<ReturnType<typeof probe>>;
}

describe('buildFfmpegPlan() run by real ffmpeg on a live stage', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-broadcast-plan-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), pino({ level: 'warn' }));
		router = await pool.createRouter({ test: 'broadcast-plan' });
	});

	afterAll(() => {
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	/** A synthetic speaker: ffmpeg → PlainTransport producers. Returns the producers. */
	async function speaker(withVideo: boolean, toneHz: number, ssrcBase: number): Promise<types.Producer[]> {
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = withVideo ? await router.createPlainTransport(options) : undefined;
		const plan = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: ssrcBase, payloadType: 100, source: { toneHz } },
			...(videoIn && { video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: ssrcBase + 1, payloadType: 101, codec: 'VP8' as const, width: 320, height: 240, fps: 25 } }),
			durationS: 60,
		});
		const producers = [await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! })];
		if (videoIn) producers.push(await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! }));
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
		return producers;
	}

	it('composites two speakers (one with a camera, one with a hostile name) into every rendition of the ladder', async () => {
		const ada = await speaker(true, 440, 1000);
		const eve = await speaker(false, 660, 2000);

		// Consume every producer towards port pairs the broadcast ffmpeg will bind.
		const streams: SdpStream[] = [];
		const consumers: types.Consumer[] = [];
		for (const producer of [...ada, ...eve]) {
			const ports = await allocateUdpPortPair({ host: ip });
			const transport = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: false });
			await transport.connect({ ip, port: ports.rtpPort, rtcpPort: ports.rtcpPort });
			const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
			consumers.push(consumer);
			streams.push({ kind: consumer.kind, rtpParameters: consumer.rtpParameters, rtpPort: ports.rtpPort });
		}
		const sdpPath = path.join(dir, 'stage.sdp');
		fs.writeFileSync(sdpPath, buildConsumerSdp(ip, streams));

		const layout = computeLayout(
			{
				speakers: [
					{ id: 'ada', name: 'Ada Lovelace', video: true, muted: false },
					{ id: 'eve', name: "Eve'; [x],drawtext=text=%{pts}:x=0\\ $(id)", video: false, muted: false },
				],
				pinned: ['ada'],
				activeSpeakerId: 'eve',
			},
			{ width: 1280, height: 720 },
		);
		const outputs = Object.fromEntries(defaultLadder.map((r) => [r.name, path.join(dir, `${r.name}.mp4`)]));
		const controlPort = 20000 + Math.floor(Math.random() * 9000) * 2;
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, {
			composite: true,
			sdpPath,
			streams: new Map([
				['ada', { audio: 0, video: 1 }],
				['eve', { audio: 2 }],
			]),
			workDir: dir,
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			outputs,
			controlPort,
		});
		for (const file of plan.textFiles) fs.writeFileSync(file.path, file.content);

		const stop = new AbortController();
		const progress: FfmpegStats[] = [];
		const run = runFfmpeg({ plan, signal: stop.signal, logger: pino({ level: 'silent' }), onProgress: (stats) => progress.push(stats) });

		for (const s of streams) await waitForBound('/proc/net/udp', s.rtpPort, 10_000);
		for (const consumer of consumers) await consumer.resume();
		await consumers[1]!.requestKeyFrame();
		// The live control socket is up: host actions can reach the running graph without a restart.
		await waitForBound('/proc/net/tcp', controlPort, 10_000);

		await new Promise((resolve) => setTimeout(resolve, 5000));
		stop.abort();
		await run;
		// Once-a-second stats reached the job: frames and media time advance at about real time.
		expect(progress.length).toBeGreaterThanOrEqual(2);
		expect(progress.at(-1)!.frame).toBeGreaterThan(25);
		expect(progress.at(-1)!.timeS).toBeGreaterThan(progress[0]!.timeS);
		for (const file of plan.textFiles) expect(fs.readFileSync(file.path, 'utf8')).toBe(file.content);

		const hd = await probe(outputs['720p']!);
		expect(hd.streams).toEqual([
			expect.objectContaining({ codec_type: 'video', codec_name: 'h264', width: 1280, height: 720 }),
			expect.objectContaining({ codec_type: 'audio', codec_name: 'aac', channels: 2 }),
		]);
		expect(Number(hd.format.duration)).toBeGreaterThan(2);
		const sd = await probe(outputs['360p']!);
		expect(sd.streams[0]).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
		// Eve talks: her tile (482×272 at 398,432 under the pinned row) wears the active-speaker frame.
		const eveTile = layout.tiles.find((t) => t.speakerId === 'eve')!;
		const { stdout: pixel } = await execFileAsync(
			'ffmpeg',
			['-v', 'error', '-sseof', '-1', '-i', outputs['720p']!, '-frames:v', '1', '-vf', `crop=2:2:${eveTile.x + 2}:${eveTile.y + eveTile.height / 2}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
			{ encoding: 'buffer' },
		);
		const [r, g, b] = pixel;
		expect(g, `rgb(${r}, ${g}, ${b})`).toBeGreaterThan(180);
		expect(r!, `rgb(${r}, ${g}, ${b})`).toBeLessThan(g! - 40);
		const audio = await probe(outputs.audio!);
		expect(audio.streams).toEqual([expect.objectContaining({ codec_type: 'audio', codec_name: 'aac', channels: 2 })]);
		// Every rendition carries the whole run, the audio-only one included.
		expect(Number(audio.format.duration)).toBeGreaterThan(Number(hd.format.duration) - 1.5);
	});

	it('kills an ffmpeg that receives nothing at its start-up deadline and fails the run as retryable', async () => {
		const ports = await allocateUdpPortPair({ host: ip });
		const sdpPath = path.join(dir, 'silent.sdp');
		fs.writeFileSync(sdpPath, buildConsumerSdp(ip, [{ kind: 'audio', rtpPort: ports.rtpPort, rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] } }]));
		const layout = computeLayout({ speakers: [{ id: 'mute', name: 'Mute', video: false, muted: false }], pinned: [] }, { width: 1280, height: 720 });
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, {
			composite: false,
			sdpPath,
			streams: new Map([['mute', { audio: 0 }]]),
			workDir: dir,
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			outputs: { audio: path.join(dir, 'silent.mp4') },
		});
		const started = Date.now();
		// Nothing ever arrives, so ffmpeg never starts: its start-up deadline (not the stall watchdog) ends it.
		const error = await runFfmpeg({ plan, startTimeoutMs: 1500, stallTimeoutMs: 1000, logger: pino({ level: 'silent' }) }).catch((e: unknown) => e);
		ports.release();
		expect(error).toBeInstanceOf(FfmpegError);
		expect(error).toMatchObject({ kind: 'did-not-start', retryable: true, message: expect.stringMatching(/did not start: no progress within 1500 ms/) });
		expect(Date.now() - started).toBeLessThan(10_000);
	});
});
