import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { connectRedis, runStageBroadcast, StageLinkClient } from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';

const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

describe('runStageBroadcast(): speakers joining before the first run is on air', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-first-run-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;
	let stopBroadcast: (() => Promise<unknown>) | undefined;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId: 'space-first' });
	});

	afterAll(async () => {
		await stopBroadcast?.();
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('starts the first run afresh for a stage that outgrew it, rather than two encoders at once', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-first' ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const audioIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
		const plan = buildRtpSenderPlan({ audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 600, payloadType: 100, source: { toneHz: 440 } }, durationS: 120 });
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
		const speaker = (i: number) => ({ peerId: `s${i}`, name: `Speaker ${i}`, audioProducerId: audio.id, muted: false });
		await server.publishSnapshot({ spaceId: 'space-first', node: 'node-1', version: 1, pinned: [], speakers: [speaker(0)] });

		// Runs go on air only when the test says so, as a packager that has no part of theirs yet.
		const runSignals = new Map<number, AbortSignal>();
		let putOnAir: number | undefined;
		const stop = new AbortController();
		const broadcast = runStageBroadcast({
			spaceId: 'space-first',
			composite: false,
			link: client,
			sessionId: 'job-first',
			ladder: [{ name: 'audio', audioKbps: 64 }],
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 640, height: 360 },
			workDir: path.join(dir, 'job'),
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			openOutputs: async (run, renditions) => Object.fromEntries(renditions.map((r) => [r.name, path.join(dir, `run-${run}-${r.name}.mp4`)])),
			onAir: async (run, signal) => {
				runSignals.set(run, signal);
				await expect.poll(() => signal.aborted || putOnAir === run, { timeout: 60_000, interval: 50 }).toBe(true);
				if (signal.aborted) throw new Error('stopped before it went on air');
			},
			signal: stop.signal,
			logger,
			reportProgress: async () => {},
		});
		stopBroadcast = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		await expect.poll(() => runSignals.has(0), { timeout: 30_000, interval: 50 }).toBe(true);
		// Six more speakers than its slots (one speaker: six) before run 0 is on air: run 1 for all of them replaces it
		// at once, run 0 given up (its encoder stopped) rather than kept until run 1 could take over from it.
		await server.publishSnapshot({ spaceId: 'space-first', node: 'node-1', version: 2, pinned: [], speakers: Array.from({ length: 7 }, (_, i) => speaker(i)) });
		await expect.poll(() => runSignals.has(1), { timeout: 30_000, interval: 50 }).toBe(true);
		await expect.poll(() => runSignals.get(0)!.aborted, { timeout: 10_000, interval: 50 }).toBe(true);
		expect(runSignals.get(1)!.aborted).toBe(false);
		// Run 1 goes on air and stays: the broadcast goes on with it.
		putOnAir = 1;
		await new Promise((resolve) => setTimeout(resolve, 1000));
		expect(runSignals.get(1)!.aborted).toBe(false);
		expect([...runSignals.keys()]).toEqual([0, 1]);
		stop.abort();
		await broadcast;

		await client.close();
		server.close();
		redis.disconnect();
	}, 90_000);
});
