import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { defaultStartIdleCores, EncoderDegradation, startLevel, type DegradationChange, type DegradationPolicy } from './EncoderDegradation.js';
import type { Pace } from './EncoderPace.js';
import { planEncodeLevels, type EncodeLevel } from './encodeLevels.js';
import type { EncoderHealth } from './encoderWatchdog.js';
import type { LatencyProfile, Rendition } from './ladder.js';
import { OpusGapFiller } from './OpusGapFiller.js';
import { LiveComposite, type LiveView } from './LiveComposite.js';
import { watchdogFailure } from './ffmpegOutput.js';
import { orderRunInputs } from './orderRunInputs.js';
import { idleCoresBetween, readMachineCpu, type MachineCpu } from './procCpu.js';
import { defaultStartTimeoutMs, FfmpegError, runFfmpeg, type EncoderWatch } from './runFfmpeg.js';
import { Vp8SlotRelay } from './Vp8SlotRelay.js';
import { ScreenShareInput } from './ScreenShareInput.js';
import { captionModeHasBurnedIn } from '../captions/captionFeed.js';

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
	/** An encoder run's start-up deadline, ms from spawning to its first stats line (see `runFfmpeg`). Default 30000. */
	startTimeoutMs?: number;
	/**
	 * Once an encoder run has started: no stats line, no output and no CPU time for this long and it is stuck, ms
	 * (see `runFfmpeg`; a slow run is never killed). Default 5000.
	 */
	stallTimeoutMs?: number;
	/** Once started: no stats line and no output for this long, however busy, and a run is hung, ms. Default 60000. */
	hungTimeoutMs?: number;
	/**
	 * Before every ffmpeg run: where each rendition's fMP4 goes. From the second run on, the packager behind it marks
	 * a discontinuity, so the listeners' timeline continues across restarts. `servedFrom`: renditions the run does not
	 * encode (shed), each to be fed the output of the rendition named (see `SocketOutputs`).
	 */
	openOutputs: (run: number, renditions: readonly Rendition[], servedFrom: Readonly<Record<string, string>>) => Promise<Readonly<Record<string, string>>>;
	/** Bytes run `run`'s outputs have received so far, for its watchdog (see `SocketOutputs.bytesOf`). */
	outputBytes?: (run: number) => number;
	/** Run `run`'s encoder read its media instant 0 from the stage at `wallMs` (see `runFfmpeg`'s `onMediaOrigin`). */
	onMediaOrigin?: (run: number, wallMs: number) => void;
	/**
	 * How late the output on air reaches the packager now, ms (see `Packager.outputLagMs`): polled for the
	 * degradation, which sheds an encode that delivers in bursts (`EncoderDegradation.outputLag`).
	 */
	outputLagMs?: () => number | undefined;
	/**
	 * Deliberate degradation (see `EncoderDegradation`, `planEncodeLevels`): its policy, the level the first run
	 * encodes (default: from the machine's free CPU at the start, see `startLevel` and `startIdleCores`) and the
	 * highest level it may shed to (default: all the ladder allows). Absent: the broadcast never sheds work (tests
	 * that count encoder runs).
	 */
	degradation?: {
		policy?: Partial<DegradationPolicy>;
		initialLevel?: number;
		startIdleCores?: number;
		maxLevel?: number;
		/** A starved shed's deadline for the lighter run to read the stage, ms (see `LiveRun.handsOverFrom`). Default 2500. */
		handOverWithinMs?: number;
	};
	/**
	 * Resolves when the packager has put run `run` on air (see `RunSwitcher`); the run it replaces is stopped then.
	 * Absent (outputs the runner cannot watch, such as files): a new run replaces the current one at once.
	 */
	onAir?: (run: number, signal: AbortSignal) => Promise<void>;
	/** Aborted when the space ends. */
	signal: AbortSignal;
	/**
	 * Aborted when the broadcast is asked to stop, before `signal` where the runs on air drain what they hold first (a
	 * recorded space): from then on no new run starts, for a stage change or a degradation level (a shed during the
	 * drain stopped the draining run and put a new one on air after the space had ended). Default: `signal`.
	 */
	stopping?: AbortSignal;
	/** Run `run`'s composite now shows `layout`, moved there live (pins, labels, the active speaker): for tests. */
	onLiveLayout?: (run: number, layout: Layout) => void;
	logger: Logger;
	reportProgress: (progress: Omit<BroadcastProgress, 'transcoder' | 'updatedAt'>) => Promise<void>;
	/** Address the hosting node sends RTP to; this machine's. Default 127.0.0.1. */
	ip?: string;
}

/** Restart backoff after a failed ffmpeg run; reset by a run that lasted `stableMs`. */
const backoff = { initialMs: 250, maxMs: 5000, stableMs: 30_000 };
/** Payload types of Opus and VP8 in the SDP ffmpeg reads; the slot relays write them on every packet they forward. */
const opusPayloadType = 100;
const vp8PayloadType = 101;
/** What ffmpeg reads from each slot: the relays re-stamp every packet, so these never depend on a consumer. */
const slotCodecs = {
	audio: { codecs: [{ mimeType: 'audio/opus', payloadType: opusPayloadType, clockRate: 48000, channels: 2, parameters: {} }] },
	video: { codecs: [{ mimeType: 'video/VP8', payloadType: vp8PayloadType, clockRate: 90000, parameters: {} }] },
} as const;
/**
 * How long a lighter run started on a starved machine may take to read the stage before the run on air stops all the
 * same, ms (see `LiveRun.handsOverFrom`): two encoders cannot both run on such a machine for long. Its input's dump
 * came 0.7-1.1 s after its start in `bench:pressure`.
 */
