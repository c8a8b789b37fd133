import fs from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import type { FfmpegPlan } from './buildFfmpegPlan.js';
import { classifyFfmpegExit, parseFfmpegStats, watchdogFailure, type FfmpegFailure, type FfmpegFailureKind, type FfmpegStats } from './ffmpegOutput.js';

export interface RunFfmpegOptions {
	plan: FfmpegPlan;
	/** ffmpeg binary. Default `ffmpeg`. */
	ffmpegPath?: string;
	/**
	 * Start-up deadline, ms from spawning: an ffmpeg with no stats line yet (its outputs have not all had a first
	 * frame) is still starting, however long that takes on a busy machine, until this passes; then it did not start:
	 * it is killed and the run fails (retryable, `kind` `did-not-start`). Default 30000.
	 */
	startTimeoutMs?: number;
	/**
	 * Once ffmpeg has started (its first stats line), no stats line for this long, ms, means it stalled: it is killed
	 * and the run fails (retryable, `kind` `stalled`). Default 5000.
	 */
	stallTimeoutMs?: number;
	/** Aborting stops ffmpeg gracefully (SIGINT, then SIGKILL after `stopGraceMs`) and resolves the run. */
	signal?: AbortSignal;
	/** Default 3000. */
	stopGraceMs?: number;
	logger: Logger;
	onProgress?: (stats: FfmpegStats) => void;
	/** Called once ffmpeg is spawned, with its process id. */
	onStart?: (pid: number) => void;
}

/** An ffmpeg run that ended badly; `retryable` says whether running the same plan again can help. */
export class FfmpegError extends Error {
	override readonly name = 'FfmpegError';
	readonly retryable: boolean;
	/** Whether it exited, did not start by its deadline, or stalled after it had started. */
	readonly kind: FfmpegFailureKind;
	readonly stderrTail: readonly string[];

	constructor(failure: FfmpegFailure, stderrTail: readonly string[]) {
		super(failure.reason);
		this.retryable = failure.retryable;
		this.kind = failure.kind ?? 'exit';
		this.stderrTail = stderrTail;
	}
}

/** `startTimeoutMs` when not given: an encoder starting on a busy machine has taken seconds (issue 14). */
export const defaultStartTimeoutMs = 30_000;

/** Stderr lines kept for classification and logs. */
const stderrTailLines = 60;

/**
 * The thin runner for a `buildFfmpegPlan()` plan: writes its text files, applies it with fluent-ffmpeg, reports
 * progress from ffmpeg's stats lines, kills an ffmpeg that did not start by its deadline or stalled after it had
 * started, and settles once: resolved when ffmpeg ends cleanly
 * or the run was aborted, rejected with a classified `FfmpegError` otherwise.
 */
export async function runFfmpeg(options: RunFfmpegOptions): Promise<void> {
	const { plan, logger } = options;
	await Promise.all(plan.textFiles.map((file) => fs.writeFile(file.path, file.content, 'utf8')));
	if (options.signal?.aborted) return;
	const startTimeoutMs = options.startTimeoutMs ?? defaultStartTimeoutMs;
	const stallTimeoutMs = options.stallTimeoutMs ?? 5000;

	const command = ffmpeg({ stdoutLines: 0 })
		.setFfmpegPath(options.ffmpegPath ?? 'ffmpeg')
		.input(plan.input.url)
		.inputOptions(plan.input.options)
		.complexFilter(plan.filterGraph);
	for (const output of plan.outputs) command.output(output.url).outputOptions(output.options);

	return new Promise<void>((resolve, reject) => {
		const tail: string[] = [];
		let settled = false;
		let stopping = false;
		let watchdogTimer: NodeJS.Timeout | undefined;
		let killTimer: NodeJS.Timeout | undefined;

		const settle = (error?: FfmpegError): void => {
			if (settled) return;
			settled = true;
			clearTimeout(watchdogTimer);
			clearTimeout(killTimer);
			options.signal?.removeEventListener('abort', onAbort);
			if (error) reject(error);
			else resolve();
		};
		// Starting until the first stats line (a busy machine can take seconds to open every input and output),
		// running after it: each phase has its own deadline, so a slow start is not taken for a stall.
		let phase: 'starting' | 'running' = 'starting';
		const armWatchdog = (): void => {
			clearTimeout(watchdogTimer);
			const timeoutMs = phase === 'starting' ? startTimeoutMs : stallTimeoutMs;
			watchdogTimer = setTimeout(() => {
				const failure = watchdogFailure(phase, timeoutMs);
				logger.warn({ timeoutMs, kind: failure.kind }, phase === 'starting' ? 'ffmpeg did not start; killing it' : 'ffmpeg stalled; killing it');
				command.kill('SIGKILL');
				settle(new FfmpegError(failure, tail));
			}, timeoutMs);
		};
		const onAbort = (): void => {
			if (stopping || settled) return;
			stopping = true;
			clearTimeout(watchdogTimer);
			// SIGINT lets ffmpeg flush its last fragments; SIGKILL if it does not go.
			command.kill('SIGINT');
			killTimer = setTimeout(() => command.kill('SIGKILL'), options.stopGraceMs ?? 3000);
		};

		command.on('start', () => {
			const pid = (command as unknown as { ffmpegProc?: { pid?: number } }).ffmpegProc?.pid;
			logger.info({ pid, outputs: plan.outputs.map((o) => o.rendition) }, 'ffmpeg started');
			if (pid !== undefined) options.onStart?.(pid);
			armWatchdog();
		});
		command.on('stderr', (line: string) => {
			const stats = parseFfmpegStats(line);
			if (stats) {
				// The first stats line comes once the outputs run: every output's encoder has its first frame.
				if (phase === 'starting') logger.debug('ffmpeg outputs started');
				phase = 'running';
				if (!stopping) armWatchdog();
				options.onProgress?.(stats);
				return;
			}
			tail.push(line);
			if (tail.length > stderrTailLines) tail.shift();
		});
		command.on('end', () => {
			logger.debug({ stderrTail: tail }, 'ffmpeg ended');
			settle();
		});
		command.on('error', (error: Error) => {
			if (stopping) {
				logger.debug({ stderrTail: tail }, 'ffmpeg stopped');
				return settle();
			}
			const exit = exitOf(command, error);
			const failure = classifyFfmpegExit(exit, tail);
			logger.warn({ ...exit, phase, retryable: failure.retryable, reason: failure.reason }, 'ffmpeg failed');
			settle(new FfmpegError(failure, tail));
		});
		options.signal?.addEventListener('abort', onAbort, { once: true });
		command.run();
	});
}

/** fluent-ffmpeg reports exits as error messages; the child process knows the real code and signal. */
function exitOf(command: ffmpeg.FfmpegCommand, error: Error): { code: number | null; signal: string | null } {
	const proc = (command as unknown as { ffmpegProc?: { exitCode: number | null; signalCode: string | null } }).ffmpegProc;
	if (proc && (proc.exitCode !== null || proc.signalCode !== null)) return { code: proc.exitCode, signal: proc.signalCode };
	const signal = /killed with signal (\w+)/.exec(error.message)?.[1] ?? null;
	const code = /exited with code (\d+)/.exec(error.message)?.[1];
	return { code: code === undefined ? null : Number(code), signal };
}
