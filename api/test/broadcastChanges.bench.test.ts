import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { commandOf, descendants, freePort } from './support/processes.js';
import { postJson } from './support/startTestNode.js';

/**
 * `npm run bench:broadcast`: how the broadcast copes with changes and faults, seen from a listener's side of the
 * origin. Runs Tribune as `npm start` does (compiled), with a live audio space and a synthetic speaker, polls the
 * audio rendition's playlist every 20 ms like an eager player, and measures:
 * - change_ms: a speaker joins → the first part of the new encoder run (after its discontinuity) is at the origin;
 * - crash_recovery_ms: the broadcast ffmpeg is killed with -9 → the next new part is at the origin;
 * - max_gap_ms: the longest time without a new part around each event (what a listener's buffer must cover).
 * Writes a JSON summary (medians over the repetitions) to TRIBUNE_BENCH_OUT. Skipped unless TRIBUNE_BENCH=1.
 */
const repetitions = Number(process.env.TRIBUNE_BENCH_REPETITIONS ?? 3);
const root = path.resolve(import.meta.dirname, '../..');
// Made when the bench runs: a skipped bench leaves nothing behind.
let dataDir: string | undefined;
let tribune: ChildProcess | undefined;

afterAll(async () => {
	if (tribune?.pid && tribune.exitCode === null) {
		process.kill(-tribune.pid, 'SIGINT');
		await new Promise((resolve) => tribune!.once('exit', resolve));
	}
	if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('broadcast changes and faults bench', () => {
	it(`measures stage-change and ffmpeg-crash recovery at the origin over ${repetitions} repetitions`, { timeout: 600_000 }, async () => {
		const port = await freePort();
		const base = `http://127.0.0.1:${port}`;
		dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-broadcast-'));
		const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: dataDir, SYNTHETIC_SPEAKERS: 'true', LOG_LEVEL: 'warn' };
		delete env.REDIS_URL;
		tribune = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: 'ignore' });
		for (let i = 0; i < 150; i++) {
			const health = await fetch(`${base}/healthz`).then((r) => r.json() as Promise<{ ok: boolean; transcoders: number }>, () => undefined);
			if (health?.ok && health.transcoders > 0) break;
			await sleep(200);
		}
		const created = await postJson(`${base}/api/spaces`, { title: 'Bench', hostName: 'Hana Host', settings: { video: false } });
		const spaceId = created.body.space!.id;
		const hostToken = created.body.token!;
		await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken);
		const say = 'This is a long sentence that keeps the synthetic speaker talking while the benchmark measures the broadcast.';
		await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'First', text: say }, hostToken);
		const watcher = new PlaylistWatcher(`${base}/hls/${spaceId}/audio/index.m3u8`);
		watcher.start();
		for (let i = 0; i < 300 && watcher.parts.size < 20; i++) await sleep(100);
		expect(watcher.parts.size).toBeGreaterThanOrEqual(20);

		const change: number[] = [];
		const changeGap: number[] = [];
		const crash: number[] = [];
		const crashGap: number[] = [];
		for (let rep = 0; rep < repetitions; rep++) {
			// A speaker joins: the runner starts a new encoder run with them in the mix.
			const seen = watcher.discontinuities;
			const joinedAt = Date.now();
			await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: `Joiner ${rep}`, text: say }, hostToken);
			for (let i = 0; i < 300 && watcher.discontinuities === seen; i++) await sleep(20);
			const newRun = watcher.discontinuityAt.at(-1)!;
			change.push(newRun - joinedAt);
			await sleep(3000);
			changeGap.push(watcher.maxGap(joinedAt - 1000, Date.now()));

			// The broadcast ffmpeg dies: the runner restarts it with backoff.
			const [ffmpeg] = descendants(tribune.pid!).filter((pid) => /ffmpeg .*-f sdp/.test(commandOf(pid)));
			expect(ffmpeg).toBeDefined();
			const killedAt = Date.now();
			process.kill(ffmpeg!, 'SIGKILL');
			for (let i = 0; i < 500 && !watcher.firstPartAfter(killedAt + 50); i++) await sleep(20);
			crash.push(watcher.firstPartAfter(killedAt + 50)! - killedAt);
			await sleep(3000);
			crashGap.push(watcher.maxGap(killedAt - 1000, Date.now()));
		}
		watcher.stop();
		const result = {
			change_ms: median(change),
			change_max_gap_ms: median(changeGap),
			crash_recovery_ms: median(crash),
			crash_max_gap_ms: median(crashGap),
			repetitions,
			samples: { change, changeGap, crash, crashGap },
		};
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);
		expect(change).toHaveLength(repetitions);
	});
});