const defaultHandOverWithinMs = 2500;
/** How often the output's lateness is judged, ms (see `StageBroadcastOptions.outputLagMs`). */
const outputLagPollMs = 250;
/** Stage changes this close together start one new encode (only a stage outgrowing its slots needs one). */
const settleMs = 150;
/** A consumer that could not be made (the node busy) is asked for again after this long. */
const consumeRetryMs = 1000;
/**
 * How often a camera whose slot waits for its keyframe is asked for one: at the relay's pace (every 250 ms) for the
 * first seconds — a browser camera sends a keyframe only when asked, and a request can be lost or land before the
 * consumer resumed — then every few seconds, for as long as it waits.
 */
const keyframeAsking = { eagerMs: 10_000, patientIntervalMs: 3000 };

/**
 * Slots of a new encode for a stage of `speakers`: room for a few more people than are on stage, so joins are a
 * relay switch and a layout command rather than a new encode. A hidden slot costs its silent voice and, in video
 * spaces, a 16×16 filler picture: a fraction of a percent of a core.
 */
export function slotCapacity(speakers: number, composite: boolean): number {
	return composite ? Math.max(4, speakers + 2) : Math.max(6, speakers + 3);
}

/** One ffmpeg run: a standing encode with `capacity` slots, consuming from one node, at one degradation level. */
interface LiveRun {
	n: number;
	node: string;
	capacity: number;
	level: EncodeLevel;
	/** Started for a change of level alone (not counted as a restart). */
	forLevel: boolean;
	/** The watchdog's latest word on its ffmpeg. */
	health: EncoderHealth;
	/** CPU its ffmpeg uses, cores (from the watchdog). */
	cpuCores?: number;
	/** The encoder's main thread at the last check (see `EncoderWatch`). */
	mainThread?: EncoderWatch['mainThread'];
	waitingCores?: number;
	abort: AbortController;
	startedAt: number;
	/** The packager has put it on air. */
	onAir?: boolean;
	/**
	 * The run on air this one stops as soon as its own encoder reads the stage (its input's dump) or within
	 * the degradation's `handOverWithinMs`, rather than once it goes on air: a shed on a starved machine (see the main
	 * loop).
	 */
	handsOverFrom?: LiveRun;
	/** Follows a stage that still fits the run (see `fits`): slots, consumers and the layout. Set once the run is planned. */
	follow?: (snapshot: StageLinkSnapshot, seenAt: number) => void;
	/** Settles when ffmpeg has exited and everything the run took is released. */
	done: Promise<{ error?: unknown }>;
}

/** Whether `run` can show `snapshot` live, without a new encode: same node, and a slot for everyone on stage. */
function fits(run: LiveRun | undefined, snapshot: StageLinkSnapshot): boolean {
	return run !== undefined && run.node === snapshot.node && snapshot.speakers.length <= run.capacity;
}

