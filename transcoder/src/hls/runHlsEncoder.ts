import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { HlsEncodePlan } from './buildHlsEncodePlan.js';
import type { Packager } from './Packager.js';

/** A running encoder whose outputs feed a packager. */
export interface HlsEncoderRun {
	process: ChildProcess;
	/** Resolves when ffmpeg has exited and the packager has read all it wrote. */
	done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Thin runner: starts ffmpeg with a plan and attaches each output pipe to its rendition in the packager. Without
 * `run`, the previous encoder must have stopped (a new sequential run); with it, runs may overlap and the packager
 * switches to the newer one when it can (make before break).
 */
export function runHlsEncoder(ffmpegPath: string, plan: HlsEncodePlan, packager: Packager, logger: Logger, run?: number): HlsEncoderRun {
	const fds = Math.max(...plan.outputs.map((o) => o.fd)) + 1;
	const stdio = Array.from({ length: fds }, (_, fd) => (fd === 0 ? 'ignore' : 'pipe')) as ('ignore' | 'pipe')[];
	if (run === undefined) packager.restart();
	const child = spawn(ffmpegPath, plan.args, { stdio });
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		// Keep the tail only: enough to classify a failure.
		stderr = (stderr + chunk.toString()).slice(-8192);
	});
	const reads = plan.outputs.map(({ rendition, fd }) =>
		(run === undefined ? packager.attach(rendition, child.stdio[fd] as Readable) : packager.attachRun(run, rendition, child.stdio[fd] as Readable)).catch((error: unknown) => {
			logger.error({ err: error, rendition }, 'packaging failed; stopping the encoder');
			child.kill('SIGKILL');
		}),
	);
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
		child.once('close', (code, signal) => resolve({ code, signal }));
	});
	const done = Promise.all([exited, ...reads]).then(([exit]) => ({ ...exit, stderr }));
	return { process: child, done };
}
