import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultStageOptions, loadIngestConfig, noPublishGrants, Stage, StageRegistry, SyntheticSpeaker, WorkerPool, type ConsumerInfo } from '../src/index.js';

const logger = pino({ level: 'silent' });
let pool: WorkerPool;
let dir: string;
let voice: string;
const stages: Stage[] = [];

beforeAll(async () => {
	pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-ingest-stage-'));
	voice = path.join(dir, 'voice.wav');
	execFileSync('espeak-ng', ['-w', voice, 'Hello from a synthetic speaker on the Tribune stage.']);
});
afterEach(() => {
	for (const s of stages.splice(0)) s.close();
});
afterAll(() => {
	pool.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

async function newStage(): Promise<Stage> {
	const stage = await Stage.create(pool, `space-${stages.length}`, defaultStageOptions, logger);
	stages.push(stage);
	return stage;
}

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe('Stage', () => {
	it('refuses to let a peer without publish grants open a send transport or produce', async () => {
		const stage = await newStage();
		const listener = stage.addPeer('listener', noPublishGrants);
		await expect(listener.createWebRtcTransport('send')).rejects.toMatchObject({ code: 'forbidden' });
		await expect(listener.createPlainTransport('127.0.0.1')).rejects.toMatchObject({ code: 'forbidden' });
		// Granted when the transport was made, then narrowed: produce() checks again.
		const speaker = stage.addPeer('speaker', { audio: true, video: false });
		const transport = await speaker.createPlainTransport('127.0.0.1');
		const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1234 }] };
		await expect(speaker.produce(transport.id, 'video', { ...rtpParameters, codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }] })).rejects.toMatchObject({ code: 'forbidden' });
		speaker.setGrants(noPublishGrants);
		await expect(speaker.produce(transport.id, 'audio', rtpParameters)).rejects.toMatchObject({ code: 'forbidden' });
		expect(speaker.producers).toEqual([]);
	});

	it('feeds a synthetic speaker to every peer that can receive, and closes its producer when its grant goes', async () => {
		const stage = await newStage();
		const listenerPeer = stage.addPeer('speaker-b', { audio: true, video: false });
		await listenerPeer.createWebRtcTransport('recv');
		const consumers: ConsumerInfo[] = [];
		listenerPeer.on('newconsumer', (info) => consumers.push(info));
		await listenerPeer.setRtpCapabilities(stage.rtpCapabilities);
		const synthetic = await SyntheticSpeaker.start(stage.addPeer('robot', { audio: true, video: false }), { audio: { file: voice } }, logger);
		try {
			const producer = synthetic.peer.producers[0]!;
			await until(() => (consumers.length > 0 ? true : undefined), 'a consumer for the synthetic speaker');
			expect(consumers[0]).toMatchObject({ participantId: 'robot', producerId: producer.id, kind: 'audio' });
			// ffmpeg's RTP arrives at the producer.
			await until(async () => ((await producer.getStats()).some((s) => s.byteCount > 1000) ? true : undefined), 'RTP from ffmpeg');
			const closed = new Promise<string>((resolve) => listenerPeer.once('consumerclosed', resolve));
			synthetic.peer.setGrants(noPublishGrants);
			expect(producer.closed).toBe(true);
			expect(await closed).toBe(consumers[0]!.consumerId);
		} finally {
			synthetic.close();
		}
	});

	it.each(['VP8', 'H264'] as const)('takes a synthetic speaker\'s %s test pattern as a video producer', async (codec) => {
		const stage = await newStage();
		const synthetic = await SyntheticSpeaker.start(stage.addPeer('camera', { audio: true, video: true }), { audio: { toneHz: 300 }, video: { codec, width: 320, height: 180, fps: 15 } }, logger);
		try {
			const video = synthetic.peer.producers.find((p) => p.kind === 'video')!;
			expect(video.rtpParameters.codecs[0]?.mimeType).toBe(`video/${codec}`);
			await until(async () => ((await video.getStats()).some((s) => s.byteCount > 5000) ? true : undefined), `${codec} RTP from ffmpeg`);
		} finally {
			synthetic.close();
		}
	});

	it('pauses a muted peer\'s audio at the server, including audio it publishes while muted', async () => {
		const stage = await newStage();
		const peer = stage.addPeer('robot', { audio: true, video: false });
		await peer.setAudioMuted(true);
		const synthetic = await SyntheticSpeaker.start(peer, { audio: { toneHz: 440 } }, logger);
		try {
			const producer = synthetic.peer.producers[0]!;
			expect(producer.paused).toBe(true);
			await peer.setAudioMuted(false);
			expect(producer.paused).toBe(false);
			await peer.setAudioMuted(true);
			expect(producer.paused).toBe(true);
		} finally {
			synthetic.close();
		}
	});

	it('close() closes its router and peers, is idempotent, and refuses new peers afterwards', async () => {
		const stage = await newStage();
		const peer = stage.addPeer('a', { audio: true, video: false });
		const reasons: string[] = [];
		stage.on('close', (reason) => reasons.push(reason));
		stage.close();
		stage.close();
		expect([stage.router.closed, peer.closed, reasons]).toEqual([true, true, ['closed']]);
		expect(() => stage.addPeer('b', noPublishGrants)).toThrow(/closed/);
		expect(() => stage.addPeer('a', noPublishGrants)).toThrow(/closed/);
	});

	it('refuses a second peer with the same id', async () => {
		const stage = await newStage();
		stage.addPeer('a', noPublishGrants);
		expect(() => stage.addPeer('a', noPublishGrants)).toThrow(/already on stage/);
	});
});

describe('StageRegistry', () => {
	it('opens one stage per space however many ask at once', async () => {
		const registry = new StageRegistry(pool, defaultStageOptions, logger);
		try {
			expect(registry.get('s1')).toBeUndefined();
			const [a, b] = await Promise.all([registry.open('s1'), registry.open('s1')]);
			expect(a).toBe(b);
			expect(registry.get('s1')).toBe(a);
			await registry.close('s1');
			expect(a.closed).toBe(true);
			expect(await registry.find('s1')).toBeUndefined();
			expect(registry.get('s1')).toBeUndefined();
		} finally {
			registry.closeAll();
		}
	});

	it('opens a space\'s stage again on a new worker when its worker dies', async () => {
		const registry = new StageRegistry(pool, defaultStageOptions, logger);
		try {
			const first = await registry.open('space-x');
			const replaced = new Promise<Stage>((resolve) => registry.on('stageopened', (stage, { replaced }) => replaced && resolve(stage)));
			process.kill(pool.pids[0]!, 'SIGKILL');
			const second = await replaced;
			expect(first.closed).toBe(true);
			expect(second).not.toBe(first);
			expect(second.closed).toBe(false);
			expect(await registry.find('space-x')).toBe(second);
		} finally {
			registry.closeAll();
		}
	});
});
