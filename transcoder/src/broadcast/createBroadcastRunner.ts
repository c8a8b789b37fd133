import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BroadcastCaptions } from '../captions/BroadcastCaptions.js';
import type { CaptionEngine } from '../captions/CaptionEngine.js';
import { PocketsphinxEngine } from '../captions/PocketsphinxEngine.js';
import { HlsDiskWriter } from '../hls/HlsDiskWriter.js';
import { Packager } from '../hls/Packager.js';
import { RedisHlsPublisher } from '../hls/RedisHlsPublisher.js';
import { drainedStopSignal } from '../hls/replayDrain.js';
import { planStreamResume, readFeedPosition, readReplayJournals } from '../hls/streamResume.js';
import type { StageLinkClient } from '../stageLink/StageLinkClient.js';
import type { StageLinkSpeaker } from '../stageLink/stageLinkProtocol.js';
import { spaceEndedReason, type BroadcastRunner } from './BroadcastWorker.js';
import type { LatencyProfile, Rendition } from './ladder.js';
import { renditionBandwidth } from './renditionBandwidth.js';
import { runStageBroadcast } from './runStageBroadcast.js';
import { SocketOutputs } from './SocketOutputs.js';

export interface BroadcastRunnerDeps {
	redis: Redis;
	prefix: string;
	link: StageLinkClient;
	ladder: readonly Rendition[];
	latency: LatencyProfile;
	canvas: { width: number; height: number };
	/** Replays are written under `<dataDir>/hls/<spaceId>/`. */
	dataDir: string;
	ffmpegPath: string;
	fontFile: string;
	/** One speaker's caption engine (not started). Default: PocketSphinx with Debian's US English model. */
	createCaptionEngine?: (speaker: StageLinkSpeaker, logger: Logger) => CaptionEngine;
	/**
	 * Free CPU (cores) the machine needs when a broadcast starts for its first run to encode everything; with less
	 * it starts with work shed (see `startLevel`). 0: always start with everything. Default 1.
	 */
	startIdleCores?: number;
	/** How many levels of work a broadcast may shed (see `planEncodeLevels`); 0 never sheds. Default: all there are. */
	maxShed?: number;
	/** Address the hosting node sends RTP to: this machine's. Default 127.0.0.1. */
	rtpIp?: string;
}

/**
 * What a transcoder does with a broadcast job: the stage (through the stage link) → ffmpeg (the composite and the
 * ladder) → unix sockets → the LL-HLS packager → origins (through Redis) and, when recording, the replay on disk.
 */
