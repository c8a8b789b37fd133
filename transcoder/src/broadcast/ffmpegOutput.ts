import type ffmpeg from 'fluent-ffmpeg';

/** What ffmpeg's once-a-second stats line says about a running encode. */
export interface FfmpegStats {
	/** Video frames written so far (absent for audio-only encodes). */
	frame?: number;
	fps?: number;
	/** Media time written, seconds. */
	timeS: number;
	bitrateKbps?: number;
	/** Encode speed relative to real time (1 = keeping up with a live source). */
	speed?: number;
}

/**
 * Parses a stats line (`frame=  250 fps= 25 q=23.0 size= 1024kB time=00:00:10.00 bitrate= 838.9kbits/s speed=1x`).
 * Returns undefined for any other line.
 */
export function parseFfmpegStats(line: string): FfmpegStats | undefined {
	const time = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
	if (!time || !/(?:^|\s)size=/.test(line)) return undefined;
	const timeS = (time[1] ? -1 : 1) * (Number(time[2]) * 3600 + Number(time[3]) * 60 + Number(time[4]));
	const stats: FfmpegStats = { timeS };
	const number = (pattern: RegExp): number | undefined => {
		const match = pattern.exec(line);
		return match ? Number(match[1]) : undefined;
	};
	const frame = number(/frame=\s*(\d+)/);
	const fps = number(/fps=\s*(\d+(?:\.\d+)?)/);
	const bitrate = number(/bitrate=\s*(\d+(?:\.\d+)?)kbits\/s/);
	const speed = number(/speed=\s*(\d+(?:\.\d+)?)x/);
	if (frame !== undefined) stats.frame = frame;
	if (fps !== undefined) stats.fps = fps;
	if (bitrate !== undefined) stats.bitrateKbps = bitrate;
	if (speed !== undefined) stats.speed = speed;
	return stats;
}

/**
 * How an ffmpeg run ended badly: it exited or was killed from outside (`exit`), the runner's watchdog killed it before
 * its first stats line by its start-up deadline (`did-not-start`), or after it had started, stuck (no stats line, no
 * output and no CPU time) or hung (no stats line and no output for much longer, however busy) (`stalled`).
 */
export type FfmpegFailureKind = 'exit' | 'did-not-start' | 'stalled';

/** Why an ffmpeg process ended badly, and whether running it again can help. */
export interface FfmpegFailure {
	retryable: boolean;
	reason: string;
	/** Default `exit`. */
	kind?: FfmpegFailureKind;
}

/**
 * The failure of an ffmpeg the watchdog killed: still `starting` (no stats line yet) when its start-up deadline
 * passed; `stuck` (no stats line, no output, no CPU time) for the stall timeout; or `hung` (no stats line and no
 * output) for the much longer hung timeout. All retryable: a busy machine or a stuck input, not a wrong plan. A slow
 * ffmpeg is never killed.
 */
export function watchdogFailure(state: 'starting' | 'stuck' | 'hung', timeoutMs: number): FfmpegFailure {
	switch (state) {
		case 'starting':
			return { retryable: true, kind: 'did-not-start', reason: `ffmpeg did not start: no progress within ${timeoutMs} ms of its start` };
		case 'stuck':
			return { retryable: true, kind: 'stalled', reason: `ffmpeg stuck: no stats line, no output and no CPU time for ${timeoutMs} ms after it had started` };
		case 'hung':
			return { retryable: true, kind: 'stalled', reason: `ffmpeg hung: no stats line and no output for ${timeoutMs} ms after it had started` };
	}
}

/**
 * Patterns in ffmpeg's stderr that mean the same command will fail again: the plan or the machine is wrong, not the
 * moment. Everything else (crashes, kills, broken pipes, network trouble, stalls) is worth a retry.
 */
const unrecoverable: [RegExp, string][] = [
	[/No such filter: '([^']*)'/, 'ffmpeg lacks a filter the plan uses'],
	[/Unknown encoder '([^']*)'/, 'ffmpeg lacks an encoder the plan uses'],
	[/Unrecognized option '([^']*)'|Option not found/, 'ffmpeg rejected an option'],
	[/Error (?:initializing|reinitializing) (?:complex )?filters?|Invalid argument.*filter|Error parsing (?:a )?filter/i, 'the filter graph is invalid'],
	[/Cannot find a matching stream for unlabeled input pad|Output with label '[^']*' does not exist/, 'the filter graph does not match the streams'],
	[/Protocol not found|Protocol '([^']*)' not on whitelist/, 'an input or output protocol is not allowed'],
	[/Cannot load font|Could not load font/i, 'the font file cannot be loaded'],
	[/Permission denied/, 'permission denied on an input or output'],
];

/**
 * Failures of the moment that also make ffmpeg report a filter error: a control port another process took between
 * its choice and ffmpeg's bind fails the `zmq` filter's initialisation. A new run picks new ports.
 */
const transient: [RegExp, string][] = [[/Could not bind ZMQ socket|Address already in use/, 'a port ffmpeg binds was taken']];

/**
 * Classifies an ended ffmpeg process from its exit and the tail of its stderr. Pure, so every known failure is
 * covered by a test; the job turns unrecoverable ones into BullMQ's UnrecoverableError.
 */
export function classifyFfmpegExit(exit: { code: number | null; signal: string | null }, stderrLines: readonly string[]): FfmpegFailure {
	for (const line of stderrLines) {
		for (const [pattern, reason] of transient) {
			if (pattern.test(line)) return { retryable: true, reason: `${reason}: ${line.trim().slice(0, 300)}` };
		}
	}
	for (const line of stderrLines) {
		for (const [pattern, reason] of unrecoverable) {
			if (pattern.test(line)) return { retryable: false, reason: `${reason}: ${line.trim().slice(0, 300)}` };
		}
	}
	if (exit.signal) return { retryable: true, reason: `ffmpeg was killed by ${exit.signal}` };
	const last = [...stderrLines].reverse().find((line) => line.trim() !== '' && !parseFfmpegStats(line));
	return { retryable: true, reason: `ffmpeg exited with code ${exit.code ?? 'unknown'}${last ? `: ${last.trim().slice(0, 300)}` : ''}` };
}

/**
 * The process fluent-ffmpeg spawned for `command`, once started: its typings do not declare it, and this is the one
 * place Tribune reaches for it (the pid for the watchdog's /proc reads, the real exit code and signal).
 */
export function ffmpegProcessOf(command: ffmpeg.FfmpegCommand): { pid?: number; exitCode: number | null; signalCode: string | null } | undefined {
	return (command as unknown as { ffmpegProc?: { pid?: number; exitCode: number | null; signalCode: string | null } }).ffmpegProc;
}

/**
 * How `command`'s ffmpeg ended, for {@link classifyFfmpegExit}: fluent-ffmpeg reports an exit as an error message,
 * and by then has usually let go of the process (checked: an ffmpeg that exited by itself); its own code and signal
 * when it is still held, else those the message states.
 */
export function ffmpegExitOf(command: ffmpeg.FfmpegCommand, error: Error): { code: number | null; signal: string | null } {
	const proc = ffmpegProcessOf(command);
	if (proc && (proc.exitCode !== null || proc.signalCode !== null)) return { code: proc.exitCode, signal: proc.signalCode };
	const signal = /killed with signal (\w+)/.exec(error.message)?.[1] ?? null;
	const code = /exited with code (\d+)/.exec(error.message)?.[1];
	return { code: code === undefined ? null : Number(code), signal };
}
