import type { TextFile } from '../broadcast/buildFfmpegPlan.js';
import { replayMp4Name } from './exportJob.js';
import type { MediaSpan } from './measureMediaSpan.js';
import type { ReplayRun } from './replayPlaylist.js';

/** One input of the export: an init section and segments after it, read by ffmpeg as one fMP4 file. */
export interface ExportInput {
	/** Paths relative to the stream's replay directory: `720p/init-0.mp4`, `720p/seg-0.m4s`, … */
	initPath: string;
	segmentPaths: readonly string[];
	/** Sum of the segments' EXTINF, seconds. */
	playlistDurationS: number;
	/** The input goes on with the previous input's encoder run (same init section, no discontinuity). */
	continuesRun: boolean;
	/** Time of gap placeholders after this input (the last of its run), s: the MP4 keeps it, see {@link buildExportPlan}. */
	gapAfterS?: number;
}

/** An input with where its media lies on its encoder run's timeline (see measureMediaSpan). */
export interface MeasuredExportInput extends ExportInput {
	span: MediaSpan;
}

export interface ExportPlanOptions {
	/** The stream's replay directory, `<TRIBUNE_DATA_DIR>/hls/<spaceId>`: ffmpeg runs there and every path is relative to it. */
	replayDir: string;
	/** Where the runner writes the concat script (anywhere outside the replay directory). */
	listPath: string;
	inputs: readonly MeasuredExportInput[];
	/**
	 * Captions for the MP4's subtitle track, as WebVTT on the replay's timeline (see `subtitlesForExport`); the runner
	 * writes them to `path` (outside the replay directory). Absent: no subtitle track.
	 */
	subtitles?: { path: string; vtt: string };
}

/** ffmpeg's arguments for one export, split as fluent-ffmpeg applies them, and the script they read. */
export interface ExportPlan {
	cwd: string;
	input: { url: string; options: string[] };
	/** Further inputs after `input`, in order (the subtitles). */
	extraInputs: { url: string; options: string[] }[];
	output: { url: string; options: string[] };
	/** The finished MP4's name (in `cwd`); the output is renamed to it only once complete. */
	finalName: string;
	/** The whole command line (what fluent-ffmpeg runs, less its `-y`). */
	args: string[];
	textFiles: TextFile[];
	/** Length of the MP4, seconds: ffmpeg's output time is measured against it for progress. */
	durationS: number;
}

/**
 * Cuts a rendition's runs into export inputs of at most `maxSegmentsPerInput` segments. ffmpeg's concat protocol
 * keeps every file of an input open at once, so an hour-long run of 1 s segments would need thousands of file
 * descriptors in one input.
 */
export function splitReplayRuns(runs: readonly ReplayRun[], rendition: string, maxSegmentsPerInput: number): ExportInput[] {
	if (!Number.isInteger(maxSegmentsPerInput) || maxSegmentsPerInput < 1) throw new RangeError('maxSegmentsPerInput must be a positive integer');
	const inputs: ExportInput[] = [];
	for (const run of runs) {
		for (let i = 0; i < run.segments.length; i += maxSegmentsPerInput) {
			const segments = run.segments.slice(i, i + maxSegmentsPerInput);
			const last = i + maxSegmentsPerInput >= run.segments.length;
			inputs.push({
				initPath: `${rendition}/${run.initUri}`,
				segmentPaths: segments.map((s) => `${rendition}/${s.uri}`),
				playlistDurationS: segments.reduce((sum, s) => sum + s.durationS, 0),
				continuesRun: i > 0,
				...(last && run.gapAfterS !== undefined && run.gapAfterS > 0 && { gapAfterS: run.gapAfterS }),
			});
		}
	}
	return inputs;
}

/**
 * The ffmpeg plan that turns a replay into one MP4 by stream copy (no decoding; seconds for an hour of audio).
 *
 * A replay is a series of encoder runs, each with its own init section and a timeline that restarts; the HLS
 * demuxer would read it with the first run's `moov` only and leave the timestamps to ffmpeg's discontinuity
 * guesswork. Instead each input is its init section and segments joined by the concat protocol (a valid fMP4
 * file), and the concat demuxer lays the inputs end to end, each `duration` measured from the fragments: an input
 * that goes on with the same run lasts until the next one starts (its timeline is kept exactly); the last input of
 * a run lasts until its longest track ends, so the next run starts after the last audio frame and no timestamps
 * overlap (audio and video stay in sync within every run). Gap placeholders after a run (numbers the rendition
 * skipped) lengthen its last input by their time: the MP4's timeline stays the replay's, on which the transcript
 * (its subtitle track) is timed; players hold the last picture through it.
 */
export function buildExportPlan(options: ExportPlanOptions): ExportPlan {
	const { inputs } = options;
	if (inputs.length === 0) throw new Error('nothing to export');
	const lines = ['ffconcat version 1.0'];
	let durationS = 0;
	inputs.forEach((input, i) => {
		const next = inputs[i + 1];
		const measured = next?.continuesRun ? next.span.startS - input.span.startS : input.span.endS - input.span.startS;
		// Timestamps that do not advance mean a damaged run: the playlist's durations are the next best thing.
		const inputS = (measured > 0 ? measured : input.playlistDurationS) + (input.gapAfterS ?? 0);
		durationS += inputS;
		// Protocol URLs are taken as they are (not resolved against the script's directory): relative to cwd.
		lines.push(`file ${quote(`concat:${[input.initPath, ...input.segmentPaths].join('|')}`)}`, `duration ${inputS.toFixed(6)}`);
	});
	const input = {
		url: options.listPath,
		options: [
			// Info level for the stats line the runner reads for progress and stall detection.
			'-hide_banner', '-nostdin', '-loglevel', 'info', '-stats_period', '0.5',
			// The script's entries are `concat:` URLs built from parsed replay names only, which `-safe 1` refuses.
			'-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,concat',
		],
	};
	const { subtitles } = options;
	// Its own demuxer named: the file's extension is not looked at for an input given `-f`.
	const extraInputs = subtitles ? [{ url: subtitles.path, options: ['-f', 'webvtt'] }] : [];
	const output = {
		url: `${replayMp4Name}.tmp`,
		options: [
			'-map', '0', '-c', 'copy',
			// MP4's own text track (3GPP timed text): players show it as a captions track; WebVTT cannot go in MP4.
			...(subtitles ? ['-map', '1:s', '-c:s', 'mov_text', '-metadata:s:s:0', 'language=eng', '-metadata:s:s:0', 'handler_name=Captions'] : []),
			// The index up front: a browser plays the download while it arrives and can seek at once.
			'-movflags', '+faststart',
			// The temporary name has no .mp4 extension to infer the muxer from.
			'-f', 'mp4',
		],
	};
	return {
		cwd: options.replayDir,
		input,
		extraInputs,
		output,
		finalName: replayMp4Name,
		args: [...input.options, '-i', input.url, ...extraInputs.flatMap((x) => [...x.options, '-i', x.url]), ...output.options, output.url],
		textFiles: [{ path: options.listPath, content: `${lines.join('\n')}\n` }, ...(subtitles ? [{ path: subtitles.path, content: subtitles.vtt }] : [])],
		durationS,
	};
}

/** A quoted string in ffconcat syntax: single quotes, with `'` written as `'\''`. */
function quote(text: string): string {
	return `'${text.replaceAll("'", "'\\''")}'`;
}
