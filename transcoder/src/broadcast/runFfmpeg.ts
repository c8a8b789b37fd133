import fs from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import type { FfmpegPlan } from './buildFfmpegPlan.js';
import { EncoderPace, type Pace } from './EncoderPace.js';
import { defaultWatchdogLimits, judgeEncoder, type EncoderHealth, type WatchdogLimits } from './encoderWatchdog.js';
import { classifyFfmpegExit, ffmpegExitOf, ffmpegProcessOf, parseFfmpegStats, type FfmpegFailure, type FfmpegFailureKind, type FfmpegStats } from './ffmpegOutput.js';
import { readMainThreadSchedMs, readProcessCpuMs, readProcessWaitMs } from './procCpu.js';

/** What the watchdog saw of the encoder each check. */
export interface EncoderWatch {
	health: EncoderHealth;
	/** CPU the whole process used since the last check, cores. */
	cpuCores: number | undefined;
	/**
	 * Its main thread (inputs, decoding, filters) since the last check, as shares of the time: on a CPU, and runnable
	 * but waiting for one. Slow with a long wait: the machine is starving it; slow with neither: it waits on an input.
	 */
	mainThread?: { busy: number; waiting: number };
	/** All its threads' time runnable but waiting for a CPU since the last check, cores (x264's threads included). */
	waitingCores?: number;
}

/** `part` of `whole`, rounded to hundredths. */
const share = (part: number, whole: number): number => Math.round((Math.max(0, part) / whole) * 100) / 100;

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
	 * Once ffmpeg has started (its first stats line): no stats line, no output byte (see `outputBytes`) and (almost) no
	 * CPU time used for this long, ms, means it is stuck (stopped, or blocked on something that will not come): it is
	 * killed and the run fails (retryable, `kind` `stalled`). An ffmpeg that is merely slow — its stats or output
	 * advance, or it keeps using CPU — is never killed for it. Default 5000.
	 */
	stallTimeoutMs?: number;
	/**
	 * Once started: no stats line and no output byte for this long, ms, even while it uses CPU, means it is hung
	 * (spinning without producing): killed, `kind` `stalled`. Default 60000.
	 */
	hungTimeoutMs?: number;
	/**
	 * Bytes the outputs have received so far (a count that only grows), read at every check: output that advances is
	 * progress even while the stats line is late. Absent: stats lines and CPU time alone.
	 */
	outputBytes?: () => number;
	/** Aborting stops ffmpeg gracefully (SIGINT, then SIGKILL after `stopGraceMs`) and resolves the run. */
	signal?: AbortSignal;
	/** Default 3000. */
	stopGraceMs?: number;
	logger: Logger;
	/**
	 * The video frame rate the plan writes, if any: the pace (and so `slow`) counts frames too, since ffmpeg's
	 * `time=` follows its furthest output (see `EncoderPace`).
	 */
	frameRate?: number;
	/** Every stats line, with the pace over the last seconds once known (see `EncoderPace`). */
	onProgress?: (stats: FfmpegStats, pace: Pace | undefined) => void;
	/**
	 * At every check of the watchdog (about once a second) once ffmpeg is spawned: its health, and the CPU it used
	 * over the last check, in cores (undefined when /proc cannot tell).
	 */
	onWatch?: (watch: EncoderWatch) => void;
	/** Called once ffmpeg is spawned, with its process id. */
	onStart?: (pid: number) => void;
	/**
	 * The wall-clock time, ms, of the run's media instant 0, once ffmpeg has opened its input: the `start:` of its
	 * input dump (at `-loglevel info`) where the input is stamped with the wall clock (`-use_wallclock_as_timestamps`;
	 * a generated input's start, 0, is not a wall-clock time and is not reported).
	 */
	onMediaOrigin?: (wallMs: number) => void;
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
export const defaultStartTimeoutMs = defaultWatchdogLimits.startTimeoutMs;

/** CPU readings kept for the watchdog: enough to cover the stall timeout. */
const cpuHistoryMs = 70_000;

/** Stderr lines kept for classification and logs. */
const stderrTailLines = 60;

/** The input dump's start time, in seconds (`  Duration: N/A, start: 1796553254.123688, bitrate: N/A`). */
const inputStartPattern = /^\s*Duration: .*\bstart: (\d+\.\d+)/;
/** A start time this late is a wall-clock time (2001 on), not a generated input's 0. */
const wallClockStartS = 1e9;
/**
 * Info-level lines ffmpeg writes for every frame of a camera of another size than its slot's first picture (the
 * buffer source's notice and warning, `-reinit_filter:v 0`): dropped, or they would be all the tail holds.
 */
const perFrameChatter = /filter context - w: \d+ h: \d+|Changing video frame properties on the fly/;

/**
 * The thin runner for a `buildFfmpegPlan()` plan: writes its text files, applies it with fluent-ffmpeg, reports
 * progress from ffmpeg's stats lines and health from its watchdog (see `judgeEncoder`: starting, ok, slow, stuck),
 * kills an ffmpeg that did not start by its deadline, is stuck or hung — never one that is only slow — and settles
 * once: resolved when ffmpeg ends cleanly or the run was aborted, rejected with a classified `FfmpegError` otherwise.
 */
