import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { decodeWithFfmpeg } from './support/decodeWithFfmpeg.js';
import { commandOf, descendants, freePort } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { postJson } from './support/startTestNode.js';

/**
 * `npm run bench:broadcast`: how the broadcast copes with changes and faults, seen from a listener's side of the
 * origin. Runs Tribune as `npm start` does (compiled), with a live audio space whose first synthetic speaker the host
 * has muted (so the broadcast is silent), polls the audio rendition's playlist every 20 ms like an eager player,
 * and measures:
 * - change_ms: a speaker is added → the first part at the origin in which their voice is heard (decoded by ffmpeg,
 *   louder than -45 dBFS); the joined speaker is then removed and the broadcast must go silent again
 *   (leave_ms: removal → the first of three silent parts in a row). Both happen in the running encode
 *   (change_discontinuities counts the new runs they caused: none expected);
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

/** Level of a part's audio (init section + fragment, decoded by ffmpeg), dBFS; -Infinity for silence or nothing. */
async function levelOf(mp4: Buffer): Promise<number> {
	const pcm = await decodeWithFfmpeg(mp4, ['-f', 's16le', '-ac', '1', '-ar', '16000']);
	let sum = 0;
	for (let i = 0; i + 1 < pcm.length; i += 2) sum += pcm.readInt16LE(i) ** 2;
	const samples = Math.floor(pcm.length / 2);
	return samples === 0 || sum === 0 ? Number.NEGATIVE_INFINITY : 10 * Math.log10(sum / samples / 32768 ** 2);
}

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
		const first = await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'First', text: say }, hostToken);
		const host = await SignalingClient.connect(`ws://127.0.0.1:${port}/ws`, hostToken);
		// The host mutes the first speaker: the broadcast goes on, silent, so a joined voice is what makes it loud.
		await host.request('mute', { participantId: (first.body as { participant: { id: string } }).participant.id });
		const dir = `${base}/hls/${spaceId}/audio`;
		const watcher = new PlaylistWatcher(`${dir}/index.m3u8`);
		watcher.start();
		for (let i = 0; i < 300 && watcher.parts.size < 20; i++) await sleep(100);
		expect(watcher.parts.size).toBeGreaterThanOrEqual(20);
		const initOf = async (): Promise<Buffer> => {
			const playlist = await (await fetch(`${dir}/index.m3u8`)).text();
			// The newest init section: the one the newest parts need.
			const init = [...playlist.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].at(-1)![1]!;
			return Buffer.from(await (await fetch(`${dir}/${init}`)).arrayBuffer());
		};
		const loud = (dbfs: number): boolean => dbfs > -45;
		/** When (listed at the origin) the first part listed after `after` whose level satisfies `wanted` `inARow` times in a row was listed. */
		const partWhere = async (after: number, wanted: (dbfs: number) => boolean, inARow = 1): Promise<number | undefined> => {
			const checked = new Set<string>();
			let streak: number[] = [];
			const deadline = Date.now() + 15_000;
			while (Date.now() < deadline) {
				const fresh = [...watcher.parts.entries()].filter(([uri, listed]) => listed > after && !checked.has(uri)).sort((a, b) => a[1] - b[1]);
				if (fresh.length > 0) {
					const init = await initOf();
					for (const [uri, listed] of fresh) {
						checked.add(uri);
						const part = Buffer.from(await (await fetch(`${dir}/${uri}`)).arrayBuffer());
						streak = wanted(await levelOf(Buffer.concat([init, part]))) ? [...streak, listed] : [];
						if (streak.length >= inARow) return streak[0];
					}
				}
				await sleep(20);
			}
			return undefined;
		};
		// Silent before the first join (the muted speaker's gap filler sends silence).
		expect(await partWhere(Date.now(), (dbfs) => !loud(dbfs), 3)).toBeDefined();

		const change: number[] = [];
		const changeAfterAdd: number[] = [];
		const leave: number[] = [];
		const changeGap: number[] = [];
		const crash: number[] = [];
		const crashGap: number[] = [];
		let changeDiscontinuities = 0;
		for (let rep = 0; rep < repetitions; rep++) {
			// A speaker joins: a free slot of the running encode takes their voice.
			const seen = watcher.discontinuities;
			const joinedAt = Date.now();
			const joined = await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: `Joiner ${rep}`, text: say }, hostToken);
			const addedAt = Date.now();
			const heard = await partWhere(joinedAt, loud);
			expect(heard, 'the joined voice at the origin').toBeDefined();
			change.push(heard! - joinedAt);
			changeAfterAdd.push(heard! - addedAt);
			// They leave (the host removes them): their slot goes silent again.
			const removedAt = Date.now();
			await host.request('remove', { participantId: (joined.body as { participant: { id: string } }).participant.id, ban: false });
			const silent = await partWhere(removedAt, (dbfs) => !loud(dbfs), 3);
			expect(silent, 'silence at the origin after the removal').toBeDefined();
			leave.push(silent! - removedAt);
			changeGap.push(watcher.maxGap(joinedAt - 1000, Date.now()));
			changeDiscontinuities += watcher.discontinuities - seen;

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
		host.socket.close();
		watcher.stop();
		const result = {
			change_ms: median(change),
			change_after_add_ms: median(changeAfterAdd),
			leave_ms: median(leave),
			change_discontinuities: changeDiscontinuities,
			change_max_gap_ms: median(changeGap),
			crash_recovery_ms: median(crash),
			crash_max_gap_ms: median(crashGap),
			repetitions,
			samples: { change, changeAfterAdd, leave, changeGap, crash, crashGap },
		};
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);
		expect(change).toHaveLength(repetitions);
	});
});
