import fs from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import { classifyFfmpegExit, ffmpegExitOf, ffmpegProcessOf, parseFfmpegStats, type FfmpegStats } from '../broadcast/ffmpegOutput.js';
import { FfmpegError } from '../broadcast/runFfmpeg.js';
import type { ExportPlan } from './buildExportPlan.js';

export interface RunExportFfmpegOptions {
	plan: ExportPlan;
	/** ffmpeg binary. Default `ffmpeg`. */
	ffmpegPath?: string;
	/**
	 * Niceness ffmpeg runs at (through `nice -n`), so an export takes only the CPU live broadcasts leave. Default 10.
	 * A stream copy barely uses the CPU anyway; it is disk-bound, and `nice` does not lower its I/O priority.
	 */
	niceness?: number;
	/** No stats line for this long means ffmpeg is stuck (retryable). Covers the silent `+faststart` pass. Default 120000. */
	stallTimeoutMs?: number;
	/** Aborting kills ffmpeg and rejects the run (the half-written output is the caller's to remove). */
	signal?: AbortSignal;
	logger: Logger;
	onProgress?: (stats: FfmpegStats) => void;
}

/** Stderr lines kept for classification and logs. */
const stderrTailLines = 60;

/**
 * The thin runner for a `buildExportPlan()` plan: writes its concat script, applies the plan with fluent-ffmpeg in
 * the replay directory, reports ffmpeg's stats, and settles once: resolved when ffmpeg ends cleanly, rejected with
 * a classified `FfmpegError` otherwise (or an abort error).
 */
export async function runExportFfmpeg(options: RunExportFfmpegOptions): Promise<void> {
	const { plan, logger, signal } = options;
	await Promise.all(plan.textFiles.map((file) => fs.writeFile(file.path, file.content, 'utf8')));
	signal?.throwIfAborted();
	const stallTimeoutMs = options.stallTimeoutMs ?? 120_000;
	const command = ffmpeg({ stdoutLines: 0, cwd: plan.cwd, niceness: options.niceness ?? 10 })
		.setFfmpegPath(options.ffmpegPath ?? 'ffmpeg')
		.input(plan.input.url)
		.inputOptions(plan.input.options);
	for (const extra of plan.extraInputs) command.input(extra.url).inputOptions(extra.options);
	command
		.output(plan.output.url)
		.outputOptions(plan.output.options);

	return new Promise<void>((resolve, reject) => {
		const tail: string[] = [];
		let settled = false;
		let stallTimer: NodeJS.Timeout | undefined;
		const settle = (error?: Error): void => {
			if (settled) return;
			settled = true;
			clearTimeout(stallTimer);
			signal?.removeEventListener('abort', onAbort);
			if (error) reject(error);
			else resolve();
		};
		const armStallTimer = (): void => {
			clearTimeout(stallTimer);
			stallTimer = setTimeout(() => {
				logger.warn({ stallTimeoutMs }, 'export ffmpeg stalled; killing it');
				command.kill('SIGKILL');
				settle(new FfmpegError({ retryable: true, kind: 'stalled', reason: `ffmpeg stalled: no progress for ${stallTimeoutMs} ms` }, tail));
			}, stallTimeoutMs);
		};
		const onAbort = (): void => {
			command.kill('SIGKILL');
			settle(new Error('export aborted'));
		};

		command.on('start', () => {
			logger.info({ pid: ffmpegProcessOf(command)?.pid }, 'export ffmpeg started');
			armStallTimer();
		});
		command.on('stderr', (line: string) => {
			const stats = parseFfmpegStats(line);
			if (stats) {
				armStallTimer();
				options.onProgress?.(stats);
				return;
			}
			tail.push(line);
			if (tail.length > stderrTailLines) tail.shift();
		});
		command.on('end', () => {
			logger.debug({ stderrTail: tail }, 'export ffmpeg ended');
			settle();
		});
		command.on('error', (error: Error) => {
			if (settled) return;
			const exit = ffmpegExitOf(command, error);
			const failure = classifyFfmpegExit(exit, tail);
			logger.warn({ ...exit, retryable: failure.retryable, reason: failure.reason, stderrTail: tail.slice(-10) }, 'export ffmpeg failed');
			settle(new FfmpegError(failure, tail));
		});
		signal?.addEventListener('abort', onAbort, { once: true });
		command.run();
	});
}
