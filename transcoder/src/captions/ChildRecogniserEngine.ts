import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import { TypedEmitter } from '@tribune/ingest';
import { type Logger } from 'pino';
import {
	captionSampleRateHz,
	type CaptionEngine,
	type CaptionEngineEvents,
	type CaptionFinal,
	type CaptionPartial,
} from './CaptionEngine.js';
import { encodePcmFrame, type PcmFrame } from './pcmFrames.js';
import { readProcessCpuMs } from '../broadcast/procCpu.js';
import { recogniserMessageSchema, recogniserSetupSchema, type RecogniserMessage, type RecogniserSetup } from './recogniserProtocol.js';
import { VoiceGate, type VoiceGateOptions } from './VoiceGate.js';

/** What every engine whose recogniser runs in a child process takes; each engine adds its decoder's settings. */
export interface ChildRecogniserEngineOptions {
	/** Voice gate in front of the recogniser; defaults in `voiceGateDefaults`. */
	gate: Partial<VoiceGateOptions>;
	/** Audio between two partial results of one utterance, ms. Default 300. */
	partialIntervalMs: number;
	/** Longest utterance before it is cut and finalised while the speaker goes on, ms. Default 15000. */
	maxUtteranceMs: number;
	/**
	 * Audio that may wait for a recogniser that is behind or restarting, ms; newer audio is dropped beyond it (the
	 * stream clock still advances). Default 10000.
	 */
	maxBacklogMs: number;
	/** Wait before the first restart after a crash, ms; doubles per crash in a row up to `restartMaxDelayMs`. Default 200. */
	restartDelayMs: number;
	/** Default 10000. */
	restartMaxDelayMs: number;
	/** A recogniser that lived this long resets the crash count, ms. Default 30000. */
	healthyAfterMs: number;
	/** Model loading must finish within this, ms. The default is the engine's. */
	startTimeoutMs: number;
	/** Wait for the last final and the recogniser's exit on `stop()` before killing it, ms. Default 5000. */
	stopTimeoutMs: number;
	/** The compiled recogniser entry point. Default: the engine's child script beside its module (in `dist/`). */
	childScript: string;
	/**
	 * Scheduling priority of the recogniser process (`nice`, 0–19). Default 10: on a busy machine the broadcast's
	 * encoder and packager, whose parts are due every 200 ms, get the CPU first; a recogniser behind queues its audio
	 * (`maxBacklogMs`) and its finals come a little later.
	 */
	niceness: number;
	/** Where restarts and overloads are logged, with the caller's ids bound (`spaceId`, `participantId`). */
	logger: Logger | undefined;
}

/** The defaults every child-process engine shares (`startTimeoutMs` and `childScript` are each engine's own). */
export const childRecogniserEngineDefaults: Readonly<Omit<ChildRecogniserEngineOptions, 'startTimeoutMs' | 'childScript'>> = Object.freeze({
	gate: {},
	partialIntervalMs: 300,
	maxUtteranceMs: 15_000,
	maxBacklogMs: 10_000,
	restartDelayMs: 200,
	restartMaxDelayMs: 10_000,
	healthyAfterMs: 30_000,
	stopTimeoutMs: 5_000,
	niceness: 10,
	logger: undefined,
});

/** What one engine tells the shared process management about its recogniser. */
export interface ChildRecogniser {
	/** `CaptionEngine.kind`. */
	kind: string;
	/** The recogniser's name in error messages, e.g. `'PocketSphinx'`. */
	name: string;
	/**
	 * The child's configuration, sent as the first IPC message with the vocabulary (`recogniserSetupSchema`; never on
	 * the command line, which the space's words must not reach); the child parses it with its own schema.
	 */
	config: unknown;
	/** Throws a clear error when a file the recogniser needs is missing (called by `start()`, before any process). */
	checkFiles(): void;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Keep this much of the recogniser's stderr to explain a failure. */
const stderrTailChars = 2000;

/**
 * A caption engine whose recogniser runs in a child process of its own per speaker (`PocketsphinxEngine`,
 * `SherpaOnnxEngine`; the child's side is `runRecogniserChild`). A child process rather than a worker thread because
 * a fault in a native library (or an `exit()` on one of its fatal errors) ends the whole process it runs in: here it
 * ends one speaker's recogniser, which is restarted, instead of the transcoder and every broadcast in it. It also
 * gives each speaker its own core to run on and its own line in /proc.
 *
 * Audio passes a `VoiceGate` first, on the caller's thread; a silent speaker's audio never leaves it. PCM goes to the
 * child's stdin (`pcmFrames.ts`), results come back over IPC (`recogniserProtocol.ts`).
 */
export class ChildRecogniserEngine extends TypedEmitter<CaptionEngineEvents> implements CaptionEngine {
	readonly kind: string;
	readonly #recogniser: ChildRecogniser;
	readonly #options: ChildRecogniserEngineOptions;
	readonly #gate: VoiceGate;
	#state: State = 'new';
	#child: ChildProcess | undefined;
	#childStartedAt = 0;
	#stderrTail = '';
	/** Frames waiting for a recogniser while none runs (between a crash and its restart). */
	#queued: Buffer[] = [];
	#queuedBytes = 0;
	#restartTimer: NodeJS.Timeout | undefined;
	#crashesInARow = 0;
	#restarts = 0;
	/** Utterance ids restart at 1 in every recogniser; the engine's keep growing. */
	#idOffset = 0;
	#lastId = 0;
	#openPartial: CaptionPartial | undefined;
	#droppedSamples = 0;
	#overloaded = false;
	#stopped: Promise<void> | undefined;
	#vocabulary: readonly string[] = [];