export async function runFfmpeg(options: RunFfmpegOptions): Promise<void> {
	const { plan, logger } = options;
	await Promise.all(plan.textFiles.map((file) => fs.writeFile(file.path, file.content, 'utf8')));
	if (options.signal?.aborted) return;
	const limits: WatchdogLimits = {
		...defaultWatchdogLimits,
		...(options.startTimeoutMs !== undefined && { startTimeoutMs: options.startTimeoutMs }),
		...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
		...(options.hungTimeoutMs !== undefined && { hungTimeoutMs: options.hungTimeoutMs }),
	};
	// Checks often enough to see a stall window in several readings, at most once a second.
	const checkMs = Math.min(1000, Math.max(100, Math.floor(limits.stallTimeoutMs / 5)));

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
		const pace = new EncoderPace(undefined, options.frameRate);
		let spawnedAtMs = Date.now();
		let startedAtMs: number | undefined;
		let progressAtMs = spawnedAtMs;
		let outputBytes = options.outputBytes?.() ?? 0;
		let health: EncoderHealth = 'starting';
		/** CPU time readings of the process, oldest first, for "CPU used over the last n ms". */
		const cpu: { atMs: number; cpuMs: number }[] = [];
		let pid: number | undefined;

		const settle = (error?: FfmpegError): void => {
			if (settled) return;
			settled = true;
			clearTimeout(watchdogTimer);
			clearTimeout(killTimer);
			options.signal?.removeEventListener('abort', onAbort);
			if (error) reject(error);
			else resolve();
		};
		const cpuMsOver = (ms: number): number | undefined => {
			const last = cpu.at(-1);
			if (!last) return undefined;
			// The newest reading at or before the window's start; none that old: the window is not covered yet.
			const from = cpu.findLast((reading) => reading.atMs <= last.atMs - ms + checkMs / 2);
			return from ? last.cpuMs - from.cpuMs : undefined;
		};
		let previousSched: { atMs: number; runMs: number; waitMs: number } | undefined;
		let previousWait: { atMs: number; waitMs: number } | undefined;
		const check = async (): Promise<void> => {
			if (settled || stopping) return;
			const nowMs = Date.now();
			const [cpuMs, sched, waitMs] = pid !== undefined ? await Promise.all([readProcessCpuMs(pid), readMainThreadSchedMs(pid), readProcessWaitMs(pid)]) : [undefined, undefined, undefined];
			if (settled || stopping) return;
			const previous = cpu.at(-1);
			if (cpuMs !== undefined) {
				cpu.push({ atMs: nowMs, cpuMs });
				while (cpu.length > 2 && cpu[1]!.atMs < nowMs - cpuHistoryMs) cpu.shift();
			}
			const bytes = options.outputBytes?.() ?? 0;
			if (bytes !== outputBytes) {
				outputBytes = bytes;
				progressAtMs = nowMs;
			}
			const verdict = judgeEncoder(
				{ nowMs, spawnedAtMs, ...(startedAtMs !== undefined && { startedAtMs }), progressAtMs, cpuMsOver, ...(pace.pace && { speed: pace.pace.speed }) },
				limits,
			);
			if (verdict.health !== health) {
				logger.debug({ health: verdict.health, was: health, quietMs: nowMs - progressAtMs }, 'encoder health');
				health = verdict.health;
			}
			const cpuCores = previous && cpuMs !== undefined && nowMs > previous.atMs ? Math.round(((cpuMs - previous.cpuMs) / (nowMs - previous.atMs)) * 100) / 100 : undefined;
			const mainThread = previousSched && sched && nowMs > previousSched.atMs ? { busy: share(sched.runMs - previousSched.runMs, nowMs - previousSched.atMs), waiting: share(sched.waitMs - previousSched.waitMs, nowMs - previousSched.atMs) } : undefined;
			if (sched) previousSched = { atMs: nowMs, ...sched };
			const waitingCores = previousWait && waitMs !== undefined && nowMs > previousWait.atMs ? share(waitMs - previousWait.waitMs, nowMs - previousWait.atMs) : undefined;
			if (waitMs !== undefined) previousWait = { atMs: nowMs, waitMs };
			options.onWatch?.({ health, cpuCores, ...(mainThread && { mainThread }), ...(waitingCores !== undefined && { waitingCores }) });
			if (verdict.kill) {
				logger.warn({ reason: verdict.kill.reason, quietMs: nowMs - progressAtMs, cpuMs: cpuMsOver(limits.stallTimeoutMs) }, 'ffmpeg watchdog: killing it');
				command.kill('SIGKILL');
				settle(new FfmpegError(verdict.kill, tail));
				return;
			}
			watchdogTimer = setTimeout(() => void check(), checkMs);
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
			pid = ffmpegProcessOf(command)?.pid;
			logger.info({ pid, outputs: plan.outputs.map((o) => o.rendition) }, 'ffmpeg started');
			if (pid !== undefined) options.onStart?.(pid);
			spawnedAtMs = progressAtMs = Date.now();
			watchdogTimer = setTimeout(() => void check(), checkMs);
		});
		command.on('stderr', (line: string) => {
			const stats = parseFfmpegStats(line);
			if (stats) {
				const nowMs = Date.now();
				// The first stats line comes once the outputs run: every output's encoder has its first frame.
				if (startedAtMs === undefined) {
					logger.debug('ffmpeg outputs started');
					startedAtMs = nowMs;
				}
				progressAtMs = nowMs;
				options.onProgress?.(stats, pace.add(stats, nowMs));
				return;
			}
			if (perFrameChatter.test(line)) return;
			const start = inputStartPattern.exec(line);
			if (start && Number(start[1]) > wallClockStartS) options.onMediaOrigin?.(Math.round(Number(start[1]) * 1000));
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
			const exit = ffmpegExitOf(command, error);
			const failure = classifyFfmpegExit(exit, tail);
			logger.warn({ ...exit, health, retryable: failure.retryable, reason: failure.reason }, 'ffmpeg failed');
			settle(new FfmpegError(failure, tail));
		});
		options.signal?.addEventListener('abort', onAbort, { once: true });
		command.run();
	});
}
