import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import {
	connectRedis,
	createExportRunner,
	ExportQueue,
	exportQueueName,
	ExportWorker,
	type ExportProgress,
	type ExportRetryOptions,
} from '../../src/index.js';
import { audioLadder, recordReplay, videoLadder } from '../support/recordReplay.js';

const run = promisify(execFile);
const logger = pino({ level: 'silent' });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-export-'));
const hlsRoot = path.join(dataDir, 'hls');
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** A queue and a worker on a fresh key prefix, and every progress event the queue announces. */
async function setup(options: { retry?: ExportRetryOptions; replayWaitMs?: number; maxSegmentsPerInput?: number } = {}) {
	const redis: Redis = connectRedis(inject('redisUrl'), 'test');
	const prefix = `test-${randomUUID()}`;
	const queue = new ExportQueue(redis, prefix, options.retry);
	const events = new QueueEvents(exportQueueName, { connection: redis.duplicate(), prefix });
	await events.waitUntilReady();
	const progress: ExportProgress[] = [];
	events.on('progress', ({ data }) => progress.push(data as ExportProgress));
	const worker = new ExportWorker({
		redis,
		prefix,
		logger,
		run: createExportRunner({
			hlsRoot,
			ffmpegPath: 'ffmpeg',
			replayWaitMs: options.replayWaitMs ?? 30_000,
			replayPollMs: 100,
			...(options.maxSegmentsPerInput !== undefined && { maxSegmentsPerInput: options.maxSegmentsPerInput }),
		}),
	});
	closers.push(() => redis.disconnect(), () => queue.close(), () => events.close(), () => worker.close());
	return { redis, prefix, queue, worker, progress };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const value = await probe();
		if (value !== undefined) return value;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Sum of a replay playlist's EXTINF, seconds. */
function playlistSeconds(file: string): number {
	return [...fs.readFileSync(file, 'utf8').matchAll(/#EXTINF:([0-9.]+),/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function probe(file: string): Promise<{ durationS: number; streams: { codec_type: string; codec_name: string; width?: number; nb_read_frames?: string; duration?: string }[] }> {
	const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,nb_read_frames,duration', '-of', 'json', file]);
	const json = JSON.parse(stdout) as { format: { duration: string }; streams: [] };
	return { durationS: Number(json.format.duration), streams: json.streams };
}

describe('replay export with real ffmpeg', () => {
	it('waits for the replay, then stream-copies its tallest rendition across an encoder restart into replay.mp4', async () => {
		// Two segments per ffmpeg input: the three-second run is read as two inputs that must join without a gap.
		const { queue, worker, progress } = await setup({ maxSegmentsPerInput: 2 });
		const spaceId = 'exp-video';
		// Queued as the space ends, before the broadcast has finished writing its replay.
		expect(await queue.request({ spaceId, requestedAt: Date.now() })).toBe(true);
		expect(await queue.request({ spaceId, requestedAt: Date.now() })).toBe(false);
		await until('the job to wait for the replay', async () => ((await queue.state(spaceId)).state === 'waiting' ? true : undefined));

		await recordReplay({ hlsRoot, streamId: spaceId, runSeconds: [3, 2], ladder: videoLadder });
		const done = await until('the export', async () => {
			const state = await queue.state(spaceId);
			return state.state === 'completed' || state.state === 'failed' ? state : undefined;
		});
		expect(done).toMatchObject({ state: 'completed', percent: 100, progress: { transcoder: worker.id, state: 'ready', rendition: '360p' } });

		const dir = path.join(hlsRoot, spaceId);
		const mp4 = path.join(dir, 'replay.mp4');
		expect(done.progress?.bytes).toBe(fs.statSync(mp4).size);
		expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
		// The replay has a discontinuity: two init sections in the exported rendition.
		expect(fs.readFileSync(path.join(dir, '360p/vod.m3u8'), 'utf8')).toContain('#EXT-X-DISCONTINUITY');

		// Progress: waiting, then running with a percent that only rises, to 100 when the file is ready.
		await until('the last progress event', async () => (progress.at(-1)?.state === 'ready' ? true : undefined), 5000);
		expect(progress[0]).toMatchObject({ state: 'waiting', percent: 0 });
		expect(progress.map((p) => p.state)).toContain('running');
		const percents = progress.map((p) => p.percent);
		for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
		expect(progress.at(-1)).toMatchObject({ state: 'ready', percent: 100 });

		// Both runs play, picture and sound, for as long as the playlist says.
		const media = await probe(mp4);
		const expectedS = playlistSeconds(path.join(dir, '360p/vod.m3u8'));
		expect(expectedS).toBeCloseTo(5, 1);
		expect(Math.abs(media.durationS - expectedS)).toBeLessThanOrEqual(0.5);
		const video = media.streams.find((s) => s.codec_type === 'video');
		const audio = media.streams.find((s) => s.codec_type === 'audio');
		expect(video).toMatchObject({ codec_name: 'h264', width: 640, nb_read_frames: '150' });
		expect(audio).toMatchObject({ codec_name: 'aac' });
		expect(Math.abs(Number(audio!.duration) - expectedS)).toBeLessThanOrEqual(0.5);
		// The moov box comes before the media (+faststart): playable while it downloads.
		const head = fs.readFileSync(mp4).subarray(0, 64).toString('latin1');
		expect(head.indexOf('moov')).toBeGreaterThan(0);
	});

	it('exports the audio rendition of an audio-only replay', async () => {
		const { queue } = await setup();
		const spaceId = 'exp-audio';
		await recordReplay({ hlsRoot, streamId: spaceId, runSeconds: [2, 2], ladder: audioLadder });
		await queue.request({ spaceId, requestedAt: Date.now() });
		const done = await until('the export', async () => {
			const state = await queue.state(spaceId);
			return state.state === 'completed' || state.state === 'failed' ? state : undefined;
		});
		expect(done).toMatchObject({ state: 'completed', progress: { rendition: 'audio' } });
		const media = await probe(path.join(hlsRoot, spaceId, 'replay.mp4'));
		expect(media.streams.map((s) => s.codec_name)).toEqual(['aac']);
		expect(Math.abs(media.durationS - playlistSeconds(path.join(hlsRoot, spaceId, 'audio/vod.m3u8')))).toBeLessThanOrEqual(0.5);
	});

	it('fails a damaged replay at once, without retries, and exports it when the host asks again after a repair', async () => {
		const { queue, prefix, redis } = await setup({ retry: { attempts: 3, backoffMs: 100 } });
		const spaceId = 'exp-damaged';
		await recordReplay({ hlsRoot, streamId: spaceId, runSeconds: [2], ladder: audioLadder });
		const segment = path.join(hlsRoot, spaceId, 'audio/seg-0.m4s');
		fs.renameSync(segment, `${segment}.away`);
		await queue.request({ spaceId, requestedAt: Date.now() });
		const failed = await until('the failure', async () => {
			const state = await queue.state(spaceId);
			return state.state === 'failed' ? state : undefined;
		});
		expect(failed.error).toMatch(/damaged or missing \(audio\/init-0\.mp4, audio\/seg-0\.m4s/);
		const raw = new Queue(exportQueueName, { connection: redis.duplicate(), prefix });
		closers.push(() => raw.close());
		expect((await raw.getJob(`export-${spaceId}`))!.attemptsMade).toBe(1);

		fs.renameSync(`${segment}.away`, segment);
		expect(await queue.request({ spaceId, requestedAt: Date.now() })).toBe(true);
		await until('the export', async () => ((await queue.state(spaceId)).state === 'completed' ? true : undefined));
		expect(fs.existsSync(path.join(hlsRoot, spaceId, 'replay.mp4'))).toBe(true);
	});

	it('retries while the replay is incomplete and then fails with a reason', async () => {
		const { queue, prefix, redis } = await setup({ retry: { attempts: 2, backoffMs: 100 }, replayWaitMs: 300 });
		const spaceId = 'exp-never';
		await queue.request({ spaceId, requestedAt: Date.now() });
		const failed = await until('the failure', async () => {
			const state = await queue.state(spaceId);
			return state.state === 'failed' ? state : undefined;
		});
		expect(failed.error).toMatch(/not complete/);
		expect(failed.error).not.toContain(dataDir);
		const raw = new Queue(exportQueueName, { connection: redis.duplicate(), prefix });
		closers.push(() => raw.close());
		expect((await raw.getJob(`export-${spaceId}`))!.attemptsMade).toBe(2);
	});
	it('says a job taken but not yet reporting is waiting for the replay, not running', async () => {
		const redis: Redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const queue = new ExportQueue(redis, prefix);
		let release = (): void => {};
		let finish = (): void => {};
		const released = new Promise<void>((resolve) => (release = resolve));
		const finished = new Promise<void>((resolve) => (finish = resolve));
		let taken = false;
		const worker = new ExportWorker({
			redis, prefix, logger,
			run: async (_data, { reportProgress }) => {
				taken = true;
				await released;
				await reportProgress({ state: 'running', percent: 0 });
				await finished;
			},
		});
		closers.push(() => redis.disconnect(), () => queue.close(), () => worker.close(), finish);
		expect(await queue.request({ spaceId: 'exp-taken', requestedAt: Date.now() })).toBe(true);
		await until('the job taken', async () => (taken ? true : undefined));
		expect((await queue.state('exp-taken')).state).toBe('waiting');
		release();
		await until('the job running', async () => ((await queue.state('exp-taken')).state === 'running' ? true : undefined), 10_000);
	});
});
