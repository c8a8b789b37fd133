import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import {
	BoxParser, connectRedis, defaultLadder, drainedStopSignal, HlsDiskWriter, Packager, parseFragment, parseInitSection, RedisHlsPublisher, runStageBroadcast,
	SocketOutputs, StageLinkClient, type TrackInfo,
} from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { stageForTests } from './support/testStage.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const renditions = defaultLadder.map((r) => r.name);

/** The main track (video, else audio) of an init section's bytes (`ftyp` + `moov`). */
function mainTrack(init: Buffer): TrackInfo {
	const ftypSize = init.readUInt32BE(0);
	const { tracks } = parseInitSection(init.subarray(0, ftypSize), init.subarray(ftypSize));
	return tracks.find((t) => t.kind === 'video') ?? tracks[0]!;
}

/** Timing of a part's bytes (`moof` + `mdat`) on its main track, s. */
function partTiming(bytes: Buffer, track: TrackInfo): { startS: number; endS: number } {
	const fragment = parseFragment(bytes.subarray(0, bytes.readUInt32BE(0)), [track]).tracks[0]!;
	return { startS: fragment.baseTime / track.timescale, endS: (fragment.baseTime + fragment.duration) / track.timescale };
}

/**
 * When each encoder run's media was captured, per rendition, from when its parts reached the packager: a part cannot
 * arrive before its last sample was captured, so the least `arrival − end of its media` over a run's parts is the
 * wall-clock time of its media instant 0 (plus the encoder's least latency). Only parts that came while the run was
 * wanted count: a stopped ffmpeg flushes pictures it made up after its inputs ended.
 */
class CaptureClock {
	readonly #zeroMs = new Map<string, number>();
	readonly #until = new Map<number, number>();

