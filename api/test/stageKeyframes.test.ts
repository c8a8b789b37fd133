import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { connectRedis, runStageBroadcast, StageLinkClient, type BroadcastProgress } from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { startPliCamera, type PliCamera } from './support/pliCamera.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** The runs' log, read for ffmpeg's own word that its outputs started (every input decoded a frame). */
const runLog: string[] = [];
const runLogger = pino({ level: 'debug' }, { write: (line: string) => void runLog.push(line) });

describe('runStageBroadcast(): the first run', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-keyframes-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;
	let camera: PliCamera | undefined;
	let stopBroadcast: (() => Promise<unknown>) | undefined;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId: 'space-kf' });
	});

	afterAll(async () => {
		await stopBroadcast?.();
		camera?.close();
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('keeps asking for keyframes until a camera whose first keyframes are lost shows in its slot, without a restart', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-kf' ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		// A browser-like camera (keyframes only when asked) that leaves the first two requests unanswered: the one the
		// consumer's resume makes, and the one mediasoup retries by itself after a second. One more is needed.
		camera = await startPliCamera(router, { dir, ssrc: 500, ignoreRequests: 2 });
		const audioIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
		const plan = buildRtpSenderPlan({ audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 400, payloadType: 100, source: { toneHz: 440 } }, durationS: 120 });
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
		// The camera's first keyframe goes out before anyone consumes it.
		await new Promise((resolve) => setTimeout(resolve, 500));
		await server.publishSnapshot({
			spaceId: 'space-kf', node: 'node-1', version: 1, pinned: [],
			speakers: [{ peerId: 'ada', name: 'Ada', audioProducerId: audio.id, videoProducerId: camera.producer.id, muted: false }],
		});

		const progress: BroadcastProgress['state'][] = [];
		const opened: number[] = [];
		let cameraShown = false;
		const stop = new AbortController();
		const output = path.join(dir, 'run-0-360p.mp4');
		const broadcast = runStageBroadcast({
			spaceId: 'space-kf',
			composite: true,
			link: client,
			sessionId: 'job-kf',
			ladder: [{ name: '360p', video: { width: 640, height: 360, kbps: 600 }, audioKbps: 64 }],
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 640, height: 360 },
			workDir: path.join(dir, 'job'),
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			// Longer than the test waits: the run must start by itself, not by being replaced after a stall.
			stallTimeoutMs: 60_000,
			openOutputs: async (run, renditions) => {
				opened.push(run);
				return Object.fromEntries(renditions.map((r) => [r.name, path.join(dir, `run-${run}-${r.name}.mp4`)]));
			},
			signal: stop.signal,
			onLiveLayout: (_run, layout) => void (cameraShown ||= layout.tiles.some((t) => t.speakerId === 'ada' && t.video)),
			logger: runLogger,
			reportProgress: async (p) => void progress.push(p.state),
		});
		stopBroadcast = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		// The encode starts at once on its slots' filler pictures; Ada's tile shows her camera only once her slot's relay
		// passed a keyframe, which takes a third request. Generous, for load.
		await expect.poll(() => runLog.some((line) => line.includes('ffmpeg outputs started')), { timeout: 30_000, interval: 250 }).toBe(true);
		await expect.poll(() => cameraShown, { timeout: 30_000, interval: 250 }).toBe(true);
		const size = () => (fs.existsSync(output) ? fs.statSync(output).size : 0);
		await expect.poll(size, { timeout: 30_000, interval: 250 }).toBeGreaterThan(20_000);
		expect(camera.requests).toBeGreaterThanOrEqual(3);
		expect(camera.answered).toBeGreaterThanOrEqual(1);
		stop.abort();
		await broadcast;
		expect(opened).toEqual([0]);
		expect(progress).not.toContain('restarting');
		const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', output]);
		expect(Number(stdout.trim())).toBeGreaterThan(10);

		await client.close();
		server.close();
		redis.disconnect();
	}, 90_000);

	it('starts the first run afresh for a stage that outgrew it, rather than two encoders at once', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-kf' ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const audioIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
		const plan = buildRtpSenderPlan({ audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 600, payloadType: 100, source: { toneHz: 440 } }, durationS: 120 });
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
		const speaker = (i: number) => ({ peerId: `s${i}`, name: `Speaker ${i}`, audioProducerId: audio.id, muted: false });
		await server.publishSnapshot({ spaceId: 'space-kf', node: 'node-1', version: 1, pinned: [], speakers: [speaker(0)] });

		// Runs go on air only when the test says so, as a packager that has no part of theirs yet.
		const runSignals = new Map<number, AbortSignal>();
		const putOnAir = new Set<number>();
		const progress: string[] = [];
		const stop = new AbortController();
		const broadcast = runStageBroadcast({
			spaceId: 'space-kf',
			composite: false,
			link: client,
			sessionId: 'job-first-run',
			ladder: [{ name: 'audio', audioKbps: 64 }],
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 640, height: 360 },
			workDir: path.join(dir, 'job-first-run'),
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			openOutputs: async (run, renditions) => Object.fromEntries(renditions.map((r) => [r.name, path.join(dir, `first-run-${run}-${r.name}.mp4`)])),
			onAir: async (run, signal) => {
				runSignals.set(run, signal);
				await expect.poll(() => signal.aborted || putOnAir.has(run), { timeout: 60_000, interval: 50 }).toBe(true);
				if (signal.aborted) throw new Error('stopped before it went on air');
			},
			signal: stop.signal,
			logger,
			reportProgress: async (p) => void progress.push(p.state),
		});
		stopBroadcast = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		await expect.poll(() => runSignals.has(0), { timeout: 30_000, interval: 50 }).toBe(true);
		// Six more speakers than its slots (one speaker: six) before run 0 is on air: run 1 for all of them replaces it
		// at once, run 0 given up (its encoder stopped) rather than kept until run 1 could take over from it.
		await server.publishSnapshot({ spaceId: 'space-kf', node: 'node-1', version: 2, pinned: [], speakers: Array.from({ length: 7 }, (_, i) => speaker(i)) });
		await expect.poll(() => runSignals.has(1), { timeout: 30_000, interval: 50 }).toBe(true);
		await expect.poll(() => runSignals.get(0)!.aborted, { timeout: 10_000, interval: 50 }).toBe(true);
		expect(runSignals.get(1)!.aborted).toBe(false);
		// Run 1 goes on air and stays: the broadcast goes on with it.
		putOnAir.add(1);
		await new Promise((resolve) => setTimeout(resolve, 1000));
		expect(runSignals.get(1)!.aborted).toBe(false);
		expect([...runSignals.keys()]).toEqual([0, 1]);
		// The host saw the broadcast starting, then live: nothing on air had restarted.
		expect(progress).not.toContain('restarting');
		expect(progress).toContain('starting');
		stop.abort();
		await broadcast;

		await client.close();
		server.close();
		redis.disconnect();
	}, 90_000);
});