export function createBroadcastRunner(deps: BroadcastRunnerDeps): BroadcastRunner {
	return async (data, { signal, logger, reportProgress: report }) => {
		// A replay store that fails (a full disk) is said at once, to the log and to hosts through the job's progress;
		// the live stream travels through Redis and goes on.
		let replayError: string | undefined;
		const reportProgress: typeof report = (progress) => report({ ...progress, ...(replayError !== undefined && { replayError }) });
		const renditions = deps.ladder.filter((r) => data.composite || !r.video);
		// One session per job run: a job taken over from a dead transcoder must not renew the old one's consumers.
		const sessionId = `${data.spaceId.slice(0, 48)}-${randomBytes(6).toString('hex')}`;
		const disk = data.recording
			? new HlsDiskWriter(path.join(deps.dataDir, 'hls'), data.spaceId, {
					onError: (error) => {
						const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
						replayError = `${code}: the replay could not be written and is incomplete; the live broadcast goes on`;
						logger.error({ err: error, spaceId: data.spaceId }, 'replay store write failed: the replay is incomplete, live goes on');
					},
				})
			: undefined;
		// A job that ran before (on a transcoder that died, or here before a crash) left a stream origins and players
		// follow: carry on its numbering, and keep the replay's earlier segments.
		const feed = await readFeedPosition(deps.redis, deps.prefix, data.spaceId);
		if (feed.state === 'ended') throw new UnrecoverableError(`the broadcast of space ${data.spaceId} has already ended`);
		const journals = disk ? await readReplayJournals(disk, renditions.map((r) => r.name), feed) : {};
		const resume = planStreamResume(feed, journals, renditions.map((r) => r.name));
		if (resume) logger.info({ nextSeq: resume.nextSeq, renditions: Object.fromEntries(Object.entries(resume.renditions).map(([name, r]) => [name, r.lastMsn])) }, 'continuing the stream of an earlier run');
		const workDir = path.join(os.tmpdir(), `tribune-broadcast-${sessionId}`);
		await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
		const onAir = new OnAirRuns();
		const packager = new Packager({
			onRunOnAir: (run) => {
				logger.info({ run }, 'encoder run on air');
				onAir.put(run);
			},
			streamId: data.spaceId,
			renditions: renditions.map((r) => ({
				name: r.name,
				kind: r.video ? 'video' : 'audio',
				bandwidth: renditionBandwidth(r, deps.latency),
				...(r.video && { frameRate: deps.latency.fps }),
			})),
			partTargetMs: deps.latency.partTargetMs,
			segmentTargetMs: deps.latency.segmentTargetMs,
			// Always: a caption mode turned on mid-broadcast must not change the multivariant playlist players hold.
			subtitles: true,
			sink: new RedisHlsPublisher(deps.redis, deps.prefix, data.spaceId, { logger }),
			...(disk && { disk }),
			...(resume && { resume }),
			logger,
		});
		const outputs = new SocketOutputs(packager, workDir, logger);
		// Captions never take the broadcast down: without them it goes on, logged.
		const captions = await BroadcastCaptions.start({
			spaceId: data.spaceId, redis: deps.redis, prefix: deps.prefix, link: deps.link, sessionId, workDir, ffmpegPath: deps.ffmpegPath,
			packager, composite: data.composite, canvas: deps.canvas, logger,
			...(deps.rtpIp !== undefined && { ip: deps.rtpIp }),
			createEngine: deps.createCaptionEngine ?? ((_, engineLogger) => new PocketsphinxEngine({ logger: engineLogger })),
		}).catch((error: unknown) => void logger.error({ err: error }, 'captions unavailable for this broadcast'));
		// What the encoder flushes as it stops was captured after the space ended: not part of it. (A transcoder that
		// stops hands the broadcast over instead: nothing is cut.)
		const onStop = (): void => {
			if (signal.reason === spaceEndedReason) packager.cutAt(Date.now());
			// Captions end with the stop, while the encoder drains (seconds on a busy machine): the stage goes with the
			// space, and captioners kept until the drain was over saw their decoders time out and restart against it.
			captions?.finish().catch((error: unknown) => logger.warn({ err: error }, 'captions did not finish cleanly'));
		};
		if (signal.aborted) onStop();
		else signal.addEventListener('abort', onStop, { once: true });
		try {
			await runStageBroadcast({
				spaceId: data.spaceId,
				composite: data.composite,
				link: deps.link,
				sessionId,
				ladder: renditions,
				latency: deps.latency,
				canvas: deps.canvas,
				workDir,
				fontFile: deps.fontFile,
				ffmpegPath: deps.ffmpegPath,
				...(captions?.captionsFile !== undefined && { captionsFile: captions.captionsFile }),
				openOutputs: (run, r, servedFrom) => outputs.open(run, r, servedFrom),
				outputBytes: (run) => outputs.bytesOf(run),
				// Each run's own media clock places it after the run before (see RunSwitcher.mediaOrigin).
				onMediaOrigin: (run, wallMs) => packager.runMediaOrigin(run, wallMs),
				outputLagMs: () => packager.outputLagMs(),
				// Behind real time, the broadcast sheds work in a documented order rather than fall behind (defaults).
				degradation: { ...(deps.startIdleCores !== undefined && { startIdleCores: deps.startIdleCores }), ...(deps.maxShed !== undefined && { maxLevel: deps.maxShed }) },
				...(deps.rtpIp !== undefined && { ip: deps.rtpIp }),
				onAir: (run, runSignal) =>
					onAir.wait(run, runSignal).catch((error: unknown) => {
						// Stopped before it went on air: the packager must not switch to it as its encoder goes.
						packager.abandonRun(run);
						throw error;
					}),
				// A recorded space's stop keeps the encoder until what it still holds is packaged (see drainedStopSignal):
				// a slow encoder runs seconds behind its input, which a plain stop drops from the replay.
				signal: data.recording ? drainedStopSignal(signal, { mediaEndMs: () => packagedMediaEndMs(packager, renditions) }) : signal,
				stopping: signal,
				logger,
				reportProgress,
			});
		} finally {
			await captions?.close();
			await outputs.close();
			const reference = renditions[0];
			await packager.end({
				// The transcript of the replay, on its timeline (its first rendition's segments), written before the
				// replay is marked complete, so an export that starts then finds it.
				beforeReplayComplete: async () => {
					if (!captions || !disk || !reference) return;
					await captions
						.writeTranscript(
							disk.dir,
							// Each segment at when its media was captured, as the live subtitles placed their cues.
							packager.timeline(reference.name).segments.map((s) => ({ durationS: s.durationS, pdtMs: packager.capturedAtMs(s.msn, s.pdtMs) })),
							(name, text) => disk.writeFile(name, text),
						)
						.catch((error: unknown) => logger.warn({ err: error }, 'transcript not written'));
				},
			});
			await fs.rm(workDir, { recursive: true, force: true });
		}
	};
}

/** Where every rendition's packaged media has reached, wall-clock ms (the least over them; 0 before any media). */
function packagedMediaEndMs(packager: Packager, renditions: readonly Rendition[]): number {
	return Math.min(
		...renditions.map((r) => {
			const last = packager.timeline(r.name).segments.at(-1);
			return last ? last.pdtMs + last.durationS * 1000 : 0;
		}),
	);
}

/** Which encoder runs the packager has put on air, for the runner waiting to stop the run each one replaces. */
class OnAirRuns {
	#latest = -1;
	readonly #waiting = new Map<number, () => void>();

	put(run: number): void {
		this.#latest = Math.max(this.#latest, run);
		for (const [waited, resolve] of this.#waiting) {
			if (waited <= run) {
				this.#waiting.delete(waited);
				resolve();
			}
		}
	}

	/** Resolves when `run` (or a later one) is on air; rejects when `signal` aborts first. */
	wait(run: number, signal: AbortSignal): Promise<void> {
		if (this.#latest >= run) return Promise.resolve();
		return new Promise((resolve, reject) => {
			const onAbort = (): void => {
				this.#waiting.delete(run);
				reject(new Error(`run ${run} stopped before it went on air`));
			};
			if (signal.aborted) return onAbort();
			this.#waiting.set(run, () => {
				signal.removeEventListener('abort', onAbort);
				resolve();
			});
			signal.addEventListener('abort', onAbort, { once: true });
		});
	}
}
