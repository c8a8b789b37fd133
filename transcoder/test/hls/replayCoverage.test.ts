import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
	buildHlsEncodePlan,
	connectRedis,
	createExportRunner,
	HlsDiskWriter,
	Packager,
	planStreamResume,
	readFeedPosition,
	readReplayJournals,
	RedisHlsPublisher,
	runHlsEncoder,
	type HlsEncoderRun,
	type HlsMessage,
} from '../../src/index.js';
import { parseReplayPlaylist } from '../../src/export/replayPlaylist.js';
import { videoLadder } from '../support/recordReplay.js';

const exec = promisify(execFile);
const logger = pino({ level: 'warn' });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-replay-coverage-'));
const hlsRoot = path.join(dataDir, 'hls');
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One rendition's replay as its `vod.m3u8` lists it. */
function replayOf(streamId: string, rendition: string) {
	const text = fs.readFileSync(path.join(hlsRoot, streamId, rendition, 'vod.m3u8'), 'utf8');
	const entries = text.split('#EXTINF:').slice(1).map((chunk, i, all) => {
		const before = i === 0 ? text.split('#EXTINF:')[0]! : all[i - 1]!;
		return { durationS: Number(/^([0-9.]+)/.exec(chunk)![1]), gap: /#EXT-X-GAP\s*$/.test(before), uri: /\n(seg-\d+\.m4s)/.exec(chunk)![1]! };
	});
	const pdts = [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/g)].map((m) => Date.parse(m[1]!));
	return {
		text,
		entries,
		uris: entries.map((e) => e.uri),
		durationS: entries.reduce((sum, e) => sum + e.durationS, 0),
		mediaS: entries.filter((e) => !e.gap).reduce((sum, e) => sum + e.durationS, 0),
		firstPdtMs: pdts[0]!,
		endMs: pdts.at(-1)! + entries.at(-1)!.durationS * 1000,
	};
}

/**
 * A recorded broadcast as the runner drives it, with real paced encodes: run 0 on air, run 1 replaces it make before
 * break (a stage change), run 1 crashes (SIGKILL) with one rendition 0.3 s behind the others (as a slow x264 is
 * behind the sound), so that rendition gets gap placeholders, and run 2 replaces it after the runner's backoff; then
 * the space ends. The replay of every rendition must hold what was on air — from the first part to the end, less the time no
 * run was on air after the crash — within 1 s, and last as long as the space, that time as gap segments; at the same
 * segment numbers and dates, and so must the MP4 export.
 */
