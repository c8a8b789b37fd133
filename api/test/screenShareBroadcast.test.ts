import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { computeLayout, connectRedis, runStageBroadcast, StageLinkClient, type Layout, type StageLinkSnapshot } from '@tribune/transcoder';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { drawSlide, encodeSlideClip, startSlideShare, type SlideShare } from './support/slideShare.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const canvas = { width: 640, height: 360 };
const spaceId = 'space-share';

/** The last frame written so far to a growing fragmented MP4, as rgb24 (every frame decoded, the last one kept). */
async function lastFrame(file: string): Promise<Buffer> {
	const png = `${file}.last.png`;
	await execFileAsync('ffmpeg', ['-v', 'error', '-y', '-i', file, '-map', '0:v:0', '-update', '1', png], { timeout: 30_000 });
	const { stdout } = await execFileAsync('ffmpeg', ['-v', 'error', '-i', png, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 4 * 1024 * 1024, timeout: 30_000 });
	if (stdout.length !== canvas.width * canvas.height * 3) throw new Error(`a frame of ${stdout.length} bytes`);
	return stdout;
}

/** Mean brightness (0–255) of a rectangle of a frame. */
function brightness(frame: Buffer, rect: { x: number; y: number; width: number; height: number }): number {
	let sum = 0;
	let count = 0;
	for (let y = rect.y; y < rect.y + rect.height; y += 2) {
		for (let x = rect.x; x < rect.x + rect.width; x += 2) {
			const offset = (y * canvas.width + x) * 3;
			sum += frame[offset]! + frame[offset + 1]! + frame[offset + 2]!;
			count += 3;
		}
	}
	return sum / count;
}

