import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { allocateUdpPortPair, buildConsumerSdp, waitForUdpPortsBound, type SdpStream } from '@tribune/ingest';
import { UnrecoverableError } from 'bullmq';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { StageLinkError, type StageLinkClient } from '../stageLink/StageLinkClient.js';
import type { StageLinkSnapshot } from '../stageLink/stageLinkProtocol.js';
import { stageLinkLeaseMs } from '../stageLink/stageLinkProtocol.js';
import type { BroadcastProgress } from './broadcastJob.js';
import { buildFfmpegPlan, displayName, type FfmpegPlan } from './buildFfmpegPlan.js';
import { computeLayout, type Layout } from './computeLayout.js';
import type { LatencyProfile, Rendition } from './ladder.js';
import { OpusGapFiller } from './OpusGapFiller.js';
import { ZmqControl } from './ZmqControl.js';
import { FfmpegError, runFfmpeg } from './runFfmpeg.js';

export interface StageBroadcastOptions {
	spaceId: string;
	composite: boolean;
	link: StageLinkClient;
	/** Names this broadcast's consumers on the hosting node (the BullMQ job id). */
	sessionId: string;
	ladder: readonly Rendition[];
	latency: LatencyProfile;
	canvas: { width: number; height: number };
	/** Per-job directory for the SDP and drawtext files; Tribune-made, `[A-Za-z0-9_./-]`. */
	workDir: string;
	fontFile: string;
	ffmpegPath?: string;
	stallTimeoutMs?: number;
	/**
	 * Before every ffmpeg run: where each rendition's fMP4 goes. From the second run on, the packager behind it marks
	 * a discontinuity, so the listeners' timeline continues across restarts.
	 */
	openOutputs: (run: number, renditions: readonly Rendition[]) => Promise<Readonly<Record<string, string>>>;
	/** Aborted when the space ends. */
	signal: AbortSignal;
	logger: Logger;
	reportProgress: (progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>) => Promise<void>;
	/** Address the hosting node sends RTP to; this machine's. Default 127.0.0.1. */
	ip?: string;
}

/** Restart backoff after a failed ffmpeg run; reset by a run that lasted `stableMs`. */
const backoff = { initialMs: 250, maxMs: 5000, stableMs: 30_000 };
/** Payload type of Opus in the SDP ffmpeg reads; the gap filler writes it on every packet it forwards. */
const opusPayloadType = 100;
/** Stage changes this close together restart ffmpeg once. */
const settleMs = 150;

/**
 * Broadcasts one space's stage until `signal` aborts: consumes every speaker through the stage link, runs the
 * ffmpeg plan for the current layout, and runs it again when the stage changes in a way the running graph cannot
 * follow (a speaker joins or leaves, turns the camera on or off, pins change). Mutes, names and the active speaker
 * only rewrite drawtext files: every speaker's audio passes an OpusGapFiller, so a paused producer becomes silence
 * instead of a stalled mix. A crashed or stalled ffmpeg is restarted with backoff; an unrecoverable one fails the
 * job.
 */
