import fs from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import type { FfmpegPlan } from './buildFfmpegPlan.js';
import { classifyFfmpegExit, parseFfmpegStats, type FfmpegFailure, type FfmpegStats } from './ffmpegOutput.js';

export interface RunFfmpegOptions {
	plan: FfmpegPlan;
	/** ffmpeg binary. Default `ffmpeg`. */
	ffmpegPath?: string;
	/** No stats line for this long means ffmpeg is stuck: it is killed and the run fails (retryable). Default 5000. */
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
	readonly stderrTail: readonly string[];

	constructor(failure: FfmpegFailure, stderrTail: readonly string[]) {
		super(failure.reason);
		this.retryable = failure.retryable;
		this.stderrTail = stderrTail;
	}
}

/** Stderr lines kept for classification and logs. */
const stderrTailLines = 60;

/**
 * The thin runner for a `buildFfmpegPlan()` plan: writes its text files, applies it with fluent-ffmpeg, reports
 * progress from ffmpeg's stats lines, kills a stalled ffmpeg, and settles once: resolved when ffmpeg ends cleanly
 * or the run was aborted, rejected with a classified `FfmpegError` otherwise.
 */
export async function runFfmpeg(options: RunFfmpegOptions): Promise<void> {
	const { plan, logger } = options;
	await Promise.all(plan.textFiles.map((file) => fs.writeFile(file.path, file.content, 'utf8')));
	if (options.signal?.aborted) return;
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
		let stallTimer: NodeJS.Timeout | undefined;
		let killTimer: NodeJS.Timeout | undefined;

		const settle = (error?: FfmpegError): void => {
			if (settled) return;
			settled = true;
			clearTimeout(stallTimer);
			clearTimeout(killTimer);
			options.signal?.removeEventListener('abort', onAbort);
			if (error) reject(error);
			else resolve();
		};
		const armStallTimer = (): void => {
			clearTimeout(stallTimer);
			stallTimer = setTimeout(() => {
				logger.warn({ stallTimeoutMs }, 'ffmpeg stalled; killing it');
				command.kill('SIGKILL');
				settle(new FfmpegError({ retryable: true, reason: `ffmpeg stalled: no progress for ${stallTimeoutMs} ms` }, tail));
			}, stallTimeoutMs);
		};
		const onAbort = (): void => {
			if (stopping || settled) return;
			stopping = true;
			clearTimeout(stallTimer);
			// SIGINT lets ffmpeg flush its last fragments; SIGKILL if it does not go.
			command.kill('SIGINT');
			killTimer = setTimeout(() => command.kill('SIGKILL'), options.stopGraceMs ?? 3000);
		};

		command.on('start', () => {
			const pid = (command as unknown as { ffmpegProc?: { pid?: number } }).ffmpegProc?.pid;
			logger.info({ pid, outputs: plan.outputs.map((o) => o.rendition) }, 'ffmpeg started');
			if (pid !== undefined) options.onStart?.(pid);
			armStallTimer();
		});
		let outputsStarted = false;
		command.on('stderr', (line: string) => {
			const stats = parseFfmpegStats(line);
			if (stats) {
				// The first stats line comes once the outputs run: every output's encoder has its first frame.
				if (!outputsStarted) logger.debug('ffmpeg outputs started');
				outputsStarted = true;
				if (!stopping) armStallTimer();
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
			logger.warn({ ...exit, retryable: failure.retryable, reason: failure.reason }, 'ffmpeg failed');
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
