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
import { buildFfmpegPlan } from './buildFfmpegPlan.js';
import { computeLayout, type Layout } from './computeLayout.js';
import type { LatencyProfile, Rendition } from './ladder.js';
import { OpusGapFiller } from './OpusGapFiller.js';
import { LiveComposite } from './LiveComposite.js';
import { repeatKeyframeRequests } from './repeatKeyframeRequests.js';
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
	/** Burned-in captions' text file (see `BroadcastCaptions`), drawn on the composite; empty draws nothing. */
	captionsFile?: string;
	ffmpegPath?: string;
	stallTimeoutMs?: number;
	/**
	 * Before every ffmpeg run: where each rendition's fMP4 goes. From the second run on, the packager behind it marks
	 * a discontinuity, so the listeners' timeline continues across restarts.
	 */
	openOutputs: (run: number, renditions: readonly Rendition[]) => Promise<Readonly<Record<string, string>>>;
	/**
	 * Resolves when the packager has put run `run` on air (see `RunSwitcher`); the run it replaces is stopped then.
	 * Absent (outputs the runner cannot watch, such as files): a new run replaces the current one at once.
	 */
	onAir?: (run: number, signal: AbortSignal) => Promise<void>;
	/** Aborted when the space ends. */
	signal: AbortSignal;
	/** Run `run`'s composite now shows `layout`, moved there live (pins, labels, the active speaker): for tests. */
	onLiveLayout?: (run: number, layout: Layout) => void;
	logger: Logger;
	reportProgress: (progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>) => Promise<void>;
	/** Address the hosting node sends RTP to; this machine's. Default 127.0.0.1. */
	ip?: string;
}

/** Restart backoff after a failed ffmpeg run; reset by a run that lasted `stableMs`. */
const backoff = { initialMs: 250, maxMs: 5000, stableMs: 30_000 };
/** Payload type of Opus in the SDP ffmpeg reads; the gap filler writes it on every packet it forwards. */
const opusPayloadType = 100;
/** Stage changes this close together start one new run. */
const settleMs = 150;

/** One ffmpeg run: the snapshot it was planned for, and what the live updates need. */
interface LiveRun {
	n: number;
	key: string;
	abort: AbortController;
	startedAt: number;
	/** Each speaker's streams in this run's encode. */
	streams?: ReadonlyMap<string, { audio?: number; video?: number }>;
	/** The composite's live control, once connected (video spaces). */
	composite?: LiveComposite;
	/** Settles when ffmpeg has exited and everything the run took is released. */
	done: Promise<{ error?: unknown }>;
}

/**
 * Broadcasts one space's stage until `signal` aborts: consumes every speaker through the stage link, runs the
 * ffmpeg plan for the current layout, and replaces the run when the stage changes in a way the running graph cannot
 * follow (a speaker joins or leaves, turns the camera on or off; in audio-only spaces also pins and order, which
 * move voices in the stereo field). The replacement is made before the break: the next run starts while the current
 * one stays on air, and the current one stops only once the packager has switched to the next (`onAir`), so
 * listeners see a discontinuity but no gap. In video spaces pins, order, mutes, names and the active speaker need
 * no new run: the composite follows them through ffmpeg's zmq filter (`LiveComposite`: tiles, labels, the
 * active-speaker frame and each voice's pan move within a frame or two). Every speaker's audio passes an
 * OpusGapFiller, so a paused producer becomes silence instead of a stalled mix. A crashed or stalled ffmpeg is
 * replaced with backoff; an unrecoverable one fails the job.
 */