export async function runStageBroadcast(options: StageBroadcastOptions): Promise<void> {
	const { link, logger, signal } = options;
	await fs.mkdir(options.workDir, { recursive: true });
	let latest = await link.snapshot(options.spaceId);
	let runAbort: AbortController | undefined;
	let runningKey: string | undefined;
	let settleTimer: NodeJS.Timeout | undefined;
	let wake: (() => void) | undefined;
	let labelFiles: { path: string; tile: number }[] = [];
	let runningLayout: Layout | undefined;
	let highlight: ActiveHighlight | undefined;

	const unwatch = await link.watch(options.spaceId, (snapshot) => {
		latest = snapshot;
		wake?.();
		if (runningKey === undefined) return;
		if (restartKey(snapshot) !== runningKey) {
			clearTimeout(settleTimer);
			settleTimer = setTimeout(() => runAbort?.abort(), settleMs);
		} else if (runningLayout) {
			void writeLabels(runningLayout, snapshot, labelFiles).catch((error: unknown) => logger.warn({ err: error }, 'could not update labels'));
			highlight?.show(snapshot.activeSpeakerId);
		}
	});
	const renew = setInterval(() => {
		const node = latest?.node;
		if (node) link.call(node, 'renew', { sessionId: options.sessionId }).catch(() => {});
	}, stageLinkLeaseMs / 3);
	const onAbort = (): void => {
		runAbort?.abort();
		wake?.();
	};
	signal.addEventListener('abort', onAbort, { once: true });

	let run = 0;
	let restarts = 0;
	let failures = 0;
	try {
		while (!signal.aborted) {
			if (!latest) {
				// The space is live but its node has not published the stage yet.
				await new Promise<void>((resolve) => (wake = resolve));
				continue;
			}
			const snapshot = latest;
			runAbort = new AbortController();
			runningKey = restartKey(snapshot);
			const startedAt = Date.now();
			await options.reportProgress({ state: run === 0 ? 'starting' : 'restarting', speakers: snapshot.speakers.length, restarts });
			try {
				const result = await runOnce(options, snapshot, run, runAbort.signal, (layout, files, live) => {
					runningLayout = layout;
					labelFiles = files;
					highlight = live;
					// The stage may have moved on while ffmpeg started.
					if (latest) highlight?.show(latest.activeSpeakerId);
				}, (stats) => void options.reportProgress({ state: 'live', speakers: snapshot.speakers.length, restarts, ...stats }).catch(() => {}));
				if (result === 'restart') restarts++;
				failures = 0;
			} catch (error) {
				if (signal.aborted) break;
				if (error instanceof FfmpegError && !error.retryable) throw new UnrecoverableError(error.message);
				if (!(error instanceof FfmpegError || error instanceof StageLinkError)) throw error;
				if (Date.now() - startedAt > backoff.stableMs) failures = 0;
				failures++;
				restarts++;
				const delayMs = Math.min(backoff.initialMs * 2 ** (failures - 1), backoff.maxMs);
				logger.warn({ err: error, delayMs, restarts }, 'broadcast run failed; restarting');
				await sleep(delayMs, signal);
			} finally {
				runningKey = undefined;
				runningLayout = undefined;
				highlight = undefined;
			}
			run++;
		}
	} finally {
		signal.removeEventListener('abort', onAbort);
		clearTimeout(settleTimer);
		clearInterval(renew);
		await unwatch();
		const node = latest?.node;
		if (node) await link.call(node, 'release', { sessionId: options.sessionId }).catch(() => {});
		await options.reportProgress({ state: 'stopping', speakers: 0, restarts }).catch(() => {});
	}
}