/**
 * Broadcasts one space's stage until `signal` aborts, as a *standing encode*: ffmpeg runs with a fixed number of
 * slots (see liveLayout), each fed by relays that never stop (an `OpusGapFiller` per voice, a `Vp8SlotRelay` per
 * camera in video spaces: silence and filler pictures while nobody or no camera is there). Who is on stage moves
 * through those relays and ffmpeg's zmq filters while the encode runs: a join takes a free slot (a consumer aimed at
 * its relays, a layout command), a leave hides it, a camera turning on shows in its tile from its first keyframe, and
 * pins, order, mutes, names and the active speaker move tiles, labels and each voice's place in the stereo field. The
 * listeners' timeline never breaks for any of these.
 *
 * A new encode is needed only when the stage outgrows the slots or moves to another node: it is made before the
 * break — the next run starts while the current one stays on air, and the current one stops once the packager has
 * switched to the next (`onAir`), so listeners see a discontinuity but no gap. A crashed or stalled ffmpeg is replaced
 * with backoff; an unrecoverable one fails the job.
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
	const levels = planEncodeLevels(options.ladder.filter((r) => options.composite || !r.video), options.latency, options.canvas).slice(0, (options.degradation ? (options.degradation.maxLevel ?? Infinity) : 0) + 1);
	const initialLevel = options.degradation?.initialLevel ?? (await busyStartLevel(options, levels.map((l) => l.restoreCost), signal));
	const degradation = new EncoderDegradation(levels.map((l) => l.restoreCost), options.degradation?.policy, Math.min(initialLevel, levels.length - 1));
	/** What the job's progress says besides the state; the figures of the run on air. */
	let figures: Pick<BroadcastProgress, 'fps' | 'speed' | 'bitrateKbps'> = {};
	const report = (state: BroadcastProgress['state']): void => {
		const onAir = current?.level ?? levels[degradation.level]!;
		const health = current?.health ?? 'starting';
		// Dropped: a failed progress update loses one report; the next one (a second later) carries the same fields.
		void options.reportProgress({ state, speakers: latest?.speakers.length ?? 0, restarts, health, level: onAir.level, shed: onAir.shed, ...(state === 'live' && figures) }).catch(() => {});
	};
	const idle = levels.length > 1 ? new IdleCpu() : undefined;
	const handOverWithinMs = options.degradation?.handOverWithinMs ?? defaultHandOverWithinMs;
	/** Less than `startIdleCores` idle (see `busyStartLevel`): no room for a second encoder beside the one on air. */
	const machineStarved = (): boolean => (idle?.cores ?? 0) < (options.degradation?.startIdleCores ?? defaultStartIdleCores);
	const timers = new Set<NodeJS.Timeout>();
	const poke = (): void => wake?.();
	const pokeAt = (at: number): void => {
		const timer = setTimeout(() => {
			timers.delete(timer);
			poke();
		}, Math.max(0, at - Date.now()));
		timers.add(timer);
	};

	const unwatch = await link.watch(options.spaceId, (snapshot) => {
		const seenAt = Date.now();
		const restartNeeded = !fits(next ?? current, snapshot);
		latest = snapshot;
		if (restartNeeded) {
			changedAt = Date.now();
			logger.debug({ version: snapshot.version, speakers: snapshot.speakers.length }, 'stage change needs a new encoder run');
			pokeAt(changedAt + settleMs);
		}
		// Runs that can follow the change do so live.
		for (const run of [current, next]) if (run && fits(run, snapshot)) run.follow?.(snapshot, seenAt);
		poke();
	});
	const renew = setInterval(() => {
		const node = latest?.node;
		// Each run consumes under its own session (see runSessionId).
		const sessions = [current, next].flatMap((run) => (run ? [runSessionId(options.sessionId, run.n)] : []));
		if (node) for (const sessionId of sessions) link.call(node, 'renew', { sessionId }).catch(() => {});
	}, stageLinkLeaseMs / 3);
	signal.addEventListener('abort', poke, { once: true });
	const onChange = (change: DegradationChange | undefined, run: LiveRun): void => {
		if (!change) return;
		const to = levels[change.to]!;
		logger.info({ ...change, shed: to.shed, cpuCores: run.cpuCores, mainThread: run.mainThread, waitingCores: run.waitingCores }, change.direction === 'shed' ? 'encoder behind real time: shedding work' : 'encoder has headroom: restoring work');
		poke();
	};
	const outputLag = options.outputLagMs;
	const lagPoll = levels.length > 1 && outputLag ? setInterval(() => {
		const lagMs = outputLag();
		const run = current;
		if (lagMs === undefined || !run) return;
		onChange(degradation.outputLag({ atMs: Date.now(), lagMs, ...(run.mainThread && { mainThread: run.mainThread }), ...(run.waitingCores !== undefined && { waitingCores: run.waitingCores }) }), run);
	}, outputLagPollMs) : undefined;

	/** `afresh`: a run replacing one that never went on air, which the host still sees as the broadcast starting. */
	const start = (snapshot: StageLinkSnapshot, forLevel = false, afresh = false): LiveRun => {
		const n = runCount++;
		const capacity = slotCapacity(snapshot.speakers.length, options.composite);
		const level = levels[degradation.level]!;
		logger.info({ run: n, speakers: snapshot.speakers.length, slots: capacity, level: level.level, shed: level.shed, sinceChangeMs: changedAt > 0 ? Date.now() - changedAt : undefined }, 'encoder run starting');
		const run: LiveRun = { n, node: snapshot.node, capacity, level, forLevel, health: 'starting', abort: new AbortController(), startedAt: Date.now(), done: Promise.resolve({}) };
		if (!forLevel) report(n === 0 || afresh ? 'starting' : 'restarting');
		const onStats = (stats: { timeS: number; bitrateKbps?: number }, pace: Pace | undefined): void => {
			if (run !== current) return;
			// The pace over the last seconds, not ffmpeg's averages since its start (see EncoderPace).
			figures = { ...(pace?.fps !== undefined && { fps: pace.fps }), ...(pace && { speed: pace.speed }), ...(stats.bitrateKbps !== undefined && { bitrateKbps: stats.bitrateKbps }) };
			report('live');
			if (!pace) return;
			const change = degradation.sample({
				atMs: Date.now(),
				speed: pace.speed,
				mediaS: stats.timeS,
				...(run.cpuCores !== undefined && { encoderCores: run.cpuCores }),
				...(idle?.cores !== undefined && { idleCores: idle.cores }),
				...(run.mainThread && { mainThread: run.mainThread }),
				...(run.waitingCores !== undefined && { waitingCores: run.waitingCores }),
			});
			onChange(change, run);
		};
		const onWatch = ({ health, cpuCores, mainThread, waitingCores }: EncoderWatch): void => {
			const changed = health !== run.health;
			run.health = health;
			if (cpuCores !== undefined) run.cpuCores = cpuCores;
			run.mainThread = mainThread;
			run.waitingCores = waitingCores;
			// Health without stats lines (a slow or stuck encoder writes none) reaches the job's progress too.
			if (changed && run === current) report('live');
		};
		run.done = runEncode(options, run, snapshot, () => latest ?? snapshot, onStats, onWatch, () => handOver(run, true)).then(
			() => ({}),
			(error: unknown) => ({ error }),
		);
		// On air: the packager switched to this run, so the one it replaces can stop.
		void (options.onAir ? options.onAir(n, run.abort.signal) : Promise.resolve()).then(() => {
			// The packager decides what is on air: a newer run than the current one is followed even if it was just
			// superseded (its stop raced its switch); ending, it is then replaced like a crashed run.
			if (current && run.n < current.n) return;
			run.onAir = true;
			// A hand-over still due is moot: the run it was to take over from is replaced below.
			run.handsOverFrom = undefined;
			// The first run, one that became current when the run before it died, or a lighter one that took over from a
			// starved run on air (see `handOver`): on air, with nothing to stop.
			if (run === current) {
				if (run.forLevel) logger.info({ run: n, level: run.level.level, shed: run.level.shed }, 'encoder level on air');
				return degradation.onAir(run.level.level, Date.now());
			}
			const replaced = current;
			current = run;
			if (next === run) next = undefined;
			if (replaced && !run.forLevel) restarts++;
			replaced?.abort.abort();
			degradation.onAir(run.level.level, Date.now());
			if (replaced && replaced.level !== run.level) logger.info({ run: n, level: run.level.level, shed: run.level.shed }, 'encoder level on air');
			figures = {};
			report('live');
			poke();
		}, () => {});
		void run.done.then((result) => onDone(run, result));
		return run;
	};

	/** A lighter run started on a starved machine takes over from the run on air (see `LiveRun.handsOverFrom`). */
	const handOver = (run: LiveRun, reading: boolean): void => {
		const replaced = run.handsOverFrom;
		if (!replaced) return;
		run.handsOverFrom = undefined;
		if (next !== run || current !== replaced) return;
		const fields = { run: replaced.n, lighter: run.n, afterMs: Date.now() - run.startedAt };
		if (reading) logger.info(fields, 'machine starved: the lighter run reads the stage, the run on air stops');
		else logger.warn(fields, 'machine starved: the lighter run has not read the stage in time, the run on air stops all the same');
		current = run;
		next = undefined;
		figures = {};
		replaced.abort.abort();
		poke();
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
		const kind = error instanceof FfmpegError ? error.kind : undefined;
		logger.warn({ err: error, kind, delayMs, restarts, run: run.n }, 'broadcast run ended; replacing it');
		// A run that never started on a starved machine is replaced by a lighter one, not the same again. (One that
		// did not start on a machine with room was waiting for something else: lighter would not help.)
		const shed = kind === 'did-not-start' && machineStarved() && run.level.level === degradation.level && levels.length > 1 ? degradation.startFailed(Date.now()) : undefined;
		if (shed) logger.info({ ...shed, shed: levels[shed.to]!.shed }, 'encoder did not start in time: shedding work');
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
			if (next?.handsOverFrom && now - next.startedAt >= handOverWithinMs) handOver(next, false);
			if (latest && now >= retryAt && !options.stopping?.aborted) {
				const wanted = levels[degradation.level]!;
				if (!current) {
					current = start(latest);
				} else if (!current.onAir && !next && options.onAir && (!fits(current, latest) || current.level !== wanted) && now - changedAt >= settleMs) {
					// Nothing on air yet (the broadcast's first run still starting, speakers joining at once): started afresh
					// rather than made before the break. Two encoders starting together on a busy machine slowed each other,
					// and the first went on air only to be replaced, the second repeating up to 11 s it had not caught up on
					// (`bench:pressure`). The run given up never goes on air (the packager abandons it).
					current.abort.abort();
					current = start(latest, false, true);
				} else if (next && (!fits(next, latest) || next.level !== wanted) && now - changedAt >= settleMs) {
					// The stage outgrew the next run too while it warmed up (or it encodes a level no longer wanted): start
					// over from the newest stage.
					next.abort.abort();
					next = undefined;
					continue;
				} else if (!next && (!fits(current, latest) || current.level !== wanted) && now - changedAt >= settleMs) {
					if (options.onAir && current.onAir && fits(current, latest) && wanted.level > current.level.level && machineStarved()) {
						// Shedding on a starved machine: the run on air stops as soon as the lighter run reads the stage. The run on
						// air is behind real time for want of CPU, and a second encoder warming up beside it until it went on air
						// took what it had left: in `bench:pressure` the lighter run went on air 4-8 s after the shed, the run on
						// air delivering nothing for 7-8 s meanwhile, and 2.7-4.2 s were lost anyway. Stopped before the lighter
						// run started, the origin went 1-1.2 s without a part: the new ffmpeg's start, then its first part's
						// encode. Kept on air while the new ffmpeg starts (its process and its input's probe, the light part of a
						// start), the run on air serves listeners meanwhile; stopped once the new one reads (ffmpeg finishes what
						// it has read), the two read the stage one after the other, but for the new one's probe (kept until the
						// lighter run encoded, 1.5-2.4 s, the run on air's sound, read before its starved pictures, went on
						// past where the lighter run began, and the switch repeated up to 1.7 s of the audio rendition).
						// The packager puts the lighter run on air as soon as it can, listing any capture time neither put
						// out as gap segments.
						logger.info({ run: current.n, idleCores: idle?.cores, level: wanted.level, shed: wanted.shed }, 'machine starved: the run on air stops once the lighter run reads the stage');
						const lighter = start(latest, true);
						lighter.handsOverFrom = current;
						next = lighter;
						continue;
					}
					// Made before the break: a stage that outgrew the run, or a degradation level to put on air.
					next = start(latest, fits(current, latest));
					if (!options.onAir) {
						// Without an on-air signal (file outputs), the new run replaces the current one at once.
						const replaced = current;
						current = next;
						next = undefined;
						if (!current.forLevel) restarts++;
						replaced.abort.abort();
						degradation.onAir(current.level.level, Date.now());
						report('restarting');
					}
				}
			}
			// Something due later (a backoff, a change still settling, a hand-over's deadline): wake then. Timers may fire
			// a little early by Date.now(), so the check above can decline a wake-up; this re-arms it instead of waiting
			// for the next event.
			const dueAt = Math.min(...[retryAt, changedAt + settleMs, next?.handsOverFrom ? next.startedAt + handOverWithinMs : 0].filter((t) => t > now));
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
		clearInterval(lagPoll);
		idle?.close();
		const runs = [current, next].filter((r): r is LiveRun => r !== undefined);
		current = next = undefined;
		for (const run of runs) run.abort.abort();
		await Promise.all(runs.map((run) => run.done));
		await unwatch();
		const node = latest?.node;
		// Best effort on the way out: the session's lease expires by itself (15 s), and a lost last report only leaves
		// the job's previous progress until the job ends.
		if (node) await link.call(node, 'release', { sessionId: options.sessionId }).catch(() => {});
		// A lost last report leaves the job's previous progress until the job ends: nothing to handle.
		await options.reportProgress({ state: 'stopping', speakers: 0, restarts, level: 0, shed: [] }).catch(() => {});
	}
}

