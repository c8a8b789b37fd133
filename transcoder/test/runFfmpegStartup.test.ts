import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FfmpegError, runFfmpeg, type EncoderWatch, type FfmpegPlan, type FfmpegStats } from '../src/index.js';

/**
 * The encoder's start-up deadline and its stall watchdog are separate: a real ffmpeg reads raw audio from a FIFO,
 * which holds it in `open()` (no stats line: still starting) until a writer comes, and in `read()` (no stats line
 * and no CPU time after it had started: stuck) while the writer is silent. another ffmpeg feeds it at the input's own rate, so
 * this test process being slow cannot starve it into a stall.
 */
describe('runFfmpeg(): starting, started, stalled', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-ffmpeg-start-'));
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
	const logger = pino({ level: 'silent' });
	let fifos = 0;

	/** A plan reading 8 kHz mono s16le from a new FIFO (no probing: it starts on its first bytes), stats every 0.1 s, output discarded. */
	function fifoPlan(): { plan: FfmpegPlan; fifo: string } {
		const fifo = path.join(dir, `in-${fifos++}.pcm`);
		execFileSync('mkfifo', [fifo]);
		const input = { url: fifo, options: ['-hide_banner', '-nostdin', '-loglevel', 'error', '-stats', '-stats_period', '0.1', '-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', '8000', '-ac', '1'] };
		const outputs = [{ rendition: 'audio', url: '/dev/null', options: ['-map', '[a]', '-f', 'null'] }];
		return { fifo, plan: { input, filterGraph: '[0:a]anull[a]', outputs, args: [], textFiles: [], renditions: [] } };
	}

	/**
	 * Feeds `fifo` `seconds` of silence at its native rate from another ffmpeg (`-re`), so stats flow for that long
	 * whatever this test process's event loop is doing; its opening the FIFO lets the encoder's `open()` return.
	 * Resolves when the feeder has exited (the encoder sees the end of its input unless another writer holds the FIFO).
	 */
	function feed(fifo: string, seconds: number): Promise<void> {
		return new Promise((resolve, reject) => {
			execFile('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', String(seconds), '-f', 's16le', '-y', fifo], { timeout: 30_000 }, (error) => (error ? reject(error) : resolve()));
		});
	}

	it('an ffmpeg that takes longer than the stall timeout to start is not killed before its start-up deadline', { timeout: 60_000 }, async () => {
		const { plan, fifo } = fifoPlan();
		const progress: FfmpegStats[] = [];
		const run = runFfmpeg({ plan, logger, startTimeoutMs: 30_000, stallTimeoutMs: 1500, onProgress: (s) => progress.push(s) });
		let ended = false;
		void run.then(() => (ended = true), () => (ended = true));
		// Three stall timeouts with no stats line (ffmpeg waits in open()): the stall watchdog alone would have killed it.
		await new Promise((resolve) => setTimeout(resolve, 4500));
		expect(ended).toBe(false);
		await feed(fifo, 2);
		await expect(run).resolves.toBeUndefined();
		expect(progress.length).toBeGreaterThanOrEqual(3);
	});

	it('an ffmpeg that never starts is killed at its start-up deadline as "did not start"', { timeout: 60_000 }, async () => {
		const { plan } = fifoPlan();
		const run = runFfmpeg({ plan, logger, startTimeoutMs: 2000, stallTimeoutMs: 300 });
		const error = await run.then(() => undefined, (e: unknown) => e);
		expect(error).toBeInstanceOf(FfmpegError);
		expect(error).toMatchObject({ kind: 'did-not-start', retryable: true, message: expect.stringMatching(/did not start: no progress within 2000 ms/) });
	});

	it('an ffmpeg whose progress stops after it had started, waiting for input, is killed as stuck', { timeout: 60_000 }, async () => {
		const { plan, fifo } = fifoPlan();
		const progress: FfmpegStats[] = [];
		const watches: EncoderWatch[] = [];
		const run = runFfmpeg({ plan, logger, startTimeoutMs: 30_000, stallTimeoutMs: 1500, onProgress: (s) => progress.push(s), onWatch: (w) => watches.push(w) });
		let error: unknown;
		let ended = false;
		void run.then(() => (ended = true), (e: unknown) => ((error = e), (ended = true)));
		// Started (stats flow for a second of audio), then silence with the FIFO still open: ffmpeg waits in read().
		// This writer holds the FIFO open and writes nothing, so the feeder's exit is no end of input.
		const writer = fs.createWriteStream(fifo);
		writer.on('error', () => {
			// ffmpeg killed or gone: the assertions below say what happened.
		});
		await feed(fifo, 1);
		try {
			await expect.poll(() => ended, { timeout: 20_000 }).toBe(true);
		} finally {
			writer.destroy();
		}
		expect(progress.length).toBeGreaterThanOrEqual(3);
		expect(error).toBeInstanceOf(FfmpegError);
		// Blocked in read(), it uses no CPU time: stuck.
		expect(error).toMatchObject({ kind: 'stalled', retryable: true, message: expect.stringMatching(/stuck: no stats line, no output and no CPU time for 1500 ms after it had started/) });
		// Its scheduler counters say the same: neither its main thread nor any other ran or waited for a CPU while it
		// waited for input (what tells the degradation a run waiting on I/O from a starved one).
		const waiting = watches.filter((w) => (w.health === 'stuck' || w.health === 'slow') && w.mainThread && w.waitingCores !== undefined);
		expect(waiting.length).toBeGreaterThanOrEqual(1);
		for (const w of waiting) {
			expect(w.mainThread!.busy + w.mainThread!.waiting).toBeLessThan(0.15);
			expect(w.waitingCores!).toBeLessThan(0.15);
		}
	});
});
