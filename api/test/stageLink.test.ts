import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { allocateUdpPortPair, buildConsumerSdp, buildRtpSenderPlan, loadIngestConfig, waitForUdpPortsBound, WorkerPool } from '@tribune/ingest';
import { connectRedis, StageLinkClient, StageLinkError, type StageLinkSnapshot } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: 'silent' });


describe('stage link: a transcoder consumes a stage hosted by an API node, over Redis', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-link-'));
	const processes: ChildProcess[] = [];
	const cleanups: (() => unknown)[] = [];
	let pool: WorkerPool;
	let router: types.Router;
	let producers: types.Producer[];

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId: 'space-a' });
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = await router.createPlainTransport(options);
		const plan = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 31, payloadType: 100, source: { toneHz: 500 } },
			video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: 32, payloadType: 101, codec: 'VP8', width: 320, height: 240, fps: 25 },
			durationS: 60,
		});
		producers = [
			await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! }),
			await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! }),
		];
		processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
	});

	afterEach(async () => {
		for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
	});

	afterAll(() => {
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	async function link(leaseMs?: number): Promise<{ redis: Redis; server: StageLinkServer; client: StageLinkClient; prefix: string }> {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-a' ? router : undefined) }, logger, ...(leaseMs && { leaseMs }) });
		const client = await StageLinkClient.create(redis, prefix);
		cleanups.push(() => redis.disconnect(), () => server.close(), () => client.close());
		return { redis, server, client, prefix };
	}

	it('publishes stage snapshots that a transcoder reads and watches, ignoring stale versions', async () => {
		const { server, client } = await link();
		const snapshot = (version: number, activeSpeakerId?: string): StageLinkSnapshot => ({
			spaceId: 'space-a',
			node: 'node-1',
			version,
			speakers: [{ peerId: 'ada', name: 'Ada', audioProducerId: producers[0]!.id, videoProducerId: producers[1]!.id, muted: false }],
			pinned: [],
			...(activeSpeakerId && { activeSpeakerId }),
		});
		expect(await client.snapshot('space-a')).toBeUndefined();
		const seen: number[] = [];
		const unwatch = await client.watch('space-a', (s) => seen.push(s.version));
		await server.publishSnapshot(snapshot(1));
		await server.publishSnapshot(snapshot(3, 'ada'));
		await server.publishSnapshot(snapshot(2));
		await expect.poll(() => seen).toEqual([1, 3]);
		expect(await client.snapshot('space-a')).toMatchObject({ version: 2 });
		await unwatch();
		await expect(server.publishSnapshot({ ...snapshot(4), spaceId: '../x' })).rejects.toThrow();
	});

	it('consumes a speaker into a receiving ffmpeg, resumes it with a keyframe, and releases it', async () => {
		const { server, client } = await link();
		const sessionId = 'job-1';
		const streams = [];
		const consumerIds: string[] = [];
		for (const producer of producers) {
			const ports = await allocateUdpPortPair({ host: ip });
			cleanups.push(() => ports.release());
			const result = await client.call('node-1', 'consume', { sessionId, spaceId: 'space-a', producerId: producer.id, ip, rtpPort: ports.rtpPort, rtcpPort: ports.rtcpPort });
			expect(result.kind).toBe(producer.kind);
			consumerIds.push(result.consumerId);
			streams.push({ kind: result.kind, rtpParameters: result.rtpParameters as types.RtpParameters, rtpPort: ports.rtpPort });
		}
		expect(server.sessions).toEqual({ [sessionId]: 2 });

		const output = path.join(dir, 'linked.mkv');
		const recorder = spawn('ffmpeg', ['-v', 'error', '-protocol_whitelist', 'pipe,udp,rtp', '-f', 'sdp', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-t', '3', '-y', output], { stdio: ['pipe', 'ignore', 'pipe'] });
		processes.push(recorder);
		const exited = new Promise<number | null>((resolve) => recorder.once('exit', resolve));
		recorder.stdin!.end(buildConsumerSdp(ip, streams));
		for (const s of streams) await waitForUdpPortsBound([s.rtpPort], 10_000);
		expect(await client.call('node-1', 'resume', { sessionId, consumerIds })).toEqual({ resumed: 2 });
		// More keyframes on request: the video consumer only, and only the caller's session's consumers.
		expect(await client.call('node-1', 'requestKeyframe', { sessionId, consumerIds: [...consumerIds, 'unknown-consumer'] })).toEqual({ requested: 1 });
		const other = await allocateUdpPortPair({ host: ip });
		cleanups.push(() => other.release());
		await client.call('node-1', 'consume', { sessionId: 'job-2', spaceId: 'space-a', producerId: producers[0]!.id, ip, rtpPort: other.rtpPort, rtcpPort: other.rtcpPort });
		expect(await client.call('node-1', 'requestKeyframe', { sessionId: 'job-2', consumerIds })).toEqual({ requested: 0 });
		await client.call('node-1', 'release', { sessionId: 'job-2' });
		expect(await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('recorder hung')), 20_000))])).toBe(0);

		const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', output]);
		expect(stdout.trim().split('\n').sort()).toEqual(['opus', 'vp8']);

		expect(await client.call('node-1', 'release', { sessionId })).toEqual({ closed: 2 });
		expect(server.sessions).toEqual({});
	});

	it('answers errors a transcoder can act on: unknown space, bad parameters, unknown session, node gone', async () => {
		const { client } = await link();
		const call = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof StageLinkError ? e.code : String(e)));
		expect(await call(client.call('node-1', 'consume', { sessionId: 's', spaceId: 'space-b', producerId: producers[0]!.id, ip, rtpPort: 20000, rtcpPort: 20001 }))).toBe('not_found');
		expect(await call(client.call('node-1', 'consume', { sessionId: 's', spaceId: 'space-a', producerId: 'nope', ip, rtpPort: 80, rtcpPort: 20001 }))).toBe('bad_request');
		expect(await call(client.call('node-1', 'consume', { sessionId: 's', spaceId: 'space-a', producerId: 'no-such-producer', ip, rtpPort: 20000, rtcpPort: 20001 }))).toBe('consume_failed');
		expect(await call(client.call('node-1', 'renew', { sessionId: 'never-made' }))).toBe('not_found');
		expect(await call(client.call('node-1', 'requestKeyframe', { sessionId: 'never-made', consumerIds: [] }))).toBe('not_found');
		expect(await call(client.call('node-1', 'requestKeyframe', { sessionId: 's', consumerIds: Array.from({ length: 129 }, () => 'c') }))).toBe('bad_request');
		expect(await call(client.call('node-1', 'requestKeyframe', { sessionId: 'bad id!', consumerIds: [] }))).toBe('bad_request');
		expect(await call(client.call('node-2', 'renew', { sessionId: 's' }))).toBe('unreachable');
	});

	it('closes the consumers of a transcoder that stops renewing its lease', async () => {
		const { server, client } = await link(600);
		const ports = await allocateUdpPortPair({ host: ip });
		cleanups.push(() => ports.release());
		await client.call('node-1', 'consume', { sessionId: 'kept', spaceId: 'space-a', producerId: producers[0]!.id, ip, rtpPort: ports.rtpPort, rtcpPort: ports.rtcpPort });
		const other = await allocateUdpPortPair({ host: ip });
		cleanups.push(() => other.release());
		await client.call('node-1', 'consume', { sessionId: 'dropped', spaceId: 'space-a', producerId: producers[0]!.id, ip, rtpPort: other.rtpPort, rtcpPort: other.rtcpPort });
		for (let i = 0; i < 4; i++) {
			await new Promise((resolve) => setTimeout(resolve, 300));
			await client.call('node-1', 'renew', { sessionId: 'kept' });
		}
		expect(server.sessions).toEqual({ kept: 1 });
	});
});