type InputCounts = Record<string, Record<string, number>>;

/** Every relay's counts, by input (`slot0.voice`, `slot0.camera`, …, `screen.picture`, `screen.sound`). */
function inputCounts(slots: readonly Slot[], screen: ScreenShareInput | undefined): InputCounts {
	const counts: InputCounts = {};
	for (const slot of slots) {
		counts[`slot${slot.index}.voice`] = slot.voice.counts;
		if (slot.camera) counts[`slot${slot.index}.camera`] = slot.camera.counts;
	}
	if (screen) {
		counts['screen.picture'] = screen.counts.picture;
		counts['screen.sound'] = screen.counts.sound;
	}
	return counts;
}

function countsSince(before: InputCounts, now: InputCounts): InputCounts {
	return Object.fromEntries(Object.entries(now).map(([input, counts]) => [input, Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n - (before[input]?.[name] ?? 0)]))]));
}

/** One slot of a running encode: its relays, who is in it, and the consumers feeding it. */
interface Slot {
	index: number;
	voice: OpusGapFiller;
	camera?: Vp8SlotRelay;
	speakerId?: string;
	audio?: { producerId: string; consumerId: string };
	video?: { producerId: string; consumerId: string; waitingSince: number; askedAt: number; asking: boolean };
}

/**
 * One standing encode, from `first` until its signal aborts or ffmpeg ends; rejects when ffmpeg fails. Opens the
 * slots' relays and ffmpeg at once (the relays' silence and filler pictures let ffmpeg start before any consumer
 * exists), then follows the stage: `run.follow` is set to take each later snapshot that fits.
 */