/** One ffmpeg run for one snapshot. Resolves 'restart' when the stage changed under it, 'ended' when aborted. */
async function runOnce(
	options: StageBroadcastOptions,
	snapshot: StageLinkSnapshot,
	run: number,
	signal: AbortSignal,
	onLayout: (layout: Layout, labels: { path: string; tile: number }[], highlight?: ActiveHighlight) => void,
	onStats: (stats: { fps?: number; speed?: number; bitrateKbps?: number }) => void,
): Promise<'restart' | 'ended'> {
	const { link, sessionId } = options;
	const ip = options.ip ?? '127.0.0.1';
	const streams: SdpStream[] = [];
	const byPeer = new Map<string, { audio?: number; video?: number }>();
	const consumerIds: string[] = [];
	const releases: (() => void)[] = [];
	try {
		for (const speaker of snapshot.speakers) {
			const wanted: ['audio' | 'video', string | undefined][] = [
				['audio', speaker.audioProducerId],
				['video', options.composite ? speaker.videoProducerId : undefined],
			];
			for (const [kind, producerId] of wanted) {
				if (!producerId) continue;
				const ports = await allocateUdpPortPair({ host: ip });
				releases.push(ports.release);
				// Audio goes through a gap filler on its way to ffmpeg; video straight to ffmpeg's port pair.
				let via = { rtpPort: ports.rtpPort, rtcpPort: ports.rtcpPort };
				let filler: OpusGapFiller | undefined;
				if (kind === 'audio') {
					filler = await OpusGapFiller.open({ host: ip, target: { host: ip, rtpPort: ports.rtpPort }, payloadType: opusPayloadType });
					releases.push(() => filler?.close());
					via = { rtpPort: filler.rtpPort, rtcpPort: filler.rtcpPort };
				}
				const consumer = await link.call(snapshot.node, 'consume', { sessionId, spaceId: options.spaceId, producerId, ip, ...via });
				const ssrc = (consumer.rtpParameters as types.RtpParameters).encodings?.[0]?.ssrc;
				if (filler && ssrc !== undefined) filler.acceptSsrc(ssrc);
				consumerIds.push(consumer.consumerId);
				byPeer.set(speaker.peerId, { ...byPeer.get(speaker.peerId), [kind]: streams.length });
				const rtpParameters = consumer.rtpParameters as types.RtpParameters;
				const codec = rtpParameters.codecs[0];
				streams.push({
					kind: consumer.kind,
					// The gap filler re-stamps audio with its own payload type; say so to ffmpeg.
					rtpParameters: kind === 'audio' && codec ? { ...rtpParameters, codecs: [{ ...codec, payloadType: opusPayloadType }] } : rtpParameters,
					rtpPort: ports.rtpPort,
				});
			}
		}
		const layout = computeLayout(
			{
				// Mutes are not part of the plan (the gap filler turns them into silence); labels show them.
				speakers: snapshot.speakers.map((s) => ({ id: s.peerId, name: s.name, video: options.composite && byPeer.get(s.peerId)?.video !== undefined, muted: false })),
				pinned: snapshot.pinned,
				activeSpeakerId: snapshot.activeSpeakerId,
			},
			options.canvas,
		);
		const sdpPath = path.join(options.workDir, `stage-${run}.sdp`);
		await fs.writeFile(sdpPath, buildConsumerSdp(ip, streams));
		const renditions = options.ladder.filter((r) => options.composite || !r.video);
		const outputs = await options.openOutputs(run, renditions);
		// Video: ffmpeg's zmq filter takes live commands, so the active-speaker frame moves without a restart.
		const controlPort = renditions.some((r) => r.video) ? await freeTcpPortPair(ip) : undefined;
		const plan = buildFfmpegPlan(layout, options.ladder, options.latency, {
			composite: options.composite,
			sdpPath,
			streams: byPeer,
			workDir: options.workDir,
			fontFile: options.fontFile,
			outputs,
			...(controlPort !== undefined && { controlPort }),
		});
		const labels = labelFilesOf(plan);
		onLayout(layout, labels);
		const running = runFfmpeg({
			plan,
			signal,
			logger: options.logger,
			onProgress: onStats,
			...(options.ffmpegPath !== undefined && { ffmpegPath: options.ffmpegPath }),
			...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
		});
		// Resume only once ffmpeg listens, so the first packets (and the keyframe asked for) are not lost.
		const resumed = waitForUdpPortsBound(streams.map((s) => s.rtpPort), 10_000, signal)
			.then(() => (consumerIds.length > 0 ? link.call(snapshot.node, 'resume', { sessionId, consumerIds }) : undefined))
			.then(() => writeLabels(layout, snapshot, labels))
			.then(async () => {
				if (controlPort === undefined || signal.aborted) return;
				try {
					const control = await ZmqControl.connect(controlPort, { signal });
					releases.push(() => control.close());
					onLayout(layout, labels, new ActiveHighlight(control, layout, options.logger));
				} catch (error) {
					// Without live control the broadcast goes on; the speaking dot in the labels still marks who talks.
					if (!signal.aborted) options.logger.warn({ err: error }, 'no live control of the composite');
				}
			});
		await Promise.all([running, resumed.catch((error: unknown) => (signal.aborted ? undefined : Promise.reject(error)))]);
		return options.signal.aborted ? 'ended' : 'restart';
	} finally {
		for (const release of releases) release();
		if (consumerIds.length > 0) await link.call(snapshot.node, 'closeConsumers', { sessionId, consumerIds }).catch(() => {});
	}
}

