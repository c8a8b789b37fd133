import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
	connectRedis, defaultLadder, Packager, runStageBroadcast, SocketOutputs, StageLinkClient, type BroadcastProgress, type HlsEvent, type HlsMessage,
} from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { stageForTests } from './support/testStage.js';

const execFileAsync = promisify(execFile);
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
type Part = Extract<HlsEvent, { type: 'part' }>;

/**
 * Deliberate degradation through the make-before-break switch, with a real standing encode of the default ladder
 * (720p, 360p, audio) of a speaker with a camera. A policy no live encode can satisfy (2× real time) sheds the first
 * level a few seconds in: the run of level 1 encodes 360p and audio only, and the packager is fed its 360p output as
 * the 720p rendition too. A policy that always sees headroom restores it. Either way every rendition goes on
 * publishing parts across the switch (one discontinuity, no gap segment, no hole in the program-date-times), and the
 * 720p rendition carries 640x360 pictures while shed.
 */
describe('runStageBroadcast(): shedding the 720p encode', () => {
	const stage = stageForTests('space-shed', 'tribune-degradation-', logger);
	const { dir, speakers } = stage;

	/** One speaker with a red camera on stage, a standing encode of the default ladder packaged in memory. */
	async function broadcastWith(spaceId: string, degradation: NonNullable<Parameters<typeof runStageBroadcast>[0]['degradation']>, runnerLogger = logger, stopping?: AbortSignal) {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const { audio, video, process: senderProcess } = await speakers.add(stage.router, { toneHz: 440, ssrc: 100, colour: '#d02020', durationS: 60 });
		await server.publishSnapshot({
			spaceId, node: 'node-1', version: 1, pinned: [],
			speakers: [{ peerId: 'ada', name: 'Ada', audioProducerId: audio.id, videoProducerId: video!.id, muted: false }],
		});

		const messages: { at: number; message: HlsMessage }[] = [];
		const onAir: number[] = [];
		const packager = new Packager({
			streamId: spaceId,
			renditions: defaultLadder.map((r) => ({ name: r.name, kind: r.video ? 'video' : 'audio', bandwidth: 1_000_000 })),
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: false,
			sink: { publish: (message) => messages.push({ at: Date.now(), message }) },
			onRunOnAir: (run) => onAir.push(run),
			logger,
		});
		const workDir = path.join(dir, spaceId);
		fs.mkdirSync(workDir);
		const outputs = new SocketOutputs(packager, workDir, logger);
		const progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>[] = [];
		const stop = new AbortController();
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
			openOutputs: (run, renditions, servedFrom) => outputs.open(run, renditions, servedFrom),
			outputBytes: (run) => outputs.bytesOf(run),
			onAir: async (run, signal) => {
				await expect.poll(() => signal.aborted || onAir.some((n) => n >= run), { timeout: 60_000, interval: 50 }).toBe(true);
				if (signal.aborted) throw new Error('stopped before it went on air');
			},
			degradation,
			signal: stop.signal,
			...(stopping && { stopping }),
			logger: runnerLogger,
			reportProgress: async (p) => void progress.push(p),
		});
		const end = async (): Promise<void> => {
			stop.abort();
			await broadcast;
			await outputs.close();
			await packager.end();
			senderProcess.kill('SIGKILL');
			await client.close();
			server.close();
			redis.disconnect();
		};
		stage.stopFirst = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};
		return { messages, onAir, progress, end };
	}

	/** Every rendition publishes parts before and after the one switch, continuous in program-date-time, no gap segment. */
	function expectSeamlessSwitch(messages: { at: number; message: HlsMessage }[]): void {
		const switchedAt = messages.findLast((m) => m.message.event.type === 'init')!.at;
		expect(messages.filter((m) => m.message.event.type === 'gap')).toEqual([]);
		for (const rendition of ['720p', '360p', 'audio']) {
			const parts = messages.filter((m): m is { at: number; message: { event: Part; bytes: Buffer } } => m.message.event.type === 'part' && m.message.event.rendition === rendition);
			expect(parts.filter((p) => p.at < switchedAt).length, `${rendition} parts before the switch`).toBeGreaterThan(10);
			expect(parts.filter((p) => p.at >= switchedAt).length, `${rendition} parts after the switch`).toBeGreaterThan(10);
			// One discontinuity, at the new run's init section; its first segment starts where the last one ended.
			const segments = parts.flatMap((p) => (p.message.event.segment ? [{ msn: p.message.event.msn, ...p.message.event.segment }] : []));
			const breaks = segments.filter((s) => s.discontinuity);
			expect(breaks.map((s) => s.initIndex), rendition).toEqual([1]);
			const previous = segments[segments.indexOf(breaks[0]!) - 1]!;
			const previousEnd = previous.pdtMs + parts.filter((p) => p.message.event.msn === previous.msn).reduce((sum, p) => sum + p.message.event.durationS * 1000, 0);
			expect(breaks[0]!.msn, rendition).toBe(previous.msn + 1);
			expect(Math.abs(breaks[0]!.pdtMs - previousEnd), `${rendition}: program-date-time across the switch`).toBeLessThan(1000);
		}
	}

	/** The picture size of a rendition's init section `initIndex` and the parts after it, decoded by ffprobe. */
	async function pictureSize(messages: { at: number; message: HlsMessage }[], rendition: string, initIndex: number): Promise<string> {
		const init = messages.find((m) => m.message.event.type === 'init' && m.message.event.rendition === rendition && m.message.event.index === initIndex)!;
		const parts = messages.filter((m) => m.message.event.type === 'part' && m.message.event.rendition === rendition && m.at >= init.at).slice(0, 10);
		const file = path.join(dir, `${rendition}-${initIndex}-${randomUUID()}.mp4`);
		fs.writeFileSync(file, Buffer.concat([init.message.bytes, ...parts.map((p) => p.message.bytes)]));
		const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]);
		return stdout.trim();
	}

	it('puts a run without the 720p encode on air with no gap: 720p carries the 360p pictures', { timeout: 60_000 }, async () => {
		// Shed as soon as judged: no live encode keeps 2× real time, and none is taken for one waiting on its inputs
		// however idle its main thread (`inputBoundBelow`, unit-tested in EncoderDegradation.test.ts). Level 1 at most.
		// The first run encodes everything however busy the machine (startIdleCores 0): the test reads its 720p first.
		const { messages, onAir, progress, end } = await broadcastWith('space-shed', { policy: { shedBelowSpeed: 2, shedAfterMs: 1000, settleMs: 3000, inputBoundBelow: 0 }, maxLevel: 1, startIdleCores: 0 });
		await expect.poll(() => onAir, { timeout: 30_000 }).toEqual([0, 1]);
		await expect.poll(() => progress.at(-1), { timeout: 5000 }).toMatchObject({ state: 'live', level: 1, shed: ['720p'] });
		// Three seconds of level 1 on air.
		await new Promise((resolve) => setTimeout(resolve, 3000));
		await end();

		// A deliberate switch is no restart.
		expect(progress.filter((p) => p.state === 'restarting')).toEqual([]);
		expect(progress.every((p) => p.restarts === 0)).toBe(true);
		expect(progress.some((p) => p.state === 'live' && p.level === 0 && p.health !== undefined)).toBe(true);
		expectSeamlessSwitch(messages);
		expect(await pictureSize(messages, '720p', 0)).toBe('1280,720');
		expect(await pictureSize(messages, '720p', 1)).toBe('640,360');
		expect(await pictureSize(messages, '360p', 1)).toBe('640,360');
	});

	// The same shed, on a machine the runner judges starved (fewer idle cores than startIdleCores, here always): two
	// encoders at once would slow the one on air further (5-8 s without a part in bench:pressure), so the run on air
	// stops as soon as the lighter one reads the stage, not once it is on air — or at a deadline, should the lighter run
	// be slow to read (here 1 ms: at once, long before its input's dump).
	it.each([
		{ how: 'once the lighter run reads the stage', handOverWithinMs: undefined, msg: 'machine starved: the lighter run reads the stage, the run on air stops' },
		{ how: 'at its deadline when the lighter run is slow to read', handOverWithinMs: 1, msg: 'machine starved: the lighter run has not read the stage in time, the run on air stops all the same' },
	])('on a starved machine stops the run on air $how, and dates any time between as gap segments', { timeout: 60_000 }, async ({ handOverWithinMs, msg }) => {
		const logged: { msg: string; run?: number; lighter?: number; afterMs?: number }[] = [];
		const runnerLogger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; run?: number }) });
		const degradation = { policy: { shedBelowSpeed: 2, shedAfterMs: 1000, settleMs: 3000, inputBoundBelow: 0 }, maxLevel: 1, initialLevel: 0, startIdleCores: 64, ...(handOverWithinMs !== undefined && { handOverWithinMs }) };
		const { messages, onAir, progress, end } = await broadcastWith(`space-starved-${handOverWithinMs ?? 'read'}`, degradation, runnerLogger);
		await expect.poll(() => onAir, { timeout: 30_000 }).toEqual([0, 1]);
		await expect.poll(() => progress.at(-1), { timeout: 5000 }).toMatchObject({ state: 'live', level: 1, shed: ['720p'] });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		await end();

		// Run 0 was told to stop once run 1 had started and read the stage (its input's dump) or its deadline passed,
		// before run 1 went on air.
		const messagesLogged = JSON.stringify(logged.map((l) => l.msg));
		const started = logged.findIndex((l) => l.msg === 'encoder run starting' && l.run === 1);
		const handedOver = logged.findIndex((l) => l.msg === msg && l.run === 0 && l.lighter === 1);
		const lighterOnAir = logged.findIndex((l) => l.msg === 'encoder level on air' && l.run === 1);
		expect(started, messagesLogged).toBeGreaterThanOrEqual(0);
		expect(handedOver, messagesLogged).toBeGreaterThan(started);
		expect(lighterOnAir, messagesLogged).toBeGreaterThan(handedOver);
		console.log(`STARVED_SHED run 0 stopped ${logged[handedOver]!.afterMs} ms after run 1 started (${handOverWithinMs === undefined ? 'read' : 'deadline'})`);
		if (handOverWithinMs !== undefined) expect(logged[handedOver]!.afterMs).toBeLessThan(500);
		expect(progress.filter((p) => p.state === 'restarting')).toEqual([]);
		expect(progress.every((p) => p.restarts === 0)).toBe(true);
		// Every rendition goes on after one discontinuity, dated where the run before ended plus the gap segments
		// listed for the capture time no run delivered (none when the lighter run took over within half a segment).
		for (const rendition of ['720p', '360p', 'audio']) {
			const parts = messages.filter((m): m is { at: number; message: { event: Part; bytes: Buffer } } => m.message.event.type === 'part' && m.message.event.rendition === rendition);
			const segments = parts.flatMap((p) => (p.message.event.segment ? [{ msn: p.message.event.msn, ...p.message.event.segment }] : []));
			const breaks = segments.filter((s) => s.discontinuity);
			expect(breaks.map((s) => s.initIndex), rendition).toEqual([1]);
			expect(parts.filter((p) => p.message.event.msn >= breaks[0]!.msn).length, `${rendition} parts after the switch`).toBeGreaterThan(10);
			const gaps = messages.flatMap((m) => (m.message.event.type === 'gap' && m.message.event.rendition === rendition ? [m.message.event] : []));
			const previous = segments.filter((s) => s.msn < breaks[0]!.msn).at(-1)!;
			const previousEnd = previous.pdtMs + parts.filter((p) => p.message.event.msn === previous.msn).reduce((sum, p) => sum + p.message.event.durationS * 1000, 0);
			expect(breaks[0]!.msn, rendition).toBe(previous.msn + 1 + gaps.length);
			const gapMs = gaps.reduce((sum, g) => sum + g.durationS * 1000, 0);
			expect(Math.abs(breaks[0]!.pdtMs - (previousEnd + gapMs)), `${rendition}: program-date-time across the switch`).toBeLessThan(1000);
		}
		expect(await pictureSize(messages, '720p', 1)).toBe('640,360');
	});

	it('starts no run once asked to stop, while the run on air drains', { timeout: 60_000 }, async () => {
		// A shed due 1 s after the stop is asked for (a recorded space's encoder drains what it holds meanwhile): the
		// run on air must not be replaced (it was, and the new run went on air after the space had ended).
		const stopping = new AbortController();
		const logged: { msg: string; run?: number }[] = [];
		const runnerLogger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; run?: number }) });
		const { onAir, progress, end } = await broadcastWith('space-stopping', { policy: { shedBelowSpeed: 2, shedAfterMs: 3000, settleMs: 3000, inputBoundBelow: 0 }, maxLevel: 1, initialLevel: 0, startIdleCores: 0 }, runnerLogger, stopping.signal);
		await expect.poll(() => onAir, { timeout: 30_000 }).toEqual([0]);
		await expect.poll(() => progress.at(-1)?.state, { timeout: 5000 }).toBe('live');
		stopping.abort();
		// Past when the shed was due (3 s below the policy's speed, from on air), and a run's start-up after it.
		await expect.poll(() => logged.some((l) => l.msg === 'encoder behind real time: shedding work'), { timeout: 15_000 }).toBe(true);
		await new Promise((resolve) => setTimeout(resolve, 3000));
		await end();
		expect(logged.filter((l) => l.msg === 'encoder run starting').map((l) => l.run)).toEqual([0]);
		expect(onAir).toEqual([0]);
	});

	it('restores the 720p encode when the encoder has headroom', { timeout: 60_000 }, async () => {
		// Starts shed; any speed and any idle CPU is headroom, judged after 2 s on air.
		const { messages, onAir, progress, end } = await broadcastWith('space-restore', {
			initialLevel: 1,
			maxLevel: 1,
			policy: { shedBelowSpeed: 0, stalledBelowSpeed: 0, maxLagMs: Infinity, restoreAtSpeed: 0, restoreAfterMs: 1000, minDwellMs: 0, settleMs: 2000, idleMargin: 0 },
		});
		await expect.poll(() => onAir, { timeout: 30_000 }).toEqual([0, 1]);
		await expect.poll(() => progress.at(-1), { timeout: 5000 }).toMatchObject({ state: 'live', level: 0, shed: [] });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		await end();

		expect(progress.find((p) => p.state === 'live')).toMatchObject({ level: 1, shed: ['720p'] });
		expectSeamlessSwitch(messages);
		expect(await pictureSize(messages, '720p', 0)).toBe('640,360');
		expect(await pictureSize(messages, '720p', 1)).toBe('1280,720');
	});
});