async function runEncode(
	options: StageBroadcastOptions,
	run: LiveRun,
	first: StageLinkSnapshot,
	newest: () => StageLinkSnapshot,
	onStats: (stats: { timeS: number; bitrateKbps?: number }, pace: Pace | undefined) => void,
	onWatch: (watch: EncoderWatch) => void,
	onReading: () => void,
): Promise<void> {
	const { link, logger } = options;
	const signal = run.abort.signal;
	const sessionId = runSessionId(options.sessionId, run.n);
	const ip = options.ip ?? '127.0.0.1';
	const node = run.node;
	const releases: (() => void)[] = [];
	// Each run has its own files: runs overlap while one replaces another.
	const runDir = path.join(options.workDir, `run-${run.n}`);
	const slots: Slot[] = [];
	/** Speaker id → slot index, for the speakers in a slot now. */
	const slotOf = new Map<string, number>();
	/** Cameras in a codec the slots cannot composite (see reconcile). */
	const refused = new Set<string>();
	let stage = first;
	let composite: LiveComposite | undefined;
	try {
		// ffmpeg's port pair for every stream of every slot, and the relay that feeds it. Ports are reserved one by
		// one (the reservation is not atomic).
		const inputs: { voice: SdpStream; camera?: SdpStream }[] = [];
		for (let index = 0; index < run.capacity; index++) {
			const voicePorts = await allocateUdpPortPair({ host: ip });
			releases.push(voicePorts.release);
			const voice = await OpusGapFiller.open({ host: ip, target: { host: ip, rtpPort: voicePorts.rtpPort }, payloadType: opusPayloadType });
			releases.push(() => voice.close());
			voice.follow(undefined);
			const input: { voice: SdpStream; camera?: SdpStream } = { voice: { kind: 'audio', rtpParameters: slotCodecs.audio as unknown as types.RtpParameters, rtpPort: voicePorts.rtpPort } };
			const slot: Slot = { index, voice };
			if (options.composite) {
				const cameraPorts = await allocateUdpPortPair({ host: ip });
				releases.push(cameraPorts.release);
				const camera = await Vp8SlotRelay.open({
					host: ip,
					target: { host: ip, rtpPort: cameraPorts.rtpPort },
					payloadType: vp8PayloadType,
					onLiveChange: (live) => onCameraLive(slot, live),
					onNeedKeyframe: () => askForKeyframe(slot),
				});
				releases.push(() => camera.close());
				slot.camera = camera;
				input.camera = { kind: 'video', rtpParameters: slotCodecs.video as unknown as types.RtpParameters, rtpPort: cameraPorts.rtpPort };
			}
			slots.push(slot);
			inputs.push(input);
		}
		// The screen share's picture and tab sound (video spaces): fed for the run's life, shown while someone shares.
		const screen = options.composite
			? await ScreenShareInput.open({
					link, node, spaceId: options.spaceId, sessionId, ip, payloadTypes: { opus: opusPayloadType, vp8: vp8PayloadType },
					onLiveChange: () => refresh(), signal, logger,
				})
			: undefined;
		if (screen) releases.push(() => screen.close());
		// Every sound before every picture (see orderRunInputs).
		const { streams: sdpStreams, slots: slotStreams, screen: screenStreams } = orderRunInputs(inputs, screen?.sdpStreams);
		// While the run is not keeping up, what each input fed ffmpeg in the last second (debug): an encoder waiting
		// on an input (little CPU, a relay sending nothing) looks slow from its pace alone. Sound dropped for coming late
		// (after the silence that covered its pause: a speaker's network, or a busy machine) is an audible gap: said
		// at info, at most once a second.
		let fed = inputCounts(slots, screen);
		const feedWatch = setInterval(() => {
			const now = inputCounts(slots, screen);
			const since = countsSince(fed, now);
			if (run.health !== 'ok' && run.health !== 'starting') logger.debug({ run: run.n, health: run.health, cpuCores: run.cpuCores, mainThread: run.mainThread, waitingCores: run.waitingCores, inputs: since }, 'encoder inputs in the last second');
			const late = Object.fromEntries(Object.entries(since).flatMap(([input, counts]) => (counts.late ? [[input, counts.late]] : [])));
			if (Object.keys(late).length > 0) logger.info({ run: run.n, late }, 'sound that came late was dropped (packets by input)');
			fed = now;
		}, 1000);
		releases.push(() => clearInterval(feedWatch));
		place(first);

		const view = (): LiveView => {
			const cameras = new Set(slots.flatMap((s) => (s.speakerId !== undefined && s.video && s.camera?.live ? [s.speakerId] : [])));
			const layout = computeLayout(
				{
					// Speakers without a slot (the stage outgrew the run; a bigger one is starting) are not drawn. Mutes are
					// silence from the voice's gap filler; labels show them.
					speakers: stage.speakers.filter((s) => slotOf.has(s.peerId)).map((s) => ({ id: s.peerId, name: s.name, video: cameras.has(s.peerId), muted: s.muted })),
					pinned: stage.pinned,
					activeSpeakerId: stage.activeSpeakerId,
					// A share by someone in a slot switches the composite to the presentation layout, captions' band kept free.
					screen: screen && stage.screenShare && slotOf.has(stage.screenShare.peerId) ? { speakerId: stage.screenShare.peerId } : undefined,
					burnedInCaptions: options.captionsFile !== undefined && captionModeHasBurnedIn(stage.captionMode ?? 'off'),
				},
				run.level.canvas,
			);
			return { layout, slots: { streams: slotStreams, slotOf: new Map(slotOf), cameras, ...(screen && { screen: screenStreams, screenLive: screen.live }) } };
		};
		const refresh = (since?: number): void => composite?.show(view(), since);

		/** A camera started or stopped flowing into its slot: show it, or the initials while it waits for a keyframe. */
		function onCameraLive(slot: Slot, live: boolean): void {
			if (!live && slot.video) slot.video.waitingSince = Date.now();
			refresh();
		}
		/** The slot's relay waits for a keyframe of the camera it follows (see keyframeAsking). */
		function askForKeyframe(slot: Slot): void {
			const video = slot.video;
			if (!video || video.asking || signal.aborted) return;
			const now = Date.now();
			if (now - video.waitingSince > keyframeAsking.eagerMs && now - video.askedAt < keyframeAsking.patientIntervalMs) return;
			video.asking = true;
			video.askedAt = now;
			link
				.call(node, 'requestKeyframe', { sessionId, consumerIds: [video.consumerId] }, 1000)
				.catch((error: unknown) => {
					if (!signal.aborted) logger.debug({ err: error }, 'keyframe request failed');
				})
				.finally(() => {
					video.asking = false;
				});
		}

		/**
		 * Puts the slots in step with `snapshot`: closes the consumers of speakers who left or whose streams changed,
		 * gives newcomers free slots (in stage order), and consumes what the slots lack, aimed at their relays.
		 */
		const reconcile = async (snapshot: StageLinkSnapshot): Promise<boolean> => {
			const bySpeaker = new Map(snapshot.speakers.map((s) => [s.peerId, s]));
			const closing: string[] = [];
			for (const slot of slots) {
				if (slot.speakerId === undefined) continue;
				const speaker = bySpeaker.get(slot.speakerId);
				if (slot.audio && slot.audio.producerId !== speaker?.audioProducerId) {
					closing.push(slot.audio.consumerId);
					slot.audio = undefined;
					slot.voice.follow(undefined);
				}
				if (slot.video && slot.video.producerId !== speaker?.videoProducerId) {
					closing.push(slot.video.consumerId);
					slot.video = undefined;
					slot.camera?.follow(undefined);
				}
				if (!speaker) {
					slotOf.delete(slot.speakerId);
					slot.speakerId = undefined;
				}
			}
			place(snapshot);
			// The share follows the stage's (a sharer without a slot is not drawn); a consumer it could not make is asked again.
			const shareDone = screen ? await screen.follow(snapshot.screenShare && slotOf.has(snapshot.screenShare.peerId) ? snapshot.screenShare : undefined) : true;
			if (closing.length > 0) {
				await link.call(node, 'closeConsumers', { sessionId, consumerIds: closing }).catch((error: unknown) => {
					// Left open, they send to relays that no longer follow them (dropped by SSRC); the run's release ends them.
					if (!signal.aborted) logger.debug({ err: error }, 'closing consumers of a change failed');
				});
			}
			const wanted = slots.flatMap((slot) => {
				const speaker = slot.speakerId !== undefined ? bySpeaker.get(slot.speakerId) : undefined;
				if (!speaker) return [];
				return [
					...(speaker.audioProducerId && !slot.audio ? [{ slot, kind: 'audio' as const, producerId: speaker.audioProducerId }] : []),
					...(options.composite && speaker.videoProducerId && !slot.video && !refused.has(speaker.videoProducerId)
						? [{ slot, kind: 'video' as const, producerId: speaker.videoProducerId }]
						: []),
				];
			});
			if (wanted.length === 0) return shareDone;
			const made = await Promise.allSettled(
				wanted.map(async ({ slot, kind, producerId }) => {
					const relay = kind === 'audio' ? slot.voice : slot.camera!;
					const consumer = await link.call(node, 'consume', { sessionId, spaceId: options.spaceId, producerId, ip, rtpPort: relay.rtpPort, rtcpPort: relay.rtcpPort });
					const rtpParameters = consumer.rtpParameters as types.RtpParameters;
					return { slot, kind, producerId, consumerId: consumer.consumerId, ssrc: rtpParameters.encodings?.[0]?.ssrc, mimeType: rtpParameters.codecs[0]?.mimeType };
				}),
			);
			const resumed: string[] = [];
			let complete = true;
			for (const result of made) {
				if (result.status === 'rejected') {
					complete = false;
					if (!signal.aborted) logger.debug({ err: result.reason }, 'consumer for a slot not made; asking again');
					continue;
				}
				const { slot, kind, producerId, consumerId, ssrc, mimeType } = result.value;
				if (ssrc === undefined || (kind === 'video' && mimeType?.toLowerCase() !== 'video/vp8')) {
					// A camera in another codec than the slots' VP8 shows as initials (the player sends VP8 where it can); it
					// is not asked for again while it lasts.
					if (kind === 'video') {
						refused.add(producerId);
						logger.warn({ mimeType }, 'camera codec not composited; the tile shows initials');
					}
					await link.call(node, 'closeConsumers', { sessionId, consumerIds: [consumerId] }).catch(() => {});
					continue;
				}
				if (kind === 'audio') {
					slot.audio = { producerId, consumerId };
					slot.voice.follow(ssrc);
				} else {
					slot.video = { producerId, consumerId, waitingSince: Date.now(), askedAt: 0, asking: false };
					slot.camera?.follow(ssrc);
				}
				resumed.push(consumerId);
			}
			if (resumed.length === 0) return complete && shareDone;
			// `resume` asks each new camera for a keyframe; its relay keeps asking until one passes (askForKeyframe).
			try {
				await link.call(node, 'resume', { sessionId, consumerIds: resumed });
			} catch (error) {
				// Paused consumers would leave their slots silent for good: drop them, and the retry makes them again.
				for (const slot of slots) {
					if (slot.audio && resumed.includes(slot.audio.consumerId)) {
						slot.audio = undefined;
						slot.voice.follow(undefined);
					}
					if (slot.video && resumed.includes(slot.video.consumerId)) {
						slot.video = undefined;
						slot.camera?.follow(undefined);
					}
				}
				await link.call(node, 'closeConsumers', { sessionId, consumerIds: resumed }).catch(() => {});
				throw error;
			}
			return complete && shareDone;
		};

		/** Gives every speaker on `snapshot` without a slot a free one, in stage order, while slots remain. */
		function place(snapshot: StageLinkSnapshot): void {
			for (const speaker of snapshot.speakers) {
				if (slotOf.has(speaker.peerId)) continue;
				const free = slots.find((s) => s.speakerId === undefined);
				if (!free) return; // the stage outgrew the run: a bigger one is on its way
				free.speakerId = speaker.peerId;
				slotOf.set(speaker.peerId, free.index);
			}
		}

		// Changes are applied one at a time, the newest last; a layout-only change shows at once.
		let ready = false;
		let pending: StageLinkSnapshot | undefined = first;
		let busy = false;
		let retry: NodeJS.Timeout | undefined;
		releases.push(() => clearTimeout(retry));
		const drain = async (): Promise<void> => {
			busy = true;
			try {
				while (pending && !signal.aborted) {
					const snapshot = pending;
					pending = undefined;
					const complete = await reconcile(snapshot).catch((error: unknown) => {
						if (!signal.aborted) logger.warn({ err: error }, 'stage change not applied to the encode; trying again');
						return false;
					});
					refresh();
					if (!complete && !signal.aborted) {
						clearTimeout(retry);
						retry = setTimeout(() => run.follow?.(newest(), Date.now()), consumeRetryMs);
					}
				}
			} finally {
				busy = false;
			}
		};
		run.follow = (snapshot, seenAt) => {
			if (signal.aborted || !fits(run, snapshot)) return;
			stage = snapshot;
			pending = snapshot;
			// Pins, mutes, names and the active speaker of people already in a slot show now.
			refresh(seenAt);
			if (ready && !busy) void drain();
		};

		await fs.mkdir(runDir, { recursive: true });
		const sdpPath = path.join(runDir, 'stage.sdp');
		await fs.writeFile(sdpPath, buildConsumerSdp(ip, sdpStreams));
		const { ladder, latency, servedFrom } = run.level;
		const outputs = await options.openOutputs(run.n, ladder, servedFrom);
		// ffmpeg's zmq (video) and azmq (audio) filters take the live commands.
		const controlPort = await freeTcpPortPair(ip);
		const planned = view();
		const plan = buildFfmpegPlan(planned.layout, ladder, latency, {
			composite: options.composite,
			sdpPath,
			slots: planned.slots,
			workDir: runDir,
			fontFile: options.fontFile,
			outputs,
			controlPort,
			...(options.captionsFile !== undefined && { captionsFile: options.captionsFile }),
		});
		logger.debug({ run: run.n, slots: slots.length }, 'encoder run planned');
		const running = runFfmpeg({
			plan,
			signal,
			logger,
			onProgress: onStats,
			onWatch,
			onMediaOrigin: (wallMs) => {
				options.onMediaOrigin?.(run.n, wallMs);
				onReading();
			},
			...(ladder.some((r) => r.video) && { frameRate: latency.fps }),
			...(options.outputBytes && { outputBytes: () => options.outputBytes!(run.n) }),
			...(options.ffmpegPath !== undefined && { ffmpegPath: options.ffmpegPath }),
			...(options.startTimeoutMs !== undefined && { startTimeoutMs: options.startTimeoutMs }),
			...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
			...(options.hungTimeoutMs !== undefined && { hungTimeoutMs: options.hungTimeoutMs }),
		});
		// Consumers are made only once ffmpeg listens, so a camera's first keyframe is not lost on the way.
		// ffmpeg binds its ports while it starts: as long as its start may take. Not bound by then, it did not start.
		const startTimeoutMs = options.startTimeoutMs ?? defaultStartTimeoutMs;
		const bound = waitForUdpPortsBound(sdpStreams.map((s) => s.rtpPort), startTimeoutMs, signal).catch((error: unknown) => {
			if (signal.aborted) throw error;
			throw new FfmpegError(watchdogFailure('starting', startTimeoutMs), [String(error)]);
		});
		const following = bound.then(async () => {
			if (signal.aborted) return;
			try {
				composite = await LiveComposite.connect({
					port: options.composite ? controlPort : controlPort + 1,
					composite: options.composite,
					planned,
					signal,
					logger,
					// The filter binds as the graph is set up, part of a start that may take this long.
					connectTimeoutMs: startTimeoutMs,
					onApplied: (shown) => options.onLiveLayout?.(run.n, shown),
				});
				releases.push(() => composite?.close());
			} catch (error) {
				// Without live control the broadcast goes on, but its labels stay blank and the layout as planned.
				if (!signal.aborted) logger.warn({ err: error }, 'no live control of the encode');
			}
			ready = true;
			pending = newest().node === node && fits(run, newest()) ? newest() : stage;
			stage = pending;
			refresh();
			if (!busy) await drain();
			logger.debug({ run: run.n }, 'encoder run follows the stage');
		});
		await Promise.all([running, following.catch((error: unknown) => (signal.aborted ? undefined : Promise.reject(error)))]);
	} finally {
		// ffmpeg has ended (or never started): whatever the run still had going (following the stage, asking for
		// keyframes) stops before its relays close, so no consumer is made for a run that is over.
		run.abort.abort();
		for (const release of releases) release();
		// Everything the run's session holds, also a consumer whose `consume` reply timed out under load: left behind,
		// it would keep sending RTP to a port a later run may be given. If this call is lost too, the unrenewed lease
		// ends it.
		await link.call(node, 'release', { sessionId }).catch(() => {});
		await fs.rm(runDir, { recursive: true, force: true }).catch(() => {});
	}
}