/** What forces a new ffmpeg run: who is on stage in which order, which of their streams flow, and pins. */
function restartKey(snapshot: StageLinkSnapshot): string {
	return JSON.stringify([
		snapshot.node,
		snapshot.pinned,
		snapshot.speakers.map((s) => [s.peerId, s.audioProducerId ?? null, s.videoProducerId ?? null]),
	]);
}

function labelFilesOf(plan: FfmpegPlan): { path: string; tile: number }[] {
	return plan.textFiles.flatMap((file) => {
		const match = /name-(\d+)\.txt$/.exec(file.path);
		return match ? [{ path: file.path, tile: Number(match[1]) }] : [];
	});
}

/** Rewrites the name labels (names, muted marks, the speaking dot) in place; drawtext reloads them every frame. */
async function writeLabels(layout: Layout, snapshot: StageLinkSnapshot, files: { path: string; tile: number }[]): Promise<void> {
	const names = new Map(snapshot.speakers.map((s) => [s.peerId, s]));
	await Promise.all(
		files.map(async ({ path: file, tile }) => {
			const speakerId = layout.tiles[tile]?.speakerId;
			const speaker = speakerId === undefined ? undefined : names.get(speakerId);
			if (!speaker) return;
			const label = `${speaker.peerId === snapshot.activeSpeakerId ? '● ' : ''}${displayName(speaker.name, speaker.muted)}`;
			// Atomic replace: drawtext never reads a half-written file.
			const temp = `${file}.tmp`;
			await fs.writeFile(temp, label, 'utf8');
			await fs.rename(temp, file);
		}),
	);
}

/**
 * The active-speaker frame of a running composite (`drawbox@active` in the plan), moved through ffmpeg's zmq filter.
 * Commands go one at a time; a newer target replaces one not yet sent.
 */
export class ActiveHighlight {
	readonly #control: ZmqControl;
	readonly #layout: Layout;
	readonly #logger: Logger;
	#shown: string | undefined;
	#wanted: string | undefined;
	#busy = false;

	constructor(control: ZmqControl, layout: Layout, logger: Logger) {
		this.#control = control;
		this.#layout = layout;
		this.#logger = logger;
		this.#shown = layout.tiles.find((t) => t.active)?.speakerId;
		this.#wanted = this.#shown;
	}

	show(speakerId: string | undefined): void {
		this.#wanted = speakerId;
		if (!this.#busy) void this.#drain();
	}

	async #drain(): Promise<void> {
		this.#busy = true;
		try {
			while (this.#wanted !== this.#shown) {
				const target = this.#wanted;
				const tile = this.#layout.tiles.find((t) => t.speakerId === target);
				// Parked off the canvas when nobody on the composite talks.
				const rect = tile ? { x: tile.x, y: tile.y, w: tile.width, h: tile.height } : { x: -100, y: -100, w: 2, h: 2 };
				for (const [key, value] of Object.entries(rect)) await this.#control.send(`drawbox@active ${key} ${value}`);
				this.#shown = target;
			}
		} catch (error) {
			this.#logger.debug({ err: error }, 'active-speaker frame not moved (ffmpeg restarting?)');
		} finally {
			this.#busy = false;
		}
	}
}

/** Two consecutive TCP ports free on `host` (the zmq and azmq control sockets), from the ephemeral range. */
async function freeTcpPortPair(host: string): Promise<number> {
	for (let attempt = 0; attempt < 20; attempt++) {
		const first = await listenOnce(host, 0);
		if (first === undefined || first >= 65535) continue;
		if ((await listenOnce(host, first + 1)) !== undefined) return first;
	}
	// Retryable like a failed run: the next attempt, after backoff, looks again.
	throw new FfmpegError({ retryable: true, reason: 'no free TCP port pair for the ffmpeg control sockets' }, []);
}

function listenOnce(host: string, port: number): Promise<number | undefined> {
	return new Promise((resolve) => {
		const server = net.createServer();
		server.once('error', () => resolve(undefined));
		server.listen(port, host, () => {
			const bound = (server.address() as net.AddressInfo).port;
			server.close(() => resolve(bound));
		});
	});
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(resolve, ms);
		signal.addEventListener('abort', () => {
			clearTimeout(timer);
			resolve();
		}, { once: true });
	});
}
