import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildExportPlan, splitReplayRuns, type MeasuredExportInput } from './buildExportPlan.js';
import { replayMp4Name } from './exportJob.js';
import type { ExportRunner } from './ExportWorker.js';
import { measureMediaSpan } from './measureMediaSpan.js';
import { chooseExportRendition, parseReplayPlaylist, replayStreamSchema, type ReplayStream } from './replayPlaylist.js';
import { runExportFfmpeg } from './runExportFfmpeg.js';
import { subtitlesForExport } from './exportSubtitles.js';

export interface ExportRunnerDeps {
	/** `<TRIBUNE_DATA_DIR>/hls`: replays are read from, and MP4s written to, `<hlsRoot>/<spaceId>/`. */
	hlsRoot: string;
	ffmpegPath: string;
	/** How long one attempt waits for the replay to be complete (its `stream.json`), ms. Default 60000; then BullMQ retries. */
	replayWaitMs?: number;
	/** How often it looks, ms. Default 500. */
	replayPollMs?: number;
	/** Segments per ffmpeg input (each is an open file while the input is read). Default 500. */
	maxSegmentsPerInput?: number;
	/** ffmpeg's niceness. Default 10 (see runExportFfmpeg). */
	niceness?: number;
	/**
	 * How long it waits for the replay's transcript after the replay is complete, ms. Default 0: the broadcast
	 * writes `transcript.vtt` before the `stream.json` that marks the replay complete.
	 */
	transcriptWaitMs?: number;
}

/**
 * An export failure with a message fit for the API (no paths outside the replay). `retryable: false` ones become
 * BullMQ UnrecoverableErrors: the replay itself is wrong and will stay so.
 */
export class ExportError extends Error {
	override readonly name = 'ExportError';
	readonly retryable: boolean;

	constructor(message: string, retryable: boolean) {
		super(message);
		this.retryable = retryable;
	}
}

/**
 * What a transcoder does with an export job: wait for the replay to be complete, pick its best rendition, stream-copy
 * it into `replay.mp4.tmp` with ffmpeg (buildExportPlan) and rename it to `replay.mp4`, so a half-written file is
 * never served.
 */
export function createExportRunner(deps: ExportRunnerDeps): ExportRunner {
	return async (data, { signal, logger, reportProgress }) => {
		const dir = path.join(deps.hlsRoot, data.spaceId);
		await reportProgress({ state: 'waiting', percent: 0 });
		const stream = await waitForReplay(dir, deps.replayWaitMs ?? 60_000, deps.replayPollMs ?? 500, signal);
		const rendition = chooseExportRendition(stream);
		if (!rendition) throw new ExportError('the replay has no rendition to export', false);
		const inputs = await readInputs(dir, rendition.name, deps.maxSegmentsPerInput ?? 500);
		const work = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-export-'));
		const temporary = path.join(dir, `${replayMp4Name}.tmp`);
		try {
			const transcript = await waitForTranscript(dir, deps.transcriptWaitMs ?? 0, Math.min(deps.replayPollMs ?? 500, 250), signal);
			const plan = buildExportPlan({
				replayDir: dir,
				listPath: path.join(work, 'inputs.ffconcat'),
				inputs,
				...(transcript !== undefined && { subtitles: { path: path.join(work, 'captions.vtt'), vtt: subtitlesForExport(transcript) } }),
			});
			const progress = { rendition: rendition.name, durationS: Math.round(plan.durationS * 1000) / 1000 };
			await reportProgress({ state: 'running', percent: 0, ...progress });
			let reported = 0;
			await runExportFfmpeg({
				plan,
				ffmpegPath: deps.ffmpegPath,
				...(deps.niceness !== undefined && { niceness: deps.niceness }),
				signal,
				logger,
				onProgress: (stats) => {
					// 100 only once the file is in place: the +faststart pass runs after the last stats line.
					const percent = Math.min(99, Math.max(0, Math.floor((stats.timeS / Math.max(plan.durationS, 0.001)) * 100)));
					if (percent <= reported) return;
					reported = percent;
					reportProgress({ state: 'running', percent, ...progress }).catch((error: unknown) => logger.warn({ err: error }, 'export progress not reported'));
				},
			});
			const done = path.join(dir, plan.finalName);
			await fs.rename(path.join(dir, plan.output.url), done);
			const { size } = await fs.stat(done);
			await reportProgress({ state: 'ready', percent: 100, ...progress, bytes: size });
			logger.info({ ...progress, bytes: size, inputs: inputs.length, captions: transcript !== undefined }, 'replay exported');
		} catch (error) {
			await fs.rm(temporary, { force: true });
			throw error;
		} finally {
			await fs.rm(work, { recursive: true, force: true });
		}
	};
}