	/** Reads a run's output of a rendition as it goes to the packager. */
	tap(run: number, rendition: string, input: Readable): Readable {
		const copy = new PassThrough();
		const parser = new BoxParser();
		let ftyp: Buffer | undefined;
		let track: TrackInfo | undefined;
		input.on('data', (chunk: Buffer) => {
			for (const box of parser.push(chunk)) {
				if (box.type === 'ftyp') ftyp = box.bytes;
				else if (box.type === 'moov' && ftyp) track = mainTrack(Buffer.concat([ftyp, box.bytes]));
				else if (box.type === 'moof' && track && Date.now() <= (this.#until.get(run) ?? Infinity)) {
					const { endS } = partTiming(box.bytes, track);
					const key = `${run}/${rendition}`;
					this.#zeroMs.set(key, Math.min(this.#zeroMs.get(key) ?? Infinity, Date.now() - endS * 1000));
				}
			}
		});
		input.pipe(copy);
		return copy;
	}

	/** Run `run`'s parts from now on do not count (it was replaced, or the broadcast is stopping). */
	stopCounting(run: number): void {
		this.#until.set(run, Date.now());
	}

	/** Wall-clock time media instant `mediaS` of a run's rendition was captured, ms. */
	capturedAtMs(run: number, rendition: string, mediaS: number): number {
		return (this.#zeroMs.get(`${run}/${rendition}`) ?? NaN) + mediaS * 1000;
	}
}

/** A rendition's replay as its `vod.m3u8` lists it: the sum of its EXTINF, s. */
function replayDurationS(dir: string, rendition: string): number {
	const text = fs.readFileSync(path.join(dir, rendition, 'vod.m3u8'), 'utf8');
	expect(text.trimEnd().endsWith('#EXT-X-ENDLIST'), rendition).toBe(true);
	return [...text.matchAll(/#EXTINF:([0-9.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Issue 17: a space on air for T seconds gives a replay of T ± 1 s in every rendition. A real standing encode of the
 * default ladder (one speaker on camera) sheds work twice (a policy no encode can satisfy, one level at a time), so two
 * new ffmpeg runs go on air make-before-break; the real packager writes the replay, and the stop drains and cuts as the
 * broadcast runner does. Before, each switch put up to 1.1 s of video (0.6 s of audio) in the replay twice: the audio
 * of a run started 0.6–1.3 s after its picture and the muxer started both at 0, so the switcher, matching renditions
 * by media time, started the new run well before where the old one's picture had reached; and it read the new run's
 * clock before its start-up burst was in, and kept the start it chose while it waited for the renditions to align.
 */
describe('the replay of a broadcast whose encoder switched runs', () => {
	const stage = stageForTests('space-replay-switches', 'tribune-replay-switches-', logger);
	const { dir, speakers } = stage;

	it('holds in every media rendition what was on air, within 1 s, the renditions within 0.6 s of each other', { timeout: 60_000 }, async () => {
		const spaceId = 'space-replay-switches';
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const { audio, video, process: sender } = await speakers.add(stage.router, { toneHz: 440, ssrc: 100, colour: '#d02020', durationS: 60 });
		await server.publishSnapshot({
			spaceId, node: 'node-1', version: 1, pinned: [],
			speakers: [{ peerId: 'ada', name: 'Ada', audioProducerId: audio.id, videoProducerId: video!.id, muted: false }],
		});

		const onAir: number[] = [];
		const clock = new CaptureClock();
		/** Per rendition and run on air, the media it delivered: its first part's start and its last part's end, s. */
		const delivered = new Map<string, { run: number; startS: number; endS: number }[]>(renditions.map((name) => [name, []]));
		const tracks = new Map<string, TrackInfo>();
		const hls = new RedisHlsPublisher(redis, prefix, spaceId, { logger });
		const packager = new Packager({
			streamId: spaceId,
			renditions: defaultLadder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: 1_000_000, ...(r.video && { frameRate: 25 }) })),
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: false,
			sink: {
				publish: (message) => {
					const { event } = message;
					if (event.type === 'init') tracks.set(event.rendition, mainTrack(message.bytes));
					if (event.type === 'part') {
						const runs = delivered.get(event.rendition)!;
						const { startS, endS } = partTiming(message.bytes, tracks.get(event.rendition)!);
						if (runs.at(-1)?.run !== onAir.at(-1)) runs.push({ run: onAir.at(-1)!, startS, endS });
						runs.at(-1)!.endS = endS;
					}
					hls.publish(message);
				},
			},
			disk: new HlsDiskWriter(path.join(dir, 'hls'), spaceId),
			onRunOnAir: (run) => {
				const replaced = onAir.at(-1);
				if (replaced !== undefined) clock.stopCounting(replaced);
				onAir.push(run);
			},
			logger,
		});
		const workDir = path.join(dir, 'work');
		fs.mkdirSync(workDir);
		const outputs = new SocketOutputs({ attachRun: (run, rendition, input) => packager.attachRun(run, rendition, clock.tap(run, rendition, input)) }, workDir, logger);
		const stop = new AbortController();
		let stoppedAtMs = 0;
		// As the broadcast runner: what the encoder flushes after the space ended is cut; a stop drains the encoder.
		stop.signal.addEventListener('abort', () => packager.cutAt((stoppedAtMs = Date.now())), { once: true });
		const mediaEndMs = () =>
			Math.min(...renditions.map((name) => {
				const last = packager.timeline(name).segments.at(-1);
				return last ? last.pdtMs + last.durationS * 1000 : 0;
			}));
		const origins = new Map<number, number>();
		const startedMs = Date.now();
		const broadcast = runStageBroadcast({
			spaceId,
			composite: true,
			link: client,
			sessionId: `job-${spaceId}`,
			ladder: defaultLadder,
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 },
			canvas: { width: 1280, height: 720 },
			workDir,
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			openOutputs: (run, r, servedFrom) => outputs.open(run, r, servedFrom),
			outputBytes: (run) => outputs.bytesOf(run),
			// As the broadcast runner: each run's encoder tells its media clock, which places it after the run before.
			onMediaOrigin: (run, wallMs) => {
				origins.set(run, wallMs);
				packager.runMediaOrigin(run, wallMs);
			},
			onAir: async (run, signal) => {
				await expect.poll(() => signal.aborted || onAir.some((n) => n >= run), { timeout: 60_000, interval: 50 }).toBe(true);
				if (signal.aborted) throw new Error('stopped before it went on air');
			},
			// No live encode keeps 2× real time: a level is shed as soon as a run is judged, one at a time, twice. However
			// idle the lighter run's main thread, it is not taken for an encoder waiting on its inputs (`inputBoundBelow`,
			// unit-tested in EncoderDegradation.test.ts): with one small speaker on a quiet machine it was, and the second
			// shed never came.
			degradation: { policy: { shedBelowSpeed: 2, shedAfterMs: 1000, settleMs: 3000, maxShedStep: 1, inputBoundBelow: 0 }, maxLevel: 2, startIdleCores: 0 },
			signal: drainedStopSignal(stop.signal, { mediaEndMs }),
			logger,
			reportProgress: async () => {},
		});
		stage.stopFirst = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};
		try {
			await expect.poll(() => onAir, { timeout: 40_000, interval: 100 }).toEqual([0, 1, 2]);
			await new Promise((resolve) => setTimeout(resolve, 3000));
			clock.stopCounting(2);
			stop.abort();
			await broadcast;
			await outputs.close();
			await packager.end();
		} finally {
			sender.kill('SIGKILL');
			await client.close();
			server.close();
			redis.disconnect();
		}

		// On air: from when the replay's first media was captured (as the run's parts show it) to the stop. For the
		// message, what each switch repeated (+) or skipped (−): the old run's last media against the new run's first, ms.
		const replay = Object.fromEntries(renditions.map((name) => {
			const runs = delivered.get(name)!;
			const onAirS = (stoppedAtMs - clock.capturedAtMs(runs[0]!.run, name, runs[0]!.startS)) / 1000;
			const repeatedMs = runs.slice(1).map((next, i) => Math.round(clock.capturedAtMs(runs[i]!.run, name, runs[i]!.endS) - clock.capturedAtMs(next.run, name, next.startS)));
			return [name, { replayS: Number(replayDurationS(path.join(dir, 'hls', spaceId), name).toFixed(3)), onAirS, repeatedMs }];
		}));
		const figures = JSON.stringify(replay);
		// Every run's encoder told the wall-clock time of its media instant 0: after the broadcast started, and before
		// the instant its parts' arrivals give (which carries the encode's latency), by less than a busy machine's start.
		expect([...origins.keys()].sort()).toEqual([0, 1, 2]);
		for (const [run, wallMs] of origins) {
			const byArrivalsMs = Math.min(...renditions.map((name) => clock.capturedAtMs(run, name, 0)));
			expect(wallMs, `run ${run}`).toBeGreaterThan(startedMs);
			expect(byArrivalsMs - wallMs, `run ${run}`).toBeGreaterThan(0);
			expect(byArrivalsMs - wallMs, `run ${run}`).toBeLessThan(5000);
		}
		for (const name of renditions) {
			expect(Math.abs(replay[name]!.replayS - replay[name]!.onAirS), `${name}: ${figures}`).toBeLessThanOrEqual(1);
		}
		// Aligned: the renditions' parts differ (video 200 ms, audio 192 ms), so each switch starts the audio at its part
		// up to half a part before the picture's instant, and the stop ends each rendition on its own part: two switches
		// and an end can put them about three parts apart (0.6 s), not more (measured 0.02–0.43 s; 1.9 s apart before).
		const lengths = renditions.map((name) => replay[name]!.replayS);
		expect(Math.max(...lengths) - Math.min(...lengths), figures).toBeLessThanOrEqual(0.6);
	});
});
