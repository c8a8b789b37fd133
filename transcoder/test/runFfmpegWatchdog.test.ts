import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FfmpegError, runFfmpeg, type EncoderHealth, type EncoderWatch, type FfmpegPlan } from '../src/index.js';

/**
 * The watchdog tells a stuck encoder from a slow one with real processes: an ffmpeg stopped with SIGSTOP (no stats
 * line, no CPU time) is stuck and killed; an ffmpeg at nice 19 under a busy loop on every core (its stats come
 * late and slow, but it works) is slow and left running.
 */
describe('runFfmpeg(): the watchdog tells slow from stuck', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-ffmpeg-watchdog-'));
	const logger = pino({ level: 'silent' });
	const hogs: ChildProcess[] = [];
	const stopped: number[] = [];
	afterEach(() => {
		for (const hog of hogs.splice(0)) hog.kill('SIGKILL');
		for (const pid of stopped.splice(0)) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				// Already gone: the watchdog killed it.
			}
		}
	});
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	/** A live-paced 640x360 x264 encode of a test picture (about a fifth of a core), output discarded, stats every 0.2 s. */
	function encodePlan(): FfmpegPlan {
		const input = { url: 'testsrc2=s=640x360:r=25', options: ['-hide_banner', '-nostdin', '-loglevel', 'error', '-stats', '-stats_period', '0.2', '-re', '-f', 'lavfi'] };
		const outputs = [{ rendition: 'video', url: '/dev/null', options: ['-map', '[v]', '-c:v', 'libx264', '-preset', 'veryfast', '-f', 'null'] }];
		return { input, filterGraph: '[0:v]null[v]', outputs, args: [], textFiles: [], renditions: [] };
	}

	it('an ffmpeg stopped with SIGSTOP is stuck, and killed after the stall timeout', { timeout: 30_000 }, async () => {
		const health: EncoderHealth[] = [];
		let pid: number | undefined;
		let stats = 0;
		const run = runFfmpeg({
			plan: encodePlan(),
			logger,
			stallTimeoutMs: 2000,
			onStart: (p) => (pid = p),
			onProgress: () => stats++,
			onWatch: (w) => health.push(w.health),
		});
		let error: unknown;
		const ended = run.then(() => undefined, (e: unknown) => (error = e));
		await expect.poll(() => stats, { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
		expect(health).toContain('ok');
		process.kill(pid!, 'SIGSTOP');
		stopped.push(pid!);
		await ended;
		expect(error).toBeInstanceOf(FfmpegError);
		expect(error).toMatchObject({ kind: 'stalled', retryable: true, message: expect.stringMatching(/stuck: no stats line, no output and no CPU time for 2000 ms/) });
		expect(health.at(-1)).toBe('stuck');
	});

	it('an ffmpeg at nice 19 under a busy loop on every core is slow, and is not killed', { timeout: 40_000 }, async () => {
		// The encoder at nice 19 through a wrapper that execs it (same pid); the busy loops at nice 0, bounded by timeout(1).
		const wrapper = path.join(dir, 'nice-ffmpeg');
		fs.writeFileSync(wrapper, '#!/bin/sh\nexec nice -n 19 ffmpeg "$@"\n', { mode: 0o755 });
		const health: EncoderHealth[] = [];
		const watches: EncoderWatch[] = [];
		let stats = 0;
		const stop = new AbortController();
		const run = runFfmpeg({
			plan: encodePlan(),
			ffmpegPath: wrapper,
			logger,
			stallTimeoutMs: 4000,
			signal: stop.signal,
			onProgress: () => stats++,
			onWatch: (w) => {
				health.push(w.health);
				watches.push(w);
			},
		});
		let ended = false;
		void run.then(() => (ended = true), () => (ended = true));
		await expect.poll(() => stats, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
		for (let core = 0; core < os.availableParallelism(); core++) {
			// A busy loop that ends by itself (25 s) and has no wrapper process that a kill could leave orphaned.
			hogs.push(spawn(process.execPath, ['-e', 'const end = Date.now() + 25000; while (Date.now() < end);'], { stdio: 'ignore' }));
		}
		// Three stall timeouts under the busy loops.
		const fromCheck = health.length;
		await new Promise((resolve) => setTimeout(resolve, 12_000));
		const underLoad = health.slice(fromCheck);
		expect(ended).toBe(false);
		expect(underLoad).toContain('slow');
		expect(underLoad).not.toContain('stuck');
		// Starved, and its scheduler counters show it: its threads wait for a CPU (the degradation sheds such a run).
		const slow = watches.slice(fromCheck).filter((w) => w.health === 'slow' && w.waitingCores !== undefined);
		expect(slow.some((w) => w.waitingCores! >= 0.15 || w.mainThread!.waiting >= 0.15), JSON.stringify(slow.map((w) => [w.mainThread, w.waitingCores]))).toBe(true);
		stop.abort();
		await expect(run).resolves.toBeUndefined();
	});
});
