import ffmpeg from 'fluent-ffmpeg';
import { describe, expect, it } from 'vitest';
import { classifyFfmpegExit, ffmpegExitOf, ffmpegProcessOf, parseFfmpegStats, watchdogFailure } from './ffmpegOutput.js';

describe('parseFfmpegStats()', () => {
	it('reads a video encode stats line', () => {
		expect(parseFfmpegStats('frame=  250 fps= 25 q=23.0 q=21.0 size=    1024kB time=00:00:10.00 bitrate= 838.9kbits/s speed=1.01x')).toEqual({
			frame: 250, fps: 25, timeS: 10, bitrateKbps: 838.9, speed: 1.01,
		});
	});

	it('reads an audio-only stats line', () => {
		expect(parseFfmpegStats('size=      96kB time=01:02:03.50 bitrate=  64.1kbits/s speed=   1x')).toEqual({ timeS: 3723.5, bitrateKbps: 64.1, speed: 1 });
	});

	it('tolerates N/A values at the start of an encode', () => {
		expect(parseFfmpegStats('frame=    0 fps=0.0 q=0.0 size=       0kB time=-00:00:00.04 bitrate=N/A speed=N/A')).toEqual({ frame: 0, fps: 0, timeS: -0.04 });
	});

	it('ignores other lines', () => {
		expect(parseFfmpegStats('Stream mapping:')).toBeUndefined();
		expect(parseFfmpegStats('[mp4 @ 0x5555] time=00:00:01.00 in a warning')).toBeUndefined();
	});
});

describe('classifyFfmpegExit()', () => {
	it.each([
		["[AVFilterGraph @ 0x55] No such filter: 'speechnorm'", 'ffmpeg lacks a filter'],
		["Unknown encoder 'libfdk_aac'", 'ffmpeg lacks an encoder'],
		["Unrecognized option 'stats_period'.", 'ffmpeg rejected an option'],
		['Error initializing complex filters.', 'the filter graph is invalid'],
		["Output with label 'vo_720p' does not exist in any defined filter graph, or was already used elsewhere.", 'does not match the streams'],
		["Protocol 'http' not on whitelist 'file,udp,rtp'!", 'protocol is not allowed'],
		['[Parsed_drawtext_3 @ 0x1] Cannot load font from file: /nope.ttf', 'font file'],
		['/var/lib/tribune/720p.mp4: Permission denied', 'permission denied'],
	])('%j is unrecoverable', (line, reason) => {
		const failure = classifyFfmpegExit({ code: 1, signal: null }, ['ffmpeg version 5.1', line, 'Conversion failed!']);
		expect(failure.retryable).toBe(false);
		expect(failure.reason).toContain(reason);
	});

	it('retries a process killed by a signal (OOM killer, crash)', () => {
		expect(classifyFfmpegExit({ code: null, signal: 'SIGSEGV' }, [])).toEqual({ retryable: true, reason: 'ffmpeg was killed by SIGSEGV' });
	});

	it('retries a run whose control port was taken, although ffmpeg then reports a filter error', () => {
		const failure = classifyFfmpegExit({ code: 1, signal: null }, [
			"[Parsed_zmq_0 @ 0x56] Could not bind ZMQ socket to address 'tcp://127.0.0.1:5611': Address already in use",
			"[AVFilterGraph @ 0x56] Error initializing filter 'zmq' with args 'bind_address=tcp\\://127.0.0.1\\:5611'",
			'Error reinitializing filters!',
		]);
		expect(failure.retryable).toBe(true);
		expect(failure.reason).toContain('a port ffmpeg binds was taken');
	});

	it('retries a broken output pipe and names the last error line, not a stats line', () => {
		const failure = classifyFfmpegExit({ code: 1, signal: null }, [
			'av_interleaved_write_frame(): Broken pipe',
			'frame=  250 fps= 25 q=23.0 size=    1024kB time=00:00:10.00 bitrate= 838.9kbits/s speed=1x',
		]);
		expect(failure).toEqual({ retryable: true, reason: 'ffmpeg exited with code 1: av_interleaved_write_frame(): Broken pipe' });
	});
});

describe('watchdogFailure()', () => {
	it('tells an ffmpeg that did not start by its deadline from one stuck or hung after it had started; all retryable', () => {
		expect(watchdogFailure('starting', 30_000)).toEqual({ retryable: true, kind: 'did-not-start', reason: 'ffmpeg did not start: no progress within 30000 ms of its start' });
		expect(watchdogFailure('stuck', 5000)).toEqual({ retryable: true, kind: 'stalled', reason: 'ffmpeg stuck: no stats line, no output and no CPU time for 5000 ms after it had started' });
		expect(watchdogFailure('hung', 60_000)).toEqual({ retryable: true, kind: 'stalled', reason: 'ffmpeg hung: no stats line and no output for 60000 ms after it had started' });
	});
});

describe('ffmpegExitOf()', () => {
	/** Runs `command` (a real ffmpeg) until fluent-ffmpeg reports its end as an error; `onStart` once it is spawned. */
	const failure = (command: ffmpeg.FfmpegCommand, onStart: () => void = () => {}) =>
		new Promise<Error>((resolve, reject) => {
			command.on('start', onStart).on('error', resolve).on('end', () => reject(new Error('ffmpeg ended without an error'))).run();
		});

	it('tells the exit code of an ffmpeg that failed', async () => {
		const command = ffmpeg('/nonexistent/tribune-input.wav').output('/dev/null').format('null');
		let pid: number | undefined;
		const error = await failure(command, () => (pid = ffmpegProcessOf(command)?.pid));
		expect(pid).toBeGreaterThan(0);
		expect(ffmpegExitOf(command, error)).toEqual({ code: 1, signal: null });
	});

	it('tells the signal that killed an ffmpeg', async () => {
		const command = ffmpeg().input('anullsrc').inputFormat('lavfi').inputOptions('-re').output('/dev/null').format('null');
		const error = await failure(command, () => setTimeout(() => command.kill('SIGKILL'), 200));
		expect(ffmpegExitOf(command, error)).toEqual({ code: null, signal: 'SIGKILL' });
	});

	it('reads the message when there is no process to ask', () => {
		const command = ffmpeg();
		expect(ffmpegProcessOf(command)).toBeUndefined();
		expect(ffmpegExitOf(command, new Error('ffmpeg exited with code 234: Conversion failed'))).toEqual({ code: 234, signal: null });
		expect(ffmpegExitOf(command, new Error('ffmpeg was killed with signal SIGTERM'))).toEqual({ code: null, signal: 'SIGTERM' });
		expect(ffmpegExitOf(command, new Error('something else'))).toEqual({ code: null, signal: null });
	});
});
