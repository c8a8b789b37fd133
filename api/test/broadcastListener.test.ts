import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { computeLayout, type Layout } from '@tribune/transcoder';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium, openPlayer, playerRoutes, sample, type PlayerSample } from './origin/support/hlsPage.js';
import { decodeWithFfmpeg } from './support/decodeWithFfmpeg.js';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { commandOf, descendants, freePort } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { postJson } from './support/startTestNode.js';

/**
 * A listener's side of a live space while the stage changes and the broadcast fails: Tribune runs as `npm start`
 * does (compiled; two transcoder processes), hls.js plays the space in headless Chromium, and the host changes the
 * stage five times (two joins, a pin, a mute, a removal) — each made in the running encode, so the timeline must not
 * break — then the broadcast ffmpeg and then the transcoder running the job are killed with -9. After each event the
 * player must be playing again with no fatal error. Stall time per event, when each change is on air at the origin
 * (video spaces: its camera seen in a decoded part) and recovery times are measured and, with TRIBUNE_BENCH_OUT set
 * (`npm run bench:listener`), written as JSON.
 */
const root = path.resolve(import.meta.dirname, '../..');
/** TRIBUNE_LISTENER_VIDEO=1: a video space whose synthetic speakers send a camera (the composite and its ladder). */
const video = process.env.TRIBUNE_LISTENER_VIDEO === '1';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-listener-'));
let tribune: ChildProcess | undefined;
let browser: Browser | undefined;
let pageServer: http.Server | undefined;
let output = '';