// A standing encode (runStageBroadcast, real mediasoup router, stage link, ffmpeg) of two speakers without cameras: a
// speaker shares a white slide, the share stops, the other speaker shares with tab sound. The slide's white must fill
// the share's box (right of the slide's text) while a share is on, the box must be gone while none is, and all of it
// must happen in the one ffmpeg run the broadcast started with.
describe('runStageBroadcast(): a screen share in the standing encode', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-screen-share-'));
	const processes: ChildProcess[] = [];
	const shares: SlideShare[] = [];
	let pool: WorkerPool;
	let router: types.Router;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId });
	});

	afterAll(() => {
		for (const share of shares) share.close();
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	/** Two speakers (tones, no cameras) on a real stage link, and a standing encode of them writing 360p to a file. */
	async function startBroadcast(name: string) {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const speakers: StageLinkSnapshot['speakers'] = [];
		for (const [i, speaker] of ['Ada', 'Bob'].entries()) {
			const audioIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
			const plan = buildRtpSenderPlan({ audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 400 + i, payloadType: 100, source: { toneHz: 440 + 110 * i } }, durationS: 150 });
			const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
			processes.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
			speakers.push({ peerId: `p${i}`, name: speaker, audioProducerId: audio.id, muted: false });
		}
		let version = 1;
		const publish = (screenShare?: StageLinkSnapshot['screenShare']) =>
			server.publishSnapshot({ spaceId, node: 'node-1', version: version++, speakers, pinned: [], ...(screenShare && { screenShare }) });
		await publish();

		const opened: number[] = [];
		const states: string[] = [];
		const shown: Layout[] = [];
		const stop = new AbortController();
		const output = path.join(dir, `${name}-run-0-360p.mp4`);
		const broadcast = runStageBroadcast({
			spaceId, composite: true, link: client, sessionId: `job-${name}`,
			ladder: [{ name: '360p', video: { width: 640, height: 360, kbps: 800 }, audioKbps: 64 }],
			latency: { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 }, canvas,
			workDir: path.join(dir, `job-${name}`), fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			// Longer than the test: the run must never be replaced.
			stallTimeoutMs: 120_000,
			openOutputs: async (run, renditions) => {
				opened.push(run);
				return Object.fromEntries(renditions.map((r) => [r.name, path.join(dir, `${name}-run-${run}-${r.name}.mp4`)]));
			},
			signal: stop.signal,
			onLiveLayout: (_run, layout) => void shown.push(layout),
			logger,
			reportProgress: async (p) => void states.push(p.state),
		});
		const ended = broadcast.then(() => undefined, (error: unknown) => String(error));
		// A white area of the slide in the share's box: right of its text, below its title (slide x 75–95 %, y 20–30 %).
		const presentation = computeLayout({ speakers: speakers.map((s) => ({ id: s.peerId, name: s.name, video: false, muted: false })), pinned: [], screen: { speakerId: 'p0' } }, canvas);
		const box = presentation.screen!;
		const white = { x: Math.round(box.x + box.width * 0.75), y: Math.round(box.y + box.height * 0.2), width: Math.round(box.width * 0.2), height: Math.round(box.height * 0.1) };
		const slideShown = async () => brightness(await lastFrame(output), white);
		const close = async () => {
			stop.abort();
			await ended;
			await client.close();
			server.close();
			redis.disconnect();
		};
		return { speakers, publish, opened, states, shown, stop, output, ended, slideShown, close };
	}

	it('switches to the presentation layout and back, and follows a second sharer, without a new encoder run', { timeout: 180_000 }, async () => {
		const { publish, opened, states, shown, stop, output, ended, slideShown, close } = await startBroadcast('share');
		try {
			await expect.poll(() => (fs.existsSync(output) ? fs.statSync(output).size : 0), { timeout: 30_000, interval: 250 }).toBeGreaterThan(20_000);
			expect(await slideShown(), 'no share: the dark stage').toBeLessThan(120);

			const clip = await encodeSlideClip(dir, await drawSlide(dir), { kbps: 1500 });
			const first = await startSlideShare(router, { clip, ssrc: 900 });
			shares.push(first);
			// Its first keyframe goes out before anyone consumes it: the broadcast must ask for one.
			await new Promise((resolve) => setTimeout(resolve, 500));
			await publish({ peerId: 'p0', videoProducerId: first.producer.id });
			await expect.poll(slideShown, { timeout: 30_000, interval: 500 }).toBeGreaterThan(200);
			expect(shown.at(-1)?.screen?.speakerId).toBe('p0');
			expect(first.requests, 'the share was asked for a keyframe').toBeGreaterThanOrEqual(1);

			// The share ends: the box goes, the grid comes back.
			await publish();
			await expect.poll(slideShown, { timeout: 30_000, interval: 500 }).toBeLessThan(120);
			expect(shown.at(-1)?.screen).toBeUndefined();
			first.close();

			// Bob shares a tab with its sound: his share shows in the same run, and the encode keeps going with the tab's
			// sound in the mix.
			const second = await startSlideShare(router, { clip, ssrc: 902 });
			shares.push(second);
			const tabIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
			const tabPlan = buildRtpSenderPlan({ audio: { host: ip, rtpPort: tabIn.tuple.localPort, rtcpPort: tabIn.rtcpTuple!.localPort, ssrc: 450, payloadType: 100, source: { toneHz: 880 } }, durationS: 120 });
			const tab = await tabIn.produce({ kind: 'audio', rtpParameters: tabPlan.audioRtpParameters!, appData: { source: 'screenAudio' } });
			processes.push(spawn('ffmpeg', tabPlan.args, { stdio: 'ignore' }));
			await new Promise((resolve) => setTimeout(resolve, 500));
			await publish({ peerId: 'p1', videoProducerId: second.producer.id, audioProducerId: tab.id });
			await expect.poll(slideShown, { timeout: 30_000, interval: 500 }).toBeGreaterThan(200);
			const size = fs.statSync(output).size;
			await expect.poll(() => fs.statSync(output).size, { timeout: 30_000, interval: 500 }).toBeGreaterThan(size + 50_000);
			expect(shown.at(-1)?.screen?.speakerId).toBe('p1');
			// Bob, the sharer, is in the strip beside it.
			expect(shown.at(-1)?.tiles.map((t) => t.speakerId)).toContain('p1');

			stop.abort();
			expect(await ended).toBeUndefined();
			expect(opened, 'one encoder run throughout').toEqual([0]);
			expect(states).not.toContain('restarting');
		} finally {
			await close();
		}
	});

	it('a still screen (a picture a second, as Chromium sends one) does not hold up the composite', { timeout: 120_000 }, async () => {
		const { publish, opened, output, slideShown, close } = await startBroadcast('still');
		try {
			await expect.poll(() => (fs.existsSync(output) ? fs.statSync(output).size : 0), { timeout: 30_000, interval: 250 }).toBeGreaterThan(20_000);
			const clip = await encodeSlideClip(dir, await drawSlide(dir), { fps: 1, kbps: 1500 });
			const still = await startSlideShare(router, { clip, ssrc: 904 });
			shares.push(still);
			await new Promise((resolve) => setTimeout(resolve, 500));
			await publish({ peerId: 'p0', videoProducerId: still.producer.id });
			await expect.poll(slideShown, { timeout: 30_000, interval: 500 }).toBeGreaterThan(200);
			// ffmpeg writes a fragment every 200 ms of media. Held on its last picture between the share's pictures, the
			// composite writes them as time passes (about 25 in 5 s); waiting for the share's next picture, it wrote them
			// in one burst a second.
			const growths: number[] = [];
			let size = fs.statSync(output).size;
			const until = Date.now() + 5000;
			while (Date.now() < until) {
				await new Promise((resolve) => setTimeout(resolve, 40));
				const now = fs.statSync(output).size;
				if (now !== size) growths.push(Date.now());
				size = now;
			}
			const bursts = growths.filter((at, i) => i === 0 || at - growths[i - 1]! > 120).length;
			expect(bursts, `the output grew at ${growths.map((at) => at - until + 5000).join(', ')} ms`).toBeGreaterThanOrEqual(12);
			expect(await slideShown(), 'the slide still shown').toBeGreaterThan(200);
			expect(opened, 'one encoder run throughout').toEqual([0]);
		} finally {
			await close();
		}
	});
});
