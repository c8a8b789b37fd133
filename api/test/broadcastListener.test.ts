import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium, openPlayer, playerRoutes, sample, type PlayerSample } from './origin/support/hlsPage.js';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { commandOf, descendants, freePort } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { postJson } from './support/startTestNode.js';

/**
 * A listener's side of a live space while the stage changes and the broadcast fails: Tribune runs as `npm start`
 * does (compiled; two transcoder processes), hls.js plays the space in headless Chromium, and the host changes the
 * stage five times (two joins, a pin, a mute, a removal), then the broadcast ffmpeg and then the transcoder running
 * the job are killed with -9. After each event the player must be playing again with no fatal error. Stall time per
 * event and recovery times are measured and, with TRIBUNE_BENCH_OUT set (`npm run bench:listener`), written as JSON.
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
		const addSpeaker = async (displayName: string): Promise<string> => {
			const added = await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName, text: say, video }, hostToken);
			expect(added.status).toBe(201);
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

		const results: { event: string; stall_ms: number; resumed_ms: number; origin_ms?: number; switch_ms?: number }[] = [];
		/** Runs one event, then waits for the player to play 2 s past where it was, and records its stall. */
		const measure = async (event: string, act: () => Promise<void>, settleMs = 4000): Promise<void> => {
			const before = await sample(page);
			const at = Date.now();
			log?.write(`${JSON.stringify({ time: at, msg: 'TEST EVENT', event })}\n`);
			await act();
			const resumedAt = await playedPast(page, before.currentTime, 2, 30_000);
			await sleep(Math.max(0, at + settleMs - Date.now()));
			const after = await sample(page);
			expect(after.errors.filter((e) => e.startsWith('FATAL')), event).toEqual([]);
			const firstPart = watcher.firstPartAfter(at + 50);
			// When the new encoder run went on air at the origin (its discontinuity), for events that start one.
			const switchedAt = watcher.discontinuityAt.find((t) => t > at);
			results.push({
				event, stall_ms: stallMs(after, at, Date.now()), resumed_ms: resumedAt - at,
				...(firstPart !== undefined && { origin_ms: firstPart - at }), ...(switchedAt !== undefined && { switch_ms: switchedAt - at }),
			});
		};

		let second = '';
		let third = '';
		await measure('join', async () => void (second = await addSpeaker('Second')));
		await measure('join', async () => void (third = await addSpeaker('Third')));
		await measure('pin', async () => void (await host.request('pin', { participantId: second })));
		await measure('mute', async () => void (await host.request('mute', { participantId: first })));
		await measure('remove', async () => void (await host.request('remove', { participantId: third, ban: false })));
		if (process.env.TRIBUNE_TEST_LOG_LEVEL && !log) console.log('OUTPUT', output.slice(-15000));
		expect(watcher.discontinuities).toBeGreaterThanOrEqual(3); // joins, pin and removal restart ffmpeg; a mute does not

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
			change_switch_ms: results.slice(0, 5).map((r) => r.switch_ms ?? null),
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