/** The stage-link session of one run: `<job session>-r<run>`, at most 64 characters. */
export function runSessionId(jobSessionId: string, run: number): string {
	return `${jobSessionId.slice(0, 63 - `-r${run}`.length)}-r${run}`;
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

/** The machine's idle CPU over the last couple of seconds, read from /proc/stat (undefined where it cannot be). */
/** How long the machine's free CPU is measured before a broadcast's first run, ms. */
const startSampleMs = 500;

/**
 * The level a degrading broadcast's first run encodes when none is given: from the machine's free CPU over
 * `startSampleMs` (see `startLevel`). 0 without degradation, with nothing to shed, or when told to always start
 * with everything.
 */
async function busyStartLevel(options: StageBroadcastOptions, restoreCost: readonly number[], signal: AbortSignal): Promise<number> {
	const startIdleCores = options.degradation?.startIdleCores ?? defaultStartIdleCores;
	if (!options.degradation || restoreCost.length <= 1 || startIdleCores <= 0) return 0;
	const before = await readMachineCpu();
	// Aborted (the space ended already): the loop that follows starts nothing.
	await sleep(startSampleMs, undefined, { signal }).catch(() => {});
	const after = await readMachineCpu();
	const freeCores = before && after ? Math.round(idleCoresBetween(before, after) * 100) / 100 : undefined;
	const level = startLevel(freeCores, startIdleCores, restoreCost);
	if (level > 0) options.logger.info({ freeCores, startIdleCores, level }, 'machine busy at the start: the broadcast starts with work shed');
	return level;
}

class IdleCpu {
	cores: number | undefined;
	#last: MachineCpu | undefined;
	readonly #timer: NodeJS.Timeout;

	constructor(intervalMs = 2000) {
		this.#timer = setInterval(() => void this.#read(), intervalMs);
		this.#timer.unref();
		void this.#read();
	}

	close(): void {
		clearInterval(this.#timer);
	}

	async #read(): Promise<void> {
		const now = await readMachineCpu();
		if (now && this.#last) this.cores = Math.round(idleCoresBetween(this.#last, now) * 100) / 100;
		this.#last = now;
	}
}
