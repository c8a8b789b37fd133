import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { computeLayout, connectRedis, runStageBroadcast, StageLinkClient, type BroadcastProgress, type Layout, type StageLinkSnapshot } from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

describe('runStageBroadcast(): the broadcast follows the stage', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-broadcast-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;
	/** Stops the broadcast (and its ffmpeg) if the test fails before it does. */
	let stopBroadcast: (() => Promise<unknown>) | undefined;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId: 'space-live' });
	});

	afterAll(async () => {
		await stopBroadcast?.();
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	/** A synthetic speaker sending a tone (and a test pattern) into the router; returns its producers. */
	async function speaker(toneHz: number, ssrc: number, video: boolean): Promise<{ audio: types.Producer; video?: types.Producer }> {
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = video ? await router.createPlainTransport(options) : undefined;
		const plan = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc, payloadType: 100, source: { toneHz } },
			...(videoIn && { video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: ssrc + 1, payloadType: 101, codec: 'VP8' as const, width: 320, height: 240, fps: 25 } }),
			durationS: 120,
		});
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		const videoProducer = videoIn && (await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! }));
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
		return { audio, ...(videoProducer && { video: videoProducer }) };
	}

	it('restarts ffmpeg when a speaker joins, follows mutes, the active speaker and a pin without a restart, and releases everything at the end', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-live' ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const ada = await speaker(440, 100, true);
		const eve = await speaker(660, 200, false);
		const snapshot = (version: number, speakers: StageLinkSnapshot['speakers'], activeSpeakerId?: string): StageLinkSnapshot => ({
			spaceId: 'space-live', node: 'node-1', version, speakers, pinned: [], ...(activeSpeakerId && { activeSpeakerId }),
		});
		const adaOnStage = { peerId: 'ada', name: 'Ada Lovelace', audioProducerId: ada.audio.id, videoProducerId: ada.video!.id, muted: false };
		const eveOnStage = { peerId: 'eve', name: 'Eve', audioProducerId: eve.audio.id, muted: false };
		await server.publishSnapshot(snapshot(1, [adaOnStage]));

		const progress: BroadcastProgress['state'][] = [];
		let restarts = 0;
		const speeds: number[] = [];
		const opened: number[] = [];
		/** What each run's composite was last moved to, live. */
		const shown = new Map<number, Layout>();
		const tileOf = (run: number, peerId: string) => shown.get(run)?.tiles.find((t) => t.speakerId === peerId);
		const stop = new AbortController();
		const workDir = path.join(dir, 'job');
		const broadcast = runStageBroadcast({
			spaceId: 'space-live',
			composite: true,
			link: client,
			sessionId: 'job-1',
			ladder: [{ name: '360p', video: { width: 640, height: 360, kbps: 600 }, audioKbps: 64 }, { name: 'audio', audioKbps: 64 }],
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 640, height: 360 },
			workDir,
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			openOutputs: async (run, renditions) => {
				opened.push(run);
				return Object.fromEntries(renditions.map((r) => [r.name, path.join(dir, `run-${run}-${r.name}.mp4`)]));
			},
			signal: stop.signal,
			onLiveLayout: (run, layout) => shown.set(run, layout),
			logger,
			reportProgress: async (p) => {
				progress.push(p.state);
				restarts = p.restarts;
				if (p.speed !== undefined) speeds.push(p.speed);
			},
		});
		stopBroadcast = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		await expect.poll(() => progress.includes('live'), { timeout: 15_000 }).toBe(true);
		// Each run consumes under its own session, released when the run ends.
		expect(server.sessions).toEqual({ 'job-1-r0': 2 });

		// Eve joins: a new run with her audio, the first run's files complete.
		await server.publishSnapshot(snapshot(2, [adaOnStage, eveOnStage]));
		await expect.poll(() => opened, { timeout: 15_000 }).toEqual([0, 1]);
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r1': 3 });
		expect(restarts).toBe(1);

		// The new run's labels got their names over the control socket. Eve talks: the frame and the dot follow her live.
		const liveCount = progress.filter((s) => s === 'live').length;
		await expect.poll(() => progress.filter((s) => s === 'live').length, { timeout: 15_000 }).toBeGreaterThan(liveCount + 1);
		await expect.poll(() => tileOf(1, 'eve')?.name, { timeout: 15_000 }).toBe('Eve');
		await server.publishSnapshot(snapshot(3, [adaOnStage, eveOnStage], 'eve'));
		await expect.poll(() => tileOf(1, 'eve')?.active, { timeout: 5000 }).toBe(true);
		await new Promise((resolve) => setTimeout(resolve, 1000));
		expect(opened).toEqual([0, 1]);

		// Eve is muted: her producer pauses at the server. The broadcast keeps going on silence, without a restart.
		await eve.audio.pause();
		await server.publishSnapshot(snapshot(4, [adaOnStage, { ...eveOnStage, muted: true }], 'ada'));
		await expect.poll(() => tileOf(1, 'eve')?.muted, { timeout: 5000 }).toBe(true);
		// The encode keeps real-time speed through the mute (a mix waiting on a silent input would drop towards 0).
		const beforeMute = speeds.length;
		await expect.poll(() => speeds.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(beforeMute + 4);
		expect(Math.min(...speeds.slice(beforeMute + 1))).toBeGreaterThan(0.8);
		await eve.audio.resume();
		await server.publishSnapshot(snapshot(5, [adaOnStage, eveOnStage], 'eve'));
		await expect.poll(() => tileOf(1, 'eve')?.muted, { timeout: 5000 }).toBe(false);

		// The host pins Eve: her tile moves to the top row and Ada's camera below, in the running encode.
		await server.publishSnapshot({ ...snapshot(6, [adaOnStage, eveOnStage], 'eve'), pinned: ['eve'] });
		await expect.poll(() => tileOf(1, 'eve')?.pinned, { timeout: 5000 }).toBe(true);
		expect(opened).toEqual([0, 1]);
		expect(restarts).toBe(1);

		// Let the frame's move reach the encoded picture before the end (checked below).
		await new Promise((resolve) => setTimeout(resolve, 1500));
		stop.abort();
		await broadcast;
		expect(progress.at(-1)).toBe('stopping');
		expect(server.sessions).toEqual({});

		const probe = async (file: string) => (await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,width', '-of', 'csv=p=0', file])).stdout.trim().split('\n').sort();
		expect(await probe(path.join(dir, 'run-0-360p.mp4'))).toEqual(['audio', 'video,640']);
		expect(await probe(path.join(dir, 'run-1-360p.mp4'))).toEqual(['audio', 'video,640']);
		expect(await probe(path.join(dir, 'run-1-audio.mp4'))).toEqual(['audio']);
		// The audio-only rendition lasts the whole run, the mute included.
		const duration = async (file: string) => Number((await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(dir, file)])).stdout);
		expect(await duration('run-1-audio.mp4')).toBeGreaterThan((await duration('run-1-360p.mp4')) - 1.5);

		// The active-speaker frame followed Eve live (through ffmpeg's zmq filter), and so did the pin: the last picture
		// of the second run has the frame on the edge of her tile in the top row, not on Ada's below.
		const layout = computeLayout({ speakers: [adaOnStage, eveOnStage].map((s) => ({ id: s.peerId, name: s.name, video: 'videoProducerId' in s, muted: false })), pinned: ['eve'] }, { width: 640, height: 360 });
		expect(layout.tiles[0]).toMatchObject({ speakerId: 'eve', y: 16 });
		const { stdout: last } = await execFileAsync('ffmpeg', ['-v', 'error', '-sseof', '-0.3', '-i', path.join(dir, 'run-1-360p.mp4'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 24 });
		const edgeColour = (peerId: string): number[] => {
			const tile = layout.tiles.find((t) => t.speakerId === peerId)!;
			const offset = ((tile.y + Math.round(tile.height / 2)) * 640 + tile.x + 2) * 3;
			return [last[offset]!, last[offset + 1]!, last[offset + 2]!];
		};
		const isHighlight = ([r, g, b]: number[]) => Math.abs(r! - 0x6e) < 40 && Math.abs(g! - 0xe7) < 40 && Math.abs(b! - 0xa8) < 40;
		expect(isHighlight(edgeColour('eve')), `Eve's tile edge ${edgeColour('eve').join(',')}`).toBe(true);
		expect(isHighlight(edgeColour('ada')), `Ada's tile edge ${edgeColour('ada').join(',')}`).toBe(false);

		await client.close();
		server.close();
		redis.disconnect();
	});
});
