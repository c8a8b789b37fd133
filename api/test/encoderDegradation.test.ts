import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import {
	connectRedis, defaultLadder, Packager, runStageBroadcast, SocketOutputs, StageLinkClient, type BroadcastProgress, type HlsEvent, type HlsMessage,
} from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
type Part = Extract<HlsEvent, { type: 'part' }>;

/**
 * Deliberate degradation through the make-before-break switch, with a real standing encode of the default ladder
 * (720p, 360p, audio) of a speaker with a camera: a policy no live encode can satisfy (speed 2×) sheds the first
 * level a few seconds in. The run of level 1 encodes 360p and audio only; the packager is fed its 360p output as the
 * 720p rendition too. Every rendition goes on publishing parts across the switch (one discontinuity, no gap segment,
 * no hole in the program-date-times), and the 720p rendition then carries 640x360 pictures.
 */
describe('runStageBroadcast(): shedding the 720p encode', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-degradation-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;
	let stopBroadcast: (() => Promise<unknown>) | undefined;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId: 'space-shed' });
	});

	afterAll(async () => {
		await stopBroadcast?.();
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('puts a run without the 720p encode on air with no gap: 720p carries the 360p pictures', { timeout: 60_000 }, async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-shed' ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = await router.createPlainTransport(options);
		const sender = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 100, payloadType: 100, source: { toneHz: 440 } },
			video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: 101, payloadType: 101, codec: 'VP8', width: 320, height: 240, fps: 25, pattern: { colour: '#d02020' } },
			durationS: 60,
		});
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: sender.audioRtpParameters! });
		const video = await videoIn.produce({ kind: 'video', rtpParameters: sender.videoRtpParameters! });
		processes.push(spawn('ffmpeg', sender.args, { stdio: 'ignore' }));
		await server.publishSnapshot({
			spaceId: 'space-shed', node: 'node-1', version: 1, pinned: [],
			speakers: [{ peerId: 'ada', name: 'Ada', audioProducerId: audio.id, videoProducerId: video.id, muted: false }],
		});

		const messages: { at: number; message: HlsMessage }[] = [];
		const onAir: number[] = [];
		const packager = new Packager({
			streamId: 'space-shed',
			renditions: defaultLadder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: 1_000_000 })),
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: false,
			sink: { publish: (message) => messages.push({ at: Date.now(), message }) },
			onRunOnAir: (run) => onAir.push(run),
			logger,
		});
		const workDir = path.join(dir, 'job');
		fs.mkdirSync(workDir);
		const outputs = new SocketOutputs(packager, workDir, logger);
		const progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>[] = [];
		const stop = new AbortController();
		const broadcast = runStageBroadcast({
			spaceId: 'space-shed',
			composite: true,
			link: client,
			sessionId: 'job-shed',
			ladder: defaultLadder,
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 1280, height: 720 },
			workDir,
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			openOutputs: (run, renditions, servedFrom) => outputs.open(run, renditions, servedFrom),
			outputBytes: (run) => outputs.bytesOf(run),
			onAir: async (run, signal) => {
				await expect.poll(() => signal.aborted || onAir.some((n) => n >= run), { timeout: 60_000, interval: 50 }).toBe(true);
				if (signal.aborted) throw new Error('stopped before it went on air');
			},
			// Shed as soon as judged: no live encode reaches 2× real time. Level 1 at most.
			degradation: { policy: { shedBelowSpeed: 2, shedAfterMs: 1000, settleMs: 3000 }, maxLevel: 1 },
			signal: stop.signal,
			logger,
			reportProgress: async (p) => void progress.push(p),
		});
		stopBroadcast = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		await expect.poll(() => onAir, { timeout: 30_000 }).toEqual([0, 1]);
		await expect.poll(() => progress.at(-1), { timeout: 5000 }).toMatchObject({ state: 'live', level: 1, shed: ['720p'] });
		const switchedAt = messages.findLast((m) => m.message.event.type === 'init')!.at;
		// Three seconds of level 1 on air.
		await new Promise((resolve) => setTimeout(resolve, 3000));
		stop.abort();
		await broadcast;
		await outputs.close();
		await packager.end();

		expect(progress.filter((p) => p.state === 'restarting')).toEqual([]);
		expect(progress.every((p) => p.restarts === 0)).toBe(true);
		expect(progress.some((p) => p.state === 'live' && p.level === 0 && p.health !== undefined)).toBe(true);
		const events = messages.map((m) => m.message.event);
		expect(events.filter((e) => e.type === 'gap')).toEqual([]);
		for (const rendition of ['720p', '360p', 'audio']) {
			const parts = messages.filter((m): m is { at: number; message: { event: Part; bytes: Buffer } } => m.message.event.type === 'part' && m.message.event.rendition === rendition);
			const before = parts.filter((p) => p.at < switchedAt);
			const after = parts.filter((p) => p.at >= switchedAt);
			expect(before.length, `${rendition} parts before the switch`).toBeGreaterThan(10);
			expect(after.length, `${rendition} parts after the switch`).toBeGreaterThan(10);
			// One discontinuity, at the new run's init section; its first segment starts where the last one ended.
			const segments = parts.flatMap((p) => (p.message.event.segment ? [{ msn: p.message.event.msn, ...p.message.event.segment }] : []));
			const breaks = segments.filter((s) => s.discontinuity);
			expect(breaks.map((s) => s.initIndex), rendition).toEqual([1]);
			const at = segments.indexOf(breaks[0]!);
			const previous = segments[at - 1]!;
			const previousEnd = previous.pdtMs + parts.filter((p) => p.message.event.msn === previous.msn).reduce((sum, p) => sum + p.message.event.durationS * 1000, 0);
			expect(breaks[0]!.msn, rendition).toBe(previous.msn + 1);
			expect(Math.abs(breaks[0]!.pdtMs - previousEnd), `${rendition}: program-date-time across the switch`).toBeLessThan(1000);
		}

		// The pictures: each run's init section and first segment after it, decoded.
		const size = async (rendition: string, initIndex: number): Promise<string> => {
			const init = messages.find((m) => m.message.event.type === 'init' && m.message.event.rendition === rendition && m.message.event.index === initIndex)!;
			const parts = messages.filter((m) => m.message.event.type === 'part' && m.message.event.rendition === rendition && m.at >= init.at).slice(0, 10);
			const file = path.join(dir, `${rendition}-${initIndex}.mp4`);
			fs.writeFileSync(file, Buffer.concat([init.message.bytes, ...parts.map((p) => p.message.bytes)]));
			const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]);
			return stdout.trim();
		};
		expect(await size('720p', 0)).toBe('1280,720');
		expect(await size('720p', 1)).toBe('640,360');
		expect(await size('360p', 1)).toBe('640,360');

		await client.close();
		server.close();
		redis.disconnect();
	});
});