	constructor(recogniser: ChildRecogniser, options: ChildRecogniserEngineOptions) {
		super();
		this.kind = recogniser.kind;
		this.#recogniser = recogniser;
		this.#options = options;
		this.#gate = new VoiceGate(this.#options.gate);
		const { partialIntervalMs, maxUtteranceMs, maxBacklogMs } = this.#options;
		if (!(partialIntervalMs >= 50)) throw new Error(`partialIntervalMs must be at least 50, got ${partialIntervalMs}`);
		if (!(maxUtteranceMs >= 1000)) throw new Error(`maxUtteranceMs must be at least 1000, got ${maxUtteranceMs}`);
		if (!(maxBacklogMs >= 100)) throw new Error(`maxBacklogMs must be at least 100, got ${maxBacklogMs}`);
	}

	/** The recogniser process, while one runs (for CPU and memory accounting). */
	get recogniserPid(): number | undefined {
		return this.#child?.pid;
	}

	/** Recognisers started after a crash. */
	get restarts(): number {
		return this.#restarts;
	}

	/** Audio dropped because the recogniser could not keep up, ms. */
	get droppedMs(): number {
		return (this.#droppedSamples * 1000) / captionSampleRateHz;
	}

	/**
	 * The space's words (`vocabularyWords()`), made likelier by the recogniser; set before `start()` (a restarted
	 * recogniser gets them too). Throws for anything that is not a vocabulary word, or after `start()`.
	 */
	setVocabulary(words: readonly string[]): void {
		if (this.#state !== 'new') throw new Error(`${this.constructor.name}.setVocabulary() called when ${this.#state}`);
		this.#vocabulary = recogniserSetupSchema.shape.vocabulary.parse([...words]);
	}

	async start(): Promise<void> {
		if (this.#state !== 'new') throw new Error(`${this.constructor.name}.start() called when ${this.#state}`);
		this.#state = 'starting';
		try {
			this.#checkFiles();
			await this.#waitReady(this.#spawn());
		} catch (error) {
			this.#state = 'stopped';
			await this.#killChild();
			throw error;
		}
		if (this.#state === 'starting') this.#state = 'running';
	}

	feed(samples: Int16Array): void {
		if (this.#state !== 'running' && this.#state !== 'starting') {
			throw new Error(`${this.constructor.name}.feed() called when ${this.#state}`);
		}
		for (const frame of this.#gate.push(samples)) this.#send(frame);
	}

	stop(): Promise<void> {
		this.#stopped ??= this.#stop();
		return this.#stopped;
	}

	async #stop(): Promise<void> {
		this.#state = 'stopping';
		clearTimeout(this.#restartTimer);
		this.#queued = [];
		this.#queuedBytes = 0;
		const child = this.#child;
		if (child) {
			// 'close' comes after the IPC channel closed, so after every result the recogniser sent.
			const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
			// End of stdin: the recogniser finishes the utterance in progress, sends its final and exits.
			child.stdin?.end();
			const timer = setTimeout(() => child.kill('SIGKILL'), this.#options.stopTimeoutMs);
			await exited;
			clearTimeout(timer);
		}
		this.#closeOpenPartial();
		this.#state = 'stopped';
	}

	/**
	 * Ends a recogniser that failed to start and waits (bounded) until it is gone, so a rejected `start()` leaves no
	 * process behind: the child may still be loading when its start timed out, or be exiting after saying it failed.
	 */
	async #killChild(): Promise<void> {
		const child = this.#child;
		this.#child = undefined;
		if (!child || child.pid === undefined) return;
		if (child.exitCode === null && child.signalCode === null) {
			const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
			child.kill('SIGKILL');
			await Promise.race([gone, new Promise<void>((resolve) => setTimeout(resolve, this.#options.stopTimeoutMs).unref())]);
		}
	}

	#checkFiles(): void {
		this.#recogniser.checkFiles();
		if (!fs.existsSync(this.#options.childScript)) {
			throw new Error(`${this.#recogniser.name} recogniser script not found: ${this.#options.childScript} (build the transcoder: npm run build)`);
		}
	}

	#spawn(): ChildProcess {
		// execArgv: [] — the child is compiled JavaScript and must not inherit a test runner's loader flags.
		const child = fork(this.#options.childScript, [], {
			stdio: ['pipe', 'ignore', 'pipe', 'ipc'],
			execArgv: [],
			serialization: 'json',
		});
		// Configuration and vocabulary go over the IPC channel: the space's words must never be on a command line.
		const setup: RecogniserSetup = { type: 'setup', config: this.#recogniser.config, vocabulary: [...this.#vocabulary] };
		child.send(setup, (error) => {
			// A child that died before reading it is reported by its exit.
			if (error) this.#options.logger?.debug({ err: error }, 'recogniser setup not sent');
		});
		lowerPriority(child, this.#options.niceness, this.#options.logger);
		this.#child = child;
		this.#childStartedAt = Date.now();
		this.#stderrTail = '';
		child.stderr?.setEncoding('utf8');
		child.stderr?.on('data', (text: string) => {
			this.#stderrTail = (this.#stderrTail + text).slice(-stderrTailChars);
		});
		// A write racing the child's death fails with EPIPE; the exit handler deals with the death.
		child.stdin?.on('error', () => {});
		child.on('message', (raw: unknown) => this.#onMessage(child, raw));
		child.on('close', (code, signal) => this.#onExit(child, code, signal));
		child.on('error', (error) => {
			this.safeEmit('error', new Error(`${this.#recogniser.name} recogniser process: ${error.message}`));
			// A process that never started has no 'close' coming.
			if (child.pid === undefined) this.#onExit(child, null, null);
		});
		for (const bytes of this.#queued) child.stdin?.write(bytes);
		this.#queued = [];
		this.#queuedBytes = 0;
		return child;
	}

	/**
	 * Resolves when the recogniser says it is ready. At `startTimeoutMs` a recogniser that is still using CPU is slow
	 * (a starved machine, nice 10), not stuck: it gets another `startTimeoutMs` as long as it used at least 2 % of a
	 * core since the last look, up to 4 × `startTimeoutMs` in all; one that used none is stuck and fails at once.
	 */
	#waitReady(child: ChildProcess): Promise<void> {
		return new Promise((resolve, reject) => {
			const name = this.#recogniser.name;
			const startedAt = Date.now();
			let lastCpuMs = 0;
			let settled = false;
			let timer: NodeJS.Timeout;
			const look = (): void => {
				const waitedMs = Date.now() - startedAt;
				const pid = child.pid;
				void (pid === undefined ? Promise.resolve(undefined) : readProcessCpuMs(pid)).then((cpuMs) => {
					if (settled) return;
					const usedMs = cpuMs === undefined ? 0 : cpuMs - lastCpuMs;
					lastCpuMs = cpuMs ?? lastCpuMs;
					const working = usedMs >= 0.02 * this.#options.startTimeoutMs;
					if (working && waitedMs < 4 * this.#options.startTimeoutMs) {
						this.#options.logger?.info({ waitedMs, cpuMs: usedMs }, `${name} is still loading its model (slow, not stuck)`);
						timer = setTimeout(look, this.#options.startTimeoutMs);
						return;
					}
					done(
						new Error(
							working
								? `${name} was still loading its model after ${waitedMs} ms (using CPU: the machine is too busy)`
								: `${name} did not load its model within ${waitedMs} ms (stuck: no CPU time in the last ${this.#options.startTimeoutMs} ms)`,
						),
					);
				});
			};
			timer = setTimeout(look, this.#options.startTimeoutMs);
			const onMessage = (raw: unknown): void => {
				const parsed = recogniserMessageSchema.safeParse(raw);
				if (parsed.success && parsed.data.type === 'ready') done();
				if (parsed.success && parsed.data.type === 'failed') done(new Error(`${this.#recogniser.name} failed to start: ${parsed.data.message}`));
			};
			const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
				done(new Error(`${this.#recogniser.name} recogniser exited while starting (${signal ?? `exit ${code}`})${this.#stderrSuffix()}`));
			};
			const onError = (error: Error): void => done(new Error(`${this.#recogniser.name} recogniser could not start: ${error.message}`));
			const done = (error?: Error): void => {
				settled = true;
				clearTimeout(timer);
				child.off('message', onMessage);
				child.off('exit', onExit);
				child.off('error', onError);
				if (error) reject(error);
				else resolve();
			};
			child.on('message', onMessage);
			child.on('exit', onExit);
			child.on('error', onError);
		});
	}

	#onMessage(child: ChildProcess, raw: unknown): void {
		if (child !== this.#child) return;
		const parsed = recogniserMessageSchema.safeParse(raw);
		if (!parsed.success) {
			this.safeEmit('error', new Error(`malformed message from the ${this.#recogniser.name} recogniser: ${parsed.error.message}`));
			return;
		}
		const message: RecogniserMessage = parsed.data;
		if (message.type === 'failed') {
			this.safeEmit('error', new Error(`${this.#recogniser.name} recogniser failed: ${message.message}`));
			return;
		}
		if (message.type !== 'result') return;
		const { type, ...result } = message.result;
		const utteranceId = this.#idOffset + result.utteranceId;
		this.#lastId = Math.max(this.#lastId, utteranceId);
		if (type === 'partial') {
			this.#openPartial = { ...result, utteranceId };
			this.safeEmit('partial', this.#openPartial);
		} else {
			this.#openPartial = undefined;
			this.safeEmit('final', { ...(result as Omit<CaptionFinal, 'utteranceId'>), utteranceId });
		}
	}

	#onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
		if (child !== this.#child) return;
		this.#child = undefined;
		if (this.#state === 'stopping' || this.#state === 'stopped') return;
		if (this.#state === 'starting') return; // start() reports it.
		// Every later utterance must get a fresh id, and a partial on screen must not hang there forever.
		this.#closeOpenPartial();
		this.#idOffset = this.#lastId;
		const lived = Date.now() - this.#childStartedAt;
		this.#crashesInARow = lived >= this.#options.healthyAfterMs ? 1 : this.#crashesInARow + 1;
		const delayMs = Math.min(this.#options.restartDelayMs * 2 ** (this.#crashesInARow - 1), this.#options.restartMaxDelayMs);
		const reason = signal ?? `exit ${code}`;
		this.#options.logger?.warn({ reason, attempt: this.#crashesInARow, delayMs, stderr: this.#stderrTail || undefined }, 'caption recogniser died; restarting');
		this.safeEmit('restart', { reason, attempt: this.#crashesInARow, delayMs });
		this.#restartTimer = setTimeout(() => {
			if (this.#state !== 'running') return;
			this.#restarts++;
			this.#spawn();
		}, delayMs);
	}

	#closeOpenPartial(): void {
		const partial = this.#openPartial;
		if (!partial) return;
		this.#openPartial = undefined;
		this.safeEmit('final', { ...partial, words: [], interrupted: true });
	}

	#send(frame: PcmFrame): void {
		const bytes = encodePcmFrame(frame);
		const stdin = this.#child?.stdin;
		const backlog = (stdin?.writableLength ?? 0) + this.#queuedBytes;
		const maxBacklogBytes = (this.#options.maxBacklogMs * captionSampleRateHz * 2) / 1000;
		// Pause marks are never dropped: they are tiny and keep utterances from spanning a gap.
		if (frame.kind === 'audio' && backlog + bytes.length > maxBacklogBytes) {
			this.#droppedSamples += frame.samples.length;
			if (!this.#overloaded) {
				this.#overloaded = true;
				this.#options.logger?.warn({ backlogMs: (backlog * 1000) / (captionSampleRateHz * 2) }, 'caption recogniser is behind; dropping audio');
				this.safeEmit('error', new Error(`${this.#recogniser.name} recogniser cannot keep up: audio dropped`));
			}
			return;
		}
		if (backlog < maxBacklogBytes / 2) this.#overloaded = false;
		if (stdin && this.#child?.exitCode === null) {
			stdin.write(bytes);
		} else {
			this.#queued.push(bytes);
			this.#queuedBytes += bytes.length;
		}
	}

	#stderrSuffix(): string {
		return this.#stderrTail ? `: ${this.#stderrTail.trim().split('\n').slice(-5).join(' | ')}` : '';
	}
}

/**
 * Runs a caption process at a lower priority than the broadcast (see `niceness`). A process that has already exited
 * (ESRCH) needs none, and a system that refuses (EACCES, EPERM) leaves it at the default: captions still work, only
 * without yielding the CPU first.
 */
export function lowerPriority(child: ChildProcess, niceness: number, logger: Logger | undefined): void {
	if (child.pid === undefined || niceness === 0) return;
	try {
		os.setPriority(child.pid, niceness);
	} catch (error) {
		logger?.debug({ err: error, pid: child.pid }, 'caption process priority unchanged');
	}
}