export async function runStageBroadcast(options: StageBroadcastOptions): Promise<void> {
	const { link, logger, signal } = options;
	await fs.mkdir(options.workDir, { recursive: true });
	let latest = await link.snapshot(options.spaceId);
	let changedAt = 0;
	let current: LiveRun | undefined;
	let next: LiveRun | undefined;
	let runCount = 0;
	let restarts = 0;
	let failures = 0;
	let retryAt = 0;
	let fatal: unknown;
	let wake: (() => void) | undefined;
	const timers = new Set<NodeJS.Timeout>();
	const poke = (): void => wake?.();
	const pokeAt = (at: number): void => {
		const timer = setTimeout(() => {
			timers.delete(timer);
			poke();
		}, Math.max(0, at - Date.now()));
		timers.add(timer);
	};

	const keyOf = (snapshot: StageLinkSnapshot): string => restartKey(snapshot, options.composite);
	const layoutFor = (snapshot: StageLinkSnapshot, streams: ReadonlyMap<string, { video?: number }>): Layout => liveLayoutOf(snapshot, streams, options);
	const unwatch = await link.watch(options.spaceId, (snapshot) => {
		const seenAt = Date.now();
		const restartNeeded = keyOf(snapshot) !== (next ?? current)?.key;
		latest = snapshot;
		if (restartNeeded) {
			changedAt = Date.now();
			logger.debug({ version: snapshot.version }, 'stage change needs a new encoder run');
			pokeAt(changedAt + settleMs);
		}
		// Runs that can follow the change do so live (see LiveComposite).
		for (const run of [current, next]) {
			if (!run?.streams || run.key !== keyOf(snapshot)) continue;
			run.composite?.show(layoutFor(snapshot, run.streams), seenAt);
		}
		poke();
	});
	const renew = setInterval(() => {
		const node = latest?.node;
		// Each run consumes under its own session (see runSessionId).
		const sessions = [current, next].flatMap((run) => (run ? [runSessionId(options.sessionId, run.n)] : []));
		if (node) for (const sessionId of sessions) link.call(node, 'renew', { sessionId }).catch(() => {});
	}, stageLinkLeaseMs / 3);
	signal.addEventListener('abort', poke, { once: true });

	const start = (snapshot: StageLinkSnapshot): LiveRun => {
		const n = runCount++;
		logger.info({ run: n, speakers: snapshot.speakers.length, sinceChangeMs: changedAt > 0 ? Date.now() - changedAt : undefined }, 'encoder run starting');
		const run: LiveRun = { n, key: keyOf(snapshot), abort: new AbortController(), startedAt: Date.now(), done: Promise.resolve({}) };
		void options.reportProgress({ state: n === 0 ? 'starting' : 'restarting', speakers: snapshot.speakers.length, restarts }).catch(() => {});
		run.done = runOnce(options, snapshot, n, run.abort.signal, (streams, composite) => {
			run.streams = streams;
			run.composite = composite;
			// The labels get their text now, and the stage may have moved on while ffmpeg started.
			composite?.show(layoutFor(latest && keyOf(latest) === run.key ? latest : snapshot, streams));
		}, (stats) => {
			if (run !== current) return;
			// Only the figures the progress schema knows (ffmpeg's stats carry more).
			const { fps, speed, bitrateKbps } = stats;
			const figures = { ...(fps !== undefined && { fps }), ...(speed !== undefined && { speed }), ...(bitrateKbps !== undefined && { bitrateKbps }) };
			void options.reportProgress({ state: 'live', speakers: snapshot.speakers.length, restarts, ...figures }).catch(() => {});
		}).then(
			() => ({}),
			(error: unknown) => ({ error }),
		);
		// On air: the packager switched to this run, so the one it replaces can stop.
		void (options.onAir ? options.onAir(n, run.abort.signal) : Promise.resolve()).then(() => {
			// The packager decides what is on air: a newer run than the current one is followed even if it was just
			// superseded (its stop raced its switch); ending, it is then replaced like a crashed run.
			if (current && run.n <= current.n) return;
			const replaced = current;
			current = run;
			if (next === run) next = undefined;
			restarts++;
			replaced?.abort.abort();
			void options.reportProgress({ state: 'live', speakers: snapshot.speakers.length, restarts }).catch(() => {});
			poke();
		}, () => {});
		void run.done.then((result) => onDone(run, result));
		return run;
	};

	const onDone = (run: LiveRun, { error }: { error?: unknown }): void => {
		if (run !== current && run !== next) return; // a replaced or superseded run, stopped on purpose
		if (run === current) current = undefined;
		else next = undefined;
		if (signal.aborted) return poke();
		if (error instanceof FfmpegError && !error.retryable) fatal = new UnrecoverableError(error.message);
		else if (error !== undefined && !(error instanceof FfmpegError || error instanceof StageLinkError)) fatal = error;
		// A run that ended by itself (crash, stall) or failed to start is replaced after a backoff.
		if (Date.now() - run.startedAt > backoff.stableMs) failures = 0;
		failures++;
		restarts++;
		const delayMs = Math.min(backoff.initialMs * 2 ** (failures - 1), backoff.maxMs);
		logger.warn({ err: error, delayMs, restarts, run: run.n }, 'broadcast run ended; replacing it');
		// A warm-up run becomes the one to wait for: the packager puts it on air as soon as it can.
		if (!current && next) {
			current = next;
			next = undefined;
		}
		retryAt = Date.now() + delayMs;
		pokeAt(retryAt);
		poke();
	};

	try {
		while (!signal.aborted && fatal === undefined) {
			const now = Date.now();
			if (latest && now >= retryAt) {
				const wanted = keyOf(latest);
				if (!current) {
					current = start(latest);
				} else if (next && next.key !== wanted && now - changedAt >= settleMs) {
					// The stage changed again while the next run warmed up: start over from the newest stage.
					next.abort.abort();
					next = undefined;
					continue;
				} else if (!next && current.key !== wanted && now - changedAt >= settleMs) {
					next = start(latest);
					if (!options.onAir) {
						// Without an on-air signal (file outputs), the new run replaces the current one at once.
						const replaced = current;
						current = next;
						next = undefined;
						restarts++;
						replaced.abort.abort();
						void options.reportProgress({ state: 'restarting', speakers: latest.speakers.length, restarts }).catch(() => {});
					}
				}
			}
			// Something due later (a backoff, a change still settling): wake then. Timers may fire a little early by
			// Date.now(), so the check above can decline a wake-up; this re-arms it instead of waiting for the next event.
			const dueAt = Math.min(...[retryAt, changedAt + settleMs].filter((t) => t > now));
			if (Number.isFinite(dueAt)) pokeAt(dueAt + 1);
			await new Promise<void>((resolve) => {
				wake = resolve;
			});
			wake = undefined;
		}
		if (fatal !== undefined) throw fatal;
	} finally {
		signal.removeEventListener('abort', poke);
		for (const timer of timers) clearTimeout(timer);
		clearInterval(renew);
		const runs = [current, next].filter((r): r is LiveRun => r !== undefined);
		current = next = undefined;
		for (const run of runs) run.abort.abort();
		await Promise.all(runs.map((run) => run.done));
		await unwatch();
		const node = latest?.node;
		if (node) await link.call(node, 'release', { sessionId: options.sessionId }).catch(() => {});
		await options.reportProgress({ state: 'stopping', speakers: 0, restarts }).catch(() => {});
	}
}

