import { spawn } from 'node:child_process';

/**
 * Pipes `input` (an fMP4: init section + fragments) through `ffmpeg -v error -i pipe:0 <outputArgs> pipe:1` and
 * resolves with what it wrote, within 10 s; an empty buffer if ffmpeg could not decode it.
 */
export function decodeWithFfmpeg(input: Buffer, outputArgs: readonly string[]): Promise<Buffer> {
	return new Promise((resolve) => {
		const ffmpeg = spawn('ffmpeg', ['-v', 'error', '-i', 'pipe:0', ...outputArgs, 'pipe:1']);
		const out: Buffer[] = [];
		const timer = setTimeout(() => ffmpeg.kill('SIGKILL'), 10_000);
		ffmpeg.stdout.on('data', (chunk: Buffer) => out.push(chunk));
		ffmpeg.stdin.on('error', () => {});
		ffmpeg.on('close', () => {
			clearTimeout(timer);
			resolve(Buffer.concat(out));
		});
		ffmpeg.stdin.end(input);
	});
}
