import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { computeLayout, connectRedis, runStageBroadcast, StageLinkClient, type BroadcastProgress, type Layout, type StageLinkSnapshot } from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { stageForTests } from './support/testStage.js';

const execFileAsync = promisify(execFile);
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

describe('runStageBroadcast(): the broadcast follows the stage', () => {
	const stage = stageForTests('space-live', 'tribune-stage-broadcast-', logger);
	const { dir, speakers } = stage;

	/** A synthetic speaker sending a tone (and a solid-colour camera) into the router; returns its producers. */
	const speaker = (toneHz: number, ssrc: number, colour?: string, codec: 'VP8' | 'H264' = 'VP8') => speakers.add(stage.router, { toneHz, ssrc, codec, ...(colour && { colour }) });

	it('follows joins, cameras on and off (an H264 one as initials), mutes, the active speaker, a pin and a leave in one running encode; a stage outgrowing its slots gets a new one', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-live' ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const ada = await speaker(440, 100, '#d02020');
		const eve = await speaker(660, 200, '#2040e0');
		const snapshot = (version: number, speakers: StageLinkSnapshot['speakers'], activeSpeakerId?: string): StageLinkSnapshot => ({
			spaceId: 'space-live', node: 'node-1', version, speakers, pinned: [], ...(activeSpeakerId && { activeSpeakerId }),
		});
		const adaOnStage = { peerId: 'ada', name: 'Ada Lovelace', audioProducerId: ada.audio.id, videoProducerId: ada.video!.id, muted: false };
		const eveOnStage = { peerId: 'eve', name: 'Eve', audioProducerId: eve.audio.id, videoProducerId: eve.video!.id, muted: false };
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
		stage.stopFirst = () => {
			stop.abort();
			return broadcast.catch(() => undefined);
		};

		await expect.poll(() => progress.includes('live'), { timeout: 15_000 }).toBe(true);
		// Each run consumes under its own session, released when the run ends.
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r0': 2 });
		// Ada's camera shows in her tile once its first keyframe passed her slot's relay.
		await expect.poll(() => tileOf(0, 'ada')?.video, { timeout: 15_000 }).toBe(true);

		// Eve joins with her camera: a free slot of the running encode takes her, no new run.
		await server.publishSnapshot(snapshot(2, [adaOnStage, eveOnStage]));
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r0': 4 });
		await expect.poll(() => tileOf(0, 'eve')?.name, { timeout: 15_000 }).toBe('Eve');
		await expect.poll(() => tileOf(0, 'eve')?.video, { timeout: 15_000 }).toBe(true);
		// Eve talks: the frame and the dot follow her live.
		await server.publishSnapshot(snapshot(3, [adaOnStage, eveOnStage], 'eve'));
		await expect.poll(() => tileOf(0, 'eve')?.active, { timeout: 5000 }).toBe(true);

		// Eve is muted: her producer pauses at the server. The broadcast keeps going on silence, without a restart.
		await eve.audio.pause();
		await server.publishSnapshot(snapshot(4, [adaOnStage, { ...eveOnStage, muted: true }], 'ada'));
		await expect.poll(() => tileOf(0, 'eve')?.muted, { timeout: 5000 }).toBe(true);
		// The encode keeps real-time speed through the mute (a mix waiting on a silent input would drop towards 0).
		const beforeMute = speeds.length;
		await expect.poll(() => speeds.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(beforeMute + 4);
		expect(Math.min(...speeds.slice(beforeMute + 1))).toBeGreaterThan(0.8);
		await eve.audio.resume();
		await server.publishSnapshot(snapshot(5, [adaOnStage, eveOnStage], 'eve'));
		await expect.poll(() => tileOf(0, 'eve')?.muted, { timeout: 5000 }).toBe(false);

		// The host pins Eve: her tile moves to the top row and Ada's camera below, in the running encode.
		await server.publishSnapshot({ ...snapshot(6, [adaOnStage, eveOnStage], 'eve'), pinned: ['eve'] });
		await expect.poll(() => tileOf(0, 'eve')?.pinned, { timeout: 5000 }).toBe(true);
		expect(opened).toEqual([0]);
		expect(restarts).toBe(0);

		// Ada turns her camera off (her video producer closes) and on again (a new one): initials, then her camera, in
		// the running encode.
		const adaVideoBefore = ada.video!;
		adaVideoBefore.close();
		await server.publishSnapshot({ ...snapshot(7, [{ ...adaOnStage, videoProducerId: undefined }, eveOnStage], 'eve'), pinned: ['eve'] });
		await expect.poll(() => tileOf(0, 'ada')?.video, { timeout: 5000 }).toBe(false);
		const adaAgain = await speaker(440, 300, '#d02020');
		await server.publishSnapshot({ ...snapshot(8, [{ ...adaOnStage, videoProducerId: adaAgain.video!.id }, eveOnStage], 'eve'), pinned: ['eve'] });
		await expect.poll(() => tileOf(0, 'ada')?.video, { timeout: 15_000 }).toBe(true);
		expect(opened).toEqual([0]);
		// Let the moves reach the encoded picture before the run ends (checked below).
		await new Promise((resolve) => setTimeout(resolve, 1500));

		// Hal joins with an H264 camera: the slots composite VP8, so his tile shows initials and his camera consumer is
		// closed; his voice is in. Still the same encode.
		const hal = await speaker(880, 400, '#20d020', 'H264');
		const halOnStage = { peerId: 'hal', name: 'Hal', audioProducerId: hal.audio.id, videoProducerId: hal.video!.id, muted: false };
		await server.publishSnapshot({ ...snapshot(9, [{ ...adaOnStage, videoProducerId: adaAgain.video!.id }, eveOnStage, halOnStage], 'eve'), pinned: ['eve'] });
		await expect.poll(() => tileOf(0, 'hal')?.name, { timeout: 15_000 }).toBe('Hal');
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r0': 5 });
		await new Promise((resolve) => setTimeout(resolve, 1000));
		expect(tileOf(0, 'hal')?.video).toBe(false);
		expect(server.sessions).toEqual({ 'job-1-r0': 5 });
		expect(opened).toEqual([0]);

		// Three more people are invited up: six on a stage of four slots needs a new encode, with room to spare.
		const guests = ['gus', 'guy', 'gia'].map((peerId) => ({ peerId, name: peerId, muted: false }));
		const adaNow = { ...adaOnStage, videoProducerId: adaAgain.video!.id };
		await server.publishSnapshot({ ...snapshot(10, [adaNow, eveOnStage, halOnStage, ...guests], 'eve'), pinned: ['eve'] });
		await expect.poll(() => opened, { timeout: 15_000 }).toEqual([0, 1]);
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r1': 5 });
		expect(restarts).toBe(1);

		// Eve leaves: her consumers close and her slot is hidden, in the running encode.
		await server.publishSnapshot({ ...snapshot(11, [adaNow, halOnStage, ...guests]), pinned: ['eve'] });
		await expect.poll(() => server.sessions, { timeout: 15_000 }).toEqual({ 'job-1-r1': 3 });
		await expect.poll(() => shown.get(1)?.tiles.map((t) => t.speakerId).sort(), { timeout: 5000 }).toEqual(['ada', 'gia', 'gus', 'guy', 'hal']);
		expect(opened).toEqual([0, 1]);

		stop.abort();
		await broadcast;
		expect(progress.at(-1)).toBe('stopping');
		expect(server.sessions).toEqual({});

		const probe = async (file: string) => (await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,width', '-of', 'csv=p=0', file])).stdout.trim().split('\n').sort();
		expect(await probe(path.join(dir, 'run-0-360p.mp4'))).toEqual(['audio', 'video,640']);
		expect(await probe(path.join(dir, 'run-0-audio.mp4'))).toEqual(['audio']);
		// The audio-only rendition lasts the whole run, the mute included.
		const duration = async (file: string) => Number((await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(dir, file)])).stdout);
		expect(await duration('run-0-audio.mp4')).toBeGreaterThan((await duration('run-0-360p.mp4')) - 1.5);

		// The first run's last picture: Eve pinned on top with the active-speaker frame on her tile's edge, her camera
		// (blue) in it, Ada's camera (red) in the grid below next to Hal's initials — all moved there live, through
		// ffmpeg's zmq filter.
		const layout = computeLayout({ speakers: [adaOnStage, eveOnStage, halOnStage].map((s) => ({ id: s.peerId, name: s.name, video: s.peerId !== 'hal', muted: false })), pinned: ['eve'] }, { width: 640, height: 360 });
		expect(layout.tiles[0]).toMatchObject({ speakerId: 'eve', y: 16 });
		const { stdout: last } = await execFileAsync('ffmpeg', ['-v', 'error', '-sseof', '-0.3', '-i', path.join(dir, 'run-0-360p.mp4'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 24 });
		const pixel = (x: number, y: number): number[] => {
			const offset = (y * 640 + x) * 3;
			return [last[offset]!, last[offset + 1]!, last[offset + 2]!];
		};
		const tile = (peerId: string) => layout.tiles.find((t) => t.speakerId === peerId)!;
		const edgeColour = (peerId: string): number[] => pixel(tile(peerId).x + 2, tile(peerId).y + Math.round(tile(peerId).height / 2));
		const centre = (peerId: string): number[] => pixel(tile(peerId).x + Math.round(tile(peerId).width / 2), tile(peerId).y + Math.round(tile(peerId).height / 2));
		const near = ([r, g, b]: number[], [er, eg, eb]: number[]) => Math.abs(r! - er!) < 40 && Math.abs(g! - eg!) < 40 && Math.abs(b! - eb!) < 40;
		expect(near(edgeColour('eve'), [0x6e, 0xe7, 0xa8]), `Eve's tile edge ${edgeColour('eve').join(',')}`).toBe(true);
		expect(near(edgeColour('ada'), [0x6e, 0xe7, 0xa8]), `Ada's tile edge ${edgeColour('ada').join(',')}`).toBe(false);
		expect(near(centre('eve'), [0x20, 0x40, 0xe0]), `Eve's tile centre ${centre('eve').join(',')}`).toBe(true);
		expect(near(centre('ada'), [0xd0, 0x20, 0x20]), `Ada's tile centre ${centre('ada').join(',')}`).toBe(true);

		await client.close();
		server.close();
		redis.disconnect();
	});
});