afterAll(async () => {
	await browser?.close();
	pageServer?.closeAllConnections();
	pageServer?.close();
	if (tribune?.pid && tribune.exitCode === null) {
		process.kill(-tribune.pid, 'SIGINT');
		await new Promise((resolve) => tribune!.once('exit', resolve));
	}
	fs.rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The colour of one pixel of the last frame of an fMP4 (init + fragments), decoded by ffmpeg; [] if it cannot. */
async function pixelOf(mp4: Buffer, x: number, y: number): Promise<number[]> {
	const rgb = await decodeWithFfmpeg(mp4, ['-map', '0:v:0', '-vf', `format=rgb24,crop=1:1:${x}:${y}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24']);
	return [...rgb.subarray(-3)];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (let attempt = 0; attempt < 10_000; attempt++) {
		const value = await probe().catch(() => undefined);
		if (value !== undefined) return value;
		if (Date.now() > deadline) break;
		await sleep(100);
	}
	throw new Error(`timed out waiting for ${what}\n${output.slice(-3000)}`);
}

/** Stall time in [from, to], ms: every logged stall clipped to the window (one still open lasts until `to`). */
function stallMs(s: PlayerSample, from: number, to: number): number {
	return s.stallLog.reduce((sum, stall) => sum + Math.max(0, Math.min(stall.endMs ?? to, to) - Math.max(stall.startMs, from)), 0);
}

/** Waits until media time has advanced `seconds` past `from` on the player; returns when. */
async function playedPast(page: Page, from: number, seconds: number, timeoutMs: number): Promise<number> {
	return until(`playback to pass ${from + seconds} s`, async () => ((await sample(page)).currentTime >= from + seconds ? Date.now() : undefined), timeoutMs);
}

describe('a listener keeps playing while the stage changes and the broadcast fails', () => {
	it('plays across five stage changes, an ffmpeg kill and a transcoder kill, and measures the stalls', { timeout: 240_000 }, async () => {
		const port = await freePort();
		const base = `http://127.0.0.1:${port}`;
		const env: NodeJS.ProcessEnv = {
			...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: dataDir, SYNTHETIC_SPEAKERS: 'true', LOG_LEVEL: process.env.TRIBUNE_TEST_LOG_LEVEL ?? 'warn', TRANSCODER_PROCESSES: '2',
		};
		delete env.REDIS_URL;
		tribune = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		// TRIBUNE_LISTENER_LOG=<file>: the whole log (with TRIBUNE_TEST_LOG_LEVEL=debug, where each change's time goes).
		const log = process.env.TRIBUNE_LISTENER_LOG ? fs.createWriteStream(process.env.TRIBUNE_LISTENER_LOG) : undefined;
		tribune.stdout!.on('data', (chunk: Buffer) => {
			log?.write(chunk);
			output = (output + chunk.toString()).slice(-20_000);
		});
		tribune.stderr!.on('data', (chunk: Buffer) => {
			log?.write(chunk);
			output = (output + chunk.toString()).slice(-20_000);
		});
		await until('a healthy node with two transcoders', async () => {
			const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; transcoders: number };
			return health.ok && health.transcoders === 2 ? true : undefined;
		}, 40_000);

		const created = await postJson(`${base}/api/spaces`, { title: 'Listener under changes', hostName: 'Hana Host', settings: { video } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const hostToken = created.body.token!;
		expect((await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
		const say = 'This sentence keeps the synthetic speaker talking while the listener test changes the stage.';
		// Solid-colour cameras, so a frame at the origin tells where each speaker's tile is.
		const colours: Record<string, [number, number, number]> = { First: [255, 0, 0], Second: [0, 255, 0], Third: [0, 0, 255] };
		const colourOf = new Map<string, [number, number, number]>();
		const addSpeaker = async (displayName: string): Promise<string> => {
			const rgb = colours[displayName]!;
			const colour = `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
			const added = await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName, text: say, video, ...(video && { colour }) }, hostToken);
			expect(added.status).toBe(201);
			colourOf.set((added.body as { participant: { id: string } }).participant.id, rgb);
			return (added.body as { participant: { id: string } }).participant.id;
		};
		const first = await addSpeaker('First');
		const host = await SignalingClient.connect(`ws://127.0.0.1:${port}/ws`, hostToken);

		const watcher = new PlaylistWatcher(`${base}/hls/${spaceId}/${video ? '360p' : 'audio'}/index.m3u8`);
		watcher.start();
		await until('parts at the origin', async () => (watcher.parts.size >= 10 ? true : undefined), 40_000);

		// The listener's page is served from another origin, as an embed would be (the origin sends CORS headers).
		const app = express();
		playerRoutes(app);
		pageServer = http.createServer(app).listen(0, '127.0.0.1');
		await new Promise((resolve) => pageServer!.once('listening', resolve));
		const pageBase = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
		browser = await launchChromium();
		const page = await openPlayer(browser, pageBase, `${base}/hls/${spaceId}/master.m3u8`);
		await until('the listener playing', async () => ((await sample(page)).currentTime > 2 ? true : undefined), 30_000);

		/**
		 * Video spaces: when `speakerId`'s camera first shows at the centre of their tile on `layout` in a part at the
		 * origin (360p, half the 1280×720 canvas), by when that part was listed. Bounded to 15 s and 200 decoded parts.
		 */
		const shownAt = async (speakerId: string, layout: Layout, after: number): Promise<number | undefined> => {
			const tile = layout.tiles.find((t) => t.speakerId === speakerId)!;
			const [x, y] = [Math.floor((tile.x + tile.width / 2) / 2), Math.floor((tile.y + tile.height / 2) / 2)];
			const dir = `${base}/hls/${spaceId}/360p`;
			const checked = new Set<string>();
			const deadline = Date.now() + 15_000;
			while (Date.now() < deadline && checked.size < 200) {
				const playlist = await (await fetch(`${dir}/index.m3u8`)).text();
				let init = '';
				// A part decodes from the newest independent part before it (a keyframe) on.
				let run: string[] = [];
				for (const line of playlist.split('\n')) {
					init = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line)?.[1] ?? init;
					const uri = /^#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(line)?.[1];
					if (uri === undefined) continue;
					run = line.includes('INDEPENDENT=YES') ? [uri] : [...run, uri];
					const listed = watcher.parts.get(uri);
					if (listed === undefined || listed <= after || checked.has(uri) || !init) continue;
					checked.add(uri);
					const bytes = await Promise.all([init, ...run].map(async (u) => Buffer.from(await (await fetch(`${dir}/${u}`)).arrayBuffer())));
					const rgb = await pixelOf(Buffer.concat(bytes), x, y);
					if (rgb.length === 3 && rgb.every((c, i) => Math.abs(c - colourOf.get(speakerId)![i]!) <= 48)) return listed;
				}
				await sleep(100);
			}
			return undefined;
		};

		const results: { event: string; stall_ms: number; resumed_ms: number; origin_ms?: number; switch_ms?: number; on_air_ms?: number }[] = [];
		/**
		 * Runs one event, then waits for the player to play 2 s past where it was, and records its stall. `onAir`: when
		 * the change was seen at the origin, for changes made without a new encoder run.
		 */
		const measure = async (event: string, act: () => Promise<void>, settleMs = 4000, onAir?: (at: number) => Promise<number | undefined>): Promise<void> => {
			const before = await sample(page);
			const at = Date.now();
			log?.write(`${JSON.stringify({ time: at, msg: 'TEST EVENT', event })}\n`);
			await act();
			const seen = onAir?.(at);
			const resumedAt = await playedPast(page, before.currentTime, 2, 30_000);
			const onAirAt = await seen;
			await sleep(Math.max(0, at + settleMs - Date.now()));
			const after = await sample(page);
			expect(after.errors.filter((e) => e.startsWith('FATAL')), event).toEqual([]);
			const firstPart = watcher.firstPartAfter(at + 50);
			// When the new encoder run went on air at the origin (its discontinuity), for events that start one.
			const switchedAt = watcher.discontinuityAt.find((t) => t > at);
			results.push({
				event, stall_ms: stallMs(after, at, Date.now()), resumed_ms: resumedAt - at,
				...(firstPart !== undefined && { origin_ms: firstPart - at }), ...(switchedAt !== undefined && { switch_ms: switchedAt - at }),
				...(onAirAt !== undefined && { on_air_ms: onAirAt - at }),
			});
			if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(`${process.env.TRIBUNE_BENCH_OUT}.partial`, `${JSON.stringify(results)}\n`);
		};

		let second = '';
		let third = '';
		/** The stage as the host sees it, laid out as the composite draws it (every synthetic speaker has a camera). */
		const stageLayout = async (): Promise<Layout> => {
			const state = await host.request('getState');
			return computeLayout({ speakers: state.stage.map((p) => ({ id: p.id, name: p.displayName, video: colourOf.has(p.id), muted: false })), pinned: state.pinned }, { width: 1280, height: 720 });
		};
		// Every change is made in the running encode (no new ffmpeg run, no discontinuity). Video spaces: a change is on
		// air once a camera it moves (or brings) shows at the centre of its new tile in a part at the origin.
		const cameraShown = (speakerId: () => string) => (video ? async (at: number) => shownAt(speakerId(), await stageLayout(), at) : undefined);
		await measure('join', async () => void (second = await addSpeaker('Second')), 4000, cameraShown(() => second));
		await measure('join', async () => void (third = await addSpeaker('Third')), 4000, cameraShown(() => third));
		await measure('pin', async () => void (await host.request('pin', { participantId: second })), 4000, cameraShown(() => second));
		await measure('mute', async () => void (await host.request('mute', { participantId: first })));
		// Third leaves the grid below the pinned row: First's tile grows into the room.
		await measure('remove', async () => void (await host.request('remove', { participantId: third, ban: false })), 4000, cameraShown(() => first));
		if (process.env.TRIBUNE_TEST_LOG_LEVEL && !log) console.log('OUTPUT', output.slice(-15000));
		// No change on stage needed a new encoder run: the listeners' timeline never broke.
		const changeDiscontinuities = watcher.discontinuities;
		expect(changeDiscontinuities).toBe(0);
		if (video) for (const r of results) if (r.event !== 'mute') expect(r, r.event).toMatchObject({ on_air_ms: expect.any(Number) });

		const broadcastFfmpeg = (): number | undefined => descendants(tribune!.pid!).find((pid) => /ffmpeg .*-f sdp/.test(commandOf(pid)));
		await measure('ffmpeg_kill', async () => {
			const ffmpeg = broadcastFfmpeg();
			expect(ffmpeg).toBeDefined();
			process.kill(ffmpeg!, 'SIGKILL');
		});
		await measure('transcoder_kill', async () => {
			const ffmpeg = await until('the broadcast ffmpeg', async () => broadcastFfmpeg(), 10_000);
			const transcoder = Number(fs.readFileSync(`/proc/${ffmpeg}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
			expect(commandOf(transcoder)).toMatch(/transcoder\/dist\/main\.js/);
			process.kill(transcoder, 'SIGKILL');
		}, 12_000);
		watcher.stop();
		host.socket.close();

		// The stream the listener follows went on: more parts after the takeover, and the player kept up.
		const last = await sample(page);
		expect(last.playing && !last.paused).toBe(true);
		expect(results.map((r) => r.event)).toEqual(['join', 'join', 'pin', 'mute', 'remove', 'ffmpeg_kill', 'transcoder_kill']);
		const summary = {
			video,
			change_stall_ms: results.slice(0, 5).map((r) => r.stall_ms),
			change_max_stall_ms: Math.max(...results.slice(0, 5).map((r) => r.stall_ms)),
			change_discontinuities: changeDiscontinuities,
			// On air at the origin: the change seen in a decoded part (video spaces: the camera it brings or moves).
			change_on_air_ms: results.slice(0, 5).map((r) => r.on_air_ms ?? null),
			ffmpeg_kill_stall_ms: results[5]!.stall_ms,
			ffmpeg_kill_origin_ms: results[5]!.origin_ms ?? null,
			transcoder_kill_stall_ms: results[6]!.stall_ms,
			transcoder_kill_origin_ms: results[6]!.origin_ms ?? null,
			events: results,
		};
		console.log(JSON.stringify(summary));
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(summary)}\n`);
	});
});