/** One ffmpeg run for one snapshot, until `signal` aborts it or ffmpeg ends; rejects when ffmpeg fails. */
async function runOnce(
	options: StageBroadcastOptions,
	snapshot: StageLinkSnapshot,
	run: number,
	signal: AbortSignal,
	onStreams: (streams: ReadonlyMap<string, { audio?: number; video?: number }>, composite?: LiveComposite) => void,
	onStats: (stats: { fps?: number; speed?: number; bitrateKbps?: number }) => void,
): Promise<void> {
	const { link } = options;
	const sessionId = runSessionId(options.sessionId, run);
	const ip = options.ip ?? '127.0.0.1';
	const streams: SdpStream[] = [];
	const byPeer = new Map<string, { audio?: number; video?: number }>();
	const consumerIds: string[] = [];
	const videoConsumerIds: string[] = [];
	const releases: (() => void)[] = [];
	// Each run has its own files: runs overlap while one replaces another, and their tiles differ.
	const runDir = path.join(options.workDir, `run-${run}`);
	try {
		// Every stream the run consumes, in a fixed order (their SDP indices); ports are reserved one by one (the
		// reservation is not atomic), the consumers asked for all at once (one round trip to the node, not one each).
		const wanted = snapshot.speakers.flatMap((speaker) =>
			([['audio', speaker.audioProducerId], ['video', options.composite ? speaker.videoProducerId : undefined]] as const)
				.filter((w): w is readonly ['audio' | 'video', string] => w[1] !== undefined)
				.map(([kind, producerId]) => ({ speaker, kind, producerId })),
		);
		const ports: Awaited<ReturnType<typeof allocateUdpPortPair>>[] = [];
		for (const _ of wanted) {
			const pair = await allocateUdpPortPair({ host: ip });
			releases.push(pair.release);
			ports.push(pair);
		}
		const consumed = await Promise.allSettled(
			wanted.map(async ({ kind, producerId }, i) => {
				// Audio goes through a gap filler on its way to ffmpeg; video straight to ffmpeg's port pair.
				let via = { rtpPort: ports[i]!.rtpPort, rtcpPort: ports[i]!.rtcpPort };
				let filler: OpusGapFiller | undefined;
				if (kind === 'audio') {
					filler = await OpusGapFiller.open({ host: ip, target: { host: ip, rtpPort: ports[i]!.rtpPort }, payloadType: opusPayloadType });
					releases.push(() => filler?.close());
					via = { rtpPort: filler.rtpPort, rtcpPort: filler.rtcpPort };
				}
				const consumer = await link.call(snapshot.node, 'consume', { sessionId, spaceId: options.spaceId, producerId, ip, ...via });
				consumerIds.push(consumer.consumerId);
				if (consumer.kind === 'video') videoConsumerIds.push(consumer.consumerId);
				const ssrc = (consumer.rtpParameters as types.RtpParameters).encodings?.[0]?.ssrc;
				if (filler && ssrc !== undefined) filler.acceptSsrc(ssrc);
				return consumer;
			}),
		);
		for (const [i, result] of consumed.entries()) {
			if (result.status === 'rejected') throw result.reason;
			const { speaker, kind } = wanted[i]!;
			const consumer = result.value;
			byPeer.set(speaker.peerId, { ...byPeer.get(speaker.peerId), [kind]: streams.length });
			const rtpParameters = consumer.rtpParameters as types.RtpParameters;
			const codec = rtpParameters.codecs[0];
			streams.push({
				kind: consumer.kind,
				// The gap filler re-stamps audio with its own payload type; say so to ffmpeg.
				rtpParameters: kind === 'audio' && codec ? { ...rtpParameters, codecs: [{ ...codec, payloadType: opusPayloadType }] } : rtpParameters,
				rtpPort: ports[i]!.rtpPort,
			});
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
		await fs.mkdir(runDir, { recursive: true });
		const sdpPath = path.join(runDir, 'stage.sdp');
		await fs.writeFile(sdpPath, buildConsumerSdp(ip, streams));
		const renditions = options.ladder.filter((r) => options.composite || !r.video);
		const outputs = await options.openOutputs(run, renditions);
		// Video: ffmpeg's zmq filter takes live commands, so the active-speaker frame moves without a restart.
		const controlPort = renditions.some((r) => r.video) ? await freeTcpPortPair(ip) : undefined;
		const plan = buildFfmpegPlan(layout, options.ladder, options.latency, {
			composite: options.composite,
			sdpPath,
			streams: byPeer,
			workDir: runDir,
			fontFile: options.fontFile,
			outputs,
			...(controlPort !== undefined && { controlPort }),
			...(options.captionsFile !== undefined && { captionsFile: options.captionsFile }),
		});
		onStreams(byPeer);
		options.logger.debug({ run, streams: streams.length }, 'encoder run consumers ready');
		// Aborted once ffmpeg's outputs start (every camera gave a picture) or the run ends: no more keyframe requests.
		const videoFlowing = new AbortController();
		const stopKeyframes = (): void => videoFlowing.abort();
		signal.addEventListener('abort', stopKeyframes, { once: true });
		releases.push(() => {
			signal.removeEventListener('abort', stopKeyframes);
			stopKeyframes();
		});
		const running = runFfmpeg({
			plan,
			signal,
			logger: options.logger,
			onProgress: onStats,
			onOutputsStarted: stopKeyframes,
			...(options.ffmpegPath !== undefined && { ffmpegPath: options.ffmpegPath }),
			...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
		});
		// Resume only once ffmpeg listens, so the first packets (and the keyframe asked for) are not lost.
		const resumed = waitForUdpPortsBound(streams.map((s) => s.rtpPort), 10_000, signal)
			.then(() => (consumerIds.length > 0 ? link.call(snapshot.node, 'resume', { sessionId, consumerIds }) : undefined))
			.then(() => {
				options.logger.debug({ run }, 'encoder run consumers resumed');
				// `resume` asked for one keyframe; keep asking until the video flows (see repeatKeyframeRequests).
				if (videoConsumerIds.length > 0) {
					repeatKeyframeRequests({
						request: () => link.call(snapshot.node, 'requestKeyframe', { sessionId, consumerIds: videoConsumerIds }, 1000),
						signal: videoFlowing.signal,
						logger: options.logger,
					});
				}
			})
			.then(async () => {
				if (controlPort === undefined || signal.aborted) return;
				try {
					const composite = await LiveComposite.connect({
						port: controlPort, streams: byPeer, planned: layout, signal, logger: options.logger, onApplied: (shown) => options.onLiveLayout?.(run, shown),
					});
					releases.push(() => composite.close());
					onStreams(byPeer, composite);
				} catch (error) {
					// Without live control the broadcast goes on, but its labels stay blank and pins wait for the next run.
					if (!signal.aborted) options.logger.warn({ err: error }, 'no live control of the composite');
				}
			});
		await Promise.all([running, resumed.catch((error: unknown) => (signal.aborted ? undefined : Promise.reject(error)))]);
	} finally {
		for (const release of releases) release();
		// Everything the run's session holds, also a consumer whose `consume` reply timed out under load: left behind,
		// it would keep sending RTP to a port a later run may be given. If this call is lost too, the unrenewed lease
		// ends it.
		await link.call(snapshot.node, 'release', { sessionId }).catch(() => {});
		await fs.rm(runDir, { recursive: true, force: true }).catch(() => {});
	}
}

/** The stage-link session of one run: `<job session>-r<run>`, at most 64 characters. */
export function runSessionId(jobSessionId: string, run: number): string {
	return `${jobSessionId.slice(0, 63 - `-r${run}`.length)}-r${run}`;
}

/**
 * What forces a new ffmpeg run: who is on stage and which of their streams flow. In audio-only spaces (no live
 * control) also the order and pins, which place each voice in the stereo field.
 */
function restartKey(snapshot: StageLinkSnapshot, composite: boolean): string {
	const speakers = snapshot.speakers.map((s) => [s.peerId, s.audioProducerId ?? null, s.videoProducerId ?? null]);
	if (composite) return JSON.stringify([snapshot.node, speakers.sort((a, b) => (a[0]! < b[0]! ? -1 : 1))]);
	return JSON.stringify([snapshot.node, snapshot.pinned, speakers]);
}

/** The layout a running composite shows for `snapshot`: its speakers as the run consumes them, mutes as they are. */
function liveLayoutOf(snapshot: StageLinkSnapshot, streams: ReadonlyMap<string, { video?: number }>, options: Pick<StageBroadcastOptions, 'composite' | 'canvas'>): Layout {
	return computeLayout(
		{
			speakers: snapshot.speakers.map((s) => ({ id: s.peerId, name: s.name, video: options.composite && streams.get(s.peerId)?.video !== undefined, muted: s.muted })),
			pinned: snapshot.pinned,
			activeSpeakerId: snapshot.activeSpeakerId,
		},
		options.canvas,
	);
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