/**
 * The replay's `stream.json`, once the packager has written it (last, when the broadcast ended). Waits at most
 * `waitMs`; a replay still incomplete then is a retryable failure (BullMQ backs off and tries again).
 */
async function waitForReplay(dir: string, waitMs: number, pollMs: number, signal: AbortSignal): Promise<ReplayStream> {
	const deadline = Date.now() + waitMs;
	for (;;) {
		signal.throwIfAborted();
		let text: string | undefined;
		try {
			text = await fs.readFile(path.join(dir, 'stream.json'), 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
		}
		if (text !== undefined) {
			const parsed = replayStreamSchema.safeParse(parseJson(text));
			if (!parsed.success) throw new ExportError('the replay is damaged (stream.json)', false);
			return parsed.data;
		}
		if (Date.now() >= deadline) throw new ExportError(`the replay is not complete after ${Math.round(waitMs / 1000)} s (is the broadcast still ending, or on another machine?)`, true);
		await new Promise((resolve) => setTimeout(resolve, pollMs));
	}
}

/** The replay's transcript once it is there, or undefined when none came within `waitMs`. */
async function waitForTranscript(dir: string, waitMs: number, pollMs: number, signal: AbortSignal): Promise<string | undefined> {
	const deadline = Date.now() + waitMs;
	for (;;) {
		signal.throwIfAborted();
		const text = await readTranscriptVtt(dir);
		if (text !== undefined || Date.now() >= deadline) return text;
		await new Promise((resolve) => setTimeout(resolve, pollMs));
	}
}

/** The replay's transcript (written by the captions engine when the broadcast ends), or undefined when it has none. */
async function readTranscriptVtt(dir: string): Promise<string | undefined> {
	try {
		const text = await fs.readFile(path.join(dir, 'transcript.vtt'), 'utf8');
		// A transcript without a cue adds nothing but an empty track.
		return /-->/.test(text) ? text : undefined;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	}
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/** The rendition's runs as export inputs, each measured from its fragments. */
async function readInputs(dir: string, rendition: string, maxSegmentsPerInput: number): Promise<MeasuredExportInput[]> {
	let text: string;
	try {
		text = await fs.readFile(path.join(dir, rendition, 'vod.m3u8'), 'utf8');
	} catch {
		throw new ExportError(`the replay has no ${rendition} playlist`, false);
	}
	let inputs;
	try {
		inputs = splitReplayRuns(parseReplayPlaylist(text), rendition, maxSegmentsPerInput);
	} catch (error) {
		throw new ExportError(`the replay's ${rendition} playlist is damaged: ${(error as Error).message}`, false);
	}
	if (inputs.length === 0) throw new ExportError('the replay has no media', false);
	const measured: MeasuredExportInput[] = [];
	for (const input of inputs) {
		const first = input.segmentPaths[0]!;
		const last = input.segmentPaths.at(-1)!;
		try {
			const span = await measureMediaSpan(path.join(dir, input.initPath), path.join(dir, first), path.join(dir, last));
			measured.push({ ...input, span });
		} catch {
			throw new ExportError(`the replay's media is damaged or missing (${input.initPath}, ${first}…${last})`, false);
		}
	}
	return measured;
}