describe('the replay holds everything that was on air', () => {
	it('in every rendition, aligned, across a run switch and an encoder crash, and in the MP4 export', { timeout: 60_000 }, async () => {
		const redis: Redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const streamId = `cov${randomUUID().slice(0, 8)}`;
		const runs: HlsEncoderRun[] = [];
		try {
			const onAir: { run: number; atMs: number }[] = [];
			const parts: { rendition: string; durationS: number; atMs: number }[] = [];
			const redisSink = new RedisHlsPublisher(redis, prefix, streamId, { logger });
			const packager = new Packager({
				streamId,
				renditions: videoLadder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: ((r.video?.kbps ?? 0) + r.audioKbps) * 1500, ...(r.video && { frameRate: 30 }) })),
				partTargetMs: 200,
				segmentTargetMs: 1000,
				subtitles: true,
				sink: {
					publish: (message: HlsMessage) => {
						if (message.event.type === 'part') parts.push({ rendition: message.event.rendition, durationS: message.event.durationS, atMs: Date.now() });
						redisSink.publish(message);
					},
				},
				disk: new HlsDiskWriter(hlsRoot, streamId),
				logger,
				onRunOnAir: (run) => onAir.push({ run, atMs: Date.now() }),
			});
			// Paced (-re) like a live encode, long enough for any run: each is stopped by a signal.
			const plan = buildHlsEncodePlan({
				inputArgs: ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=40', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=40'],
				videoInput: '0:v', audioInput: '1:a', ladder: videoLadder, partTargetMs: 200, segmentTargetMs: 1000, frameRate: 30, x264Preset: 'ultrafast',
			});
			const start = (run: number): HlsEncoderRun => {
				const encoder = runHlsEncoder('ffmpeg', plan, packager, logger, run);
				runs.push(encoder);
				return encoder;
			};
			/** A run whose `lagging` rendition reaches the packager `lagMs` late, as a slow x264 behind the sound does. */
			const startLagging = (run: number, lagging: string, lagMs: number): HlsEncoderRun => {
				const fds = Math.max(...plan.outputs.map((o) => o.fd)) + 1;
				const child = spawn('ffmpeg', plan.args, { stdio: Array.from({ length: fds }, (_, fd) => (fd === 0 ? 'ignore' : 'pipe')) });
				const reads = plan.outputs.map(({ rendition, fd }) => {
					const output = child.stdio[fd] as Readable;
					if (rendition !== lagging) return packager.attachRun(run, rendition, output);
					const late = new PassThrough();
					output.on('data', (chunk: Buffer) => void setTimeout(() => late.write(chunk), lagMs));
					output.once('end', () => void setTimeout(() => late.end(), lagMs));
					return packager.attachRun(run, rendition, late);
				});
				const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
				const encoder = { process: child, done: Promise.all([exited, ...reads]).then(([exit]) => ({ ...exit, stderr: '' })) };
				runs.push(encoder);
				return encoder;
			};
			const wentOnAir = (run: number) => expect.poll(() => onAir.find((o) => o.run === run)?.atMs, { timeout: 15_000, interval: 20 }).toBeDefined();

			const run0 = start(0);
			await wentOnAir(0);
			await expect.poll(() => parts.length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
						await sleep(3000);
			// A stage change: the next run warms up while run 0 stays on air; the runner stops run 0 once it is replaced.
			const run1 = startLagging(1, '180p', 300);
			await wentOnAir(1);
			run0.process.kill('SIGINT');
			await run0.done;
			await sleep(3000);
			// A crash: run 1 dies; after the runner's first backoff (0.25 s) run 2 starts and goes on air at once.
			const crashedAtMs = Date.now();
			run1.process.kill('SIGKILL');
			await run1.done;
			await sleep(250);
			start(2);
			await wentOnAir(2);
			const backOnAirMs = onAir.find((o) => o.run === 2)!.atMs;
			await sleep(3000);
			// The space ends.
			runs[2]!.process.kill('SIGINT');
			await runs[2]!.done;
			await packager.end();

			const names = videoLadder.map((r) => r.name);
			const replays = Object.fromEntries(names.map((name) => [name, replayOf(streamId, name)]));
			/**
			 * The space's time, per rendition: from its first part (less that part's own length, captured before it came)
			 * to its last (those flushed as the space ended included); `media`: less the time its listeners got nothing
			 * after the crash (the longest wait between two of its parts then; a lagging rendition's last parts still
			 * came), which the replay holds as gap segments.
			 */
			const onAirOf = (name: string, media = false): number => {
				const own = parts.filter((p) => p.rendition === name);
				const around = own.filter((p) => p.atMs >= crashedAtMs - 1000 && p.atMs <= backOnAirMs + 1000).map((p) => p.atMs);
				const stallMs = media ? Math.max(0, ...around.slice(1).map((t, i) => t - around[i]!)) : 0;
				return (own.at(-1)!.atMs - own[0]!.atMs - stallMs) / 1000 + own[0]!.durationS;
			};
			for (const name of names) {
				const replay = replays[name]!;
				expect(replay.text.trimEnd().endsWith('#EXT-X-ENDLIST'), name).toBe(true);
				// What origins were sent is what the replay keeps: every part, in the rendition's own media.
				const liveS = parts.filter((p) => p.rendition === name).reduce((sum, p) => sum + p.durationS, 0);
				expect(Math.abs(replay.mediaS - liveS), `${name}: replay ${replay.mediaS.toFixed(3)} s, live ${liveS.toFixed(3)} s`).toBeLessThan(0.01);
				const onAirS = onAirOf(name, true);
				const spaceS = onAirOf(name);
				expect(Math.abs(replay.mediaS - onAirS), `${name}: replay media ${replay.mediaS.toFixed(3)} s, on air ${onAirS.toFixed(3)} s`).toBeLessThanOrEqual(1);
				// With the crash's lost time as gap segments, the replay lasts as long as the space did.
				expect(Math.abs(replay.durationS - spaceS), `${name}: replay ${replay.durationS.toFixed(3)} s, the space ${spaceS.toFixed(3)} s`).toBeLessThanOrEqual(1);
				// No segment file is missing or left half-written.
				for (const { uri, gap } of replay.entries) if (!gap) expect(fs.existsSync(path.join(hlsRoot, streamId, name, uri)), `${name}/${uri}`).toBe(true);
				expect(fs.readdirSync(path.join(hlsRoot, streamId, name)).filter((f) => f.endsWith('.tmp')), name).toEqual([]);
			}
			// Aligned: the same segment numbers in every rendition (and the subtitles), starting and ending together.
			const reference = replays[names[0]!]!;
			for (const name of names.slice(1)) {
				expect(replays[name]!.uris, name).toEqual(reference.uris);
				expect(Math.abs(replays[name]!.firstPdtMs - reference.firstPdtMs), `${name} starts with ${names[0]}`).toBeLessThanOrEqual(1000);
				expect(Math.abs(replays[name]!.endMs - reference.endMs), `${name} ends with ${names[0]}`).toBeLessThanOrEqual(1000);
			}
			const subtitles = fs.readFileSync(path.join(hlsRoot, streamId, 'subs', 'vod.m3u8'), 'utf8');
			expect([...subtitles.matchAll(/^seg-(\d+)\.vtt$/gm)].map((m) => `seg-${m[1]}.m4s`)).toEqual(reference.uris);
			// Three runs: run 0, then run 1 after a discontinuity, then run 2 after another.
			expect(parseReplayPlaylist(reference.text).length).toBeGreaterThanOrEqual(3);
			// Origins were told the stream ended.
			expect(await readFeedPosition(redis, prefix, streamId)).toEqual({ state: 'ended' });

			// The MP4 export (the tallest video rendition) lasts as long as its replay, and so do its picture and sound.
			const exportReplay = createExportRunner({ hlsRoot, ffmpegPath: 'ffmpeg', replayWaitMs: 5000, replayPollMs: 100 });
			const progress: { state: string }[] = [];
			await exportReplay({ spaceId: streamId } as never, { signal: new AbortController().signal, logger, reportProgress: async (p: { state: string }) => void progress.push(p) } as never);
			expect(progress.at(-1)?.state).toBe('ready');
			const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,duration', '-of', 'json', path.join(hlsRoot, streamId, 'replay.mp4')]);
			const probed = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_type: string; duration: string }[] };
			const tallest = replays['360p']!;
			expect(Math.abs(Number(probed.format.duration) - tallest.durationS), `MP4 ${probed.format.duration} s, replay ${tallest.durationS.toFixed(3)} s`).toBeLessThanOrEqual(1);
			for (const stream of probed.streams) expect(Math.abs(Number(stream.duration) - tallest.durationS), `MP4 ${stream.codec_type} ${stream.duration} s, replay ${tallest.durationS.toFixed(3)} s`).toBeLessThanOrEqual(1);
		} finally {
			for (const encoder of runs) if (encoder.process.exitCode === null && encoder.process.signalCode === null) encoder.process.kill('SIGKILL');
			// Only waiting for the encoders to be gone: how they ended was asserted above (or the test failed already).
			await Promise.all(runs.map((encoder) => encoder.done.catch(() => undefined)));
			await redis.quit();
		}
	});

	it('across a takeover: the segment the dead transcoder had open stays in the replay', { timeout: 60_000 }, async () => {
		const redis: Redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const streamId = `tko${randomUUID().slice(0, 8)}`;
		const runs: HlsEncoderRun[] = [];
		const names = videoLadder.map((r) => r.name);
		const live = new Map<string, number>();
		const packagerFor = (resume?: ReturnType<typeof planStreamResume>) => {
			const redisSink = new RedisHlsPublisher(redis, prefix, streamId, { logger });
			return new Packager({
				streamId,
				renditions: videoLadder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: ((r.video?.kbps ?? 0) + r.audioKbps) * 1500, ...(r.video && { frameRate: 30 }) })),
				partTargetMs: 200,
				segmentTargetMs: 1000,
				subtitles: true,
				sink: {
					publish: (message: HlsMessage) => {
						if (message.event.type === 'part') live.set(message.event.rendition, (live.get(message.event.rendition) ?? 0) + message.event.durationS);
						redisSink.publish(message);
					},
				},
				disk: new HlsDiskWriter(hlsRoot, streamId),
				logger,
				...(resume && { resume }),
			});
		};
		const plan = buildHlsEncodePlan({
			inputArgs: ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=40', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=40'],
			videoInput: '0:v', audioInput: '1:a', ladder: videoLadder, partTargetMs: 200, segmentTargetMs: 1000, frameRate: 30, x264Preset: 'ultrafast',
		});
		try {
			// The first transcoder broadcasts 3.5 s, then dies with -9 mid-segment: its packager never ends.
			const first = packagerFor();
			runs.push(runHlsEncoder('ffmpeg', plan, first, logger, 0));
			await sleep(3500);
			runs[0]!.process.kill('SIGKILL');
			await runs[0]!.done;
			await sleep(300); // its last events reach Redis and its last parts the disk
			// Another transcoder takes the job over: the feed in Redis and the journals on the shared disk.
			const disk = new HlsDiskWriter(hlsRoot, streamId);
			const feed = await readFeedPosition(redis, prefix, streamId);
			expect(feed.state).toBe('live');
			if (feed.state === 'ended') return;
			const resume = planStreamResume(feed, await readReplayJournals(disk, names, feed), names);
			const second = packagerFor(resume);
			runs.push(runHlsEncoder('ffmpeg', plan, second, logger, 0));
			await sleep(2500);
			runs[1]!.process.kill('SIGINT');
			await runs[1]!.done;
			await second.end();

			for (const name of names) {
				const replay = replayOf(streamId, name);
				// Everything origins got, from both transcoders, is in the replay.
				expect(Math.abs(replay.mediaS - live.get(name)!), `${name}: replay ${replay.mediaS.toFixed(3)} s, live ${live.get(name)!.toFixed(3)} s`).toBeLessThan(0.01);
				for (const { uri, gap } of replay.entries) if (!gap) expect(fs.existsSync(path.join(hlsRoot, streamId, name, uri)), `${name}/${uri}`).toBe(true);
				expect(fs.readdirSync(path.join(hlsRoot, streamId, name)).filter((f) => f.endsWith('.tmp')), name).toEqual([]);
			}
			const subtitles = fs.readFileSync(path.join(hlsRoot, streamId, 'subs', 'vod.m3u8'), 'utf8');
			for (const [, vtt] of subtitles.matchAll(/^(seg-\d+\.vtt)$/gm)) expect(fs.existsSync(path.join(hlsRoot, streamId, 'subs', vtt!)), vtt).toBe(true);
		} finally {
			for (const encoder of runs) if (encoder.process.exitCode === null && encoder.process.signalCode === null) encoder.process.kill('SIGKILL');
			// Only waiting for the encoders to be gone: how they ended was asserted above (or the test failed already).
			await Promise.all(runs.map((encoder) => encoder.done.catch(() => undefined)));
			await redis.quit();
		}
	});
});
