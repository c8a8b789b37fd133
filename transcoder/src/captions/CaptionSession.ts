import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { StageLinkClient } from '../stageLink/StageLinkClient.js';
import { stageLinkLeaseMs, type StageLinkSnapshot, type StageLinkSpeaker } from '../stageLink/stageLinkProtocol.js';
import type { CaptionEngine } from './CaptionEngine.js';
import type { CaptionCue, CaptionMode } from './captionFeed.js';
import { vocabularyWords, type StoredVocabulary } from './captionVocabulary.js';
import { SpeakerCaptioner } from './SpeakerCaptioner.js';

export interface CaptionSessionOptions {
	spaceId: string;
	link: StageLinkClient;
	/** Names this session's consumers on the hosting node; ≤ 64 of [A-Za-z0-9_-]. */
	sessionId: string;
	/** A new engine for one speaker (not started). */
	createEngine: (speaker: StageLinkSpeaker, logger: Logger) => CaptionEngine;
	/** Every cue, partial and final, of every speaker; the caller publishes them (`publishCaption`). */
	onCue: (cue: CaptionCue) => void;
	/** Called with every snapshot after the session has followed it (for the burned-in text, tests). */
	onSnapshot?: (snapshot: StageLinkSnapshot) => void;
	/** Directory for the speakers' SDP files; Tribune-made. */
	workDir: string;
	/** Default `ffmpeg`. */
	ffmpegPath?: string;
	/** Address the node sends RTP to; this machine's. Default 127.0.0.1. */
	ip?: string;
	/**
	 * The space's stored vocabulary (host's word list, title, description) when the session starts; later changes
	 * through `setVocabulary`.
	 */
	vocabulary?: StoredVocabulary;
	/** A speaker whose captioner failed to start is tried again after this, ms, doubling per failure in a row up to a minute. Default 3000. */
	retryMs?: number;
	/**
	 * A captioner replaced for new words captions the utterance in progress when its successor is ready to its end, at
	 * most this long, ms; then it hands over with a final cut there. Default 10000.
	 */
	handOverMaxMs?: number;
	logger: Logger;
}

/** A successor waits this long for its first audio before it takes over (a muted speaker sends none), ms. */
const firstAudioWaitMs = 3000;

/**
 * Live speech recognition for one space: follows the stage-link snapshots and, while the space's caption mode is not
 * 'off', keeps one {@link SpeakerCaptioner} per speaker with an audio producer — started when they come on stage or
 * the mode is turned on, renamed when their name changes, replaced when their producer or node changes, stopped when
 * they leave or the mode goes 'off'. New words replace it make-before-break (`#waitForHandOver`). Its consumers live in a
 * stage-link session of its own, renewed here.
 */
export class CaptionSession {
	readonly #options: CaptionSessionOptions;
	/** The captioner whose cues are published, per speaker (peer id). */
	readonly #captioners = new Map<string, SpeakerCaptioner>();
	/** A speaker's captioner being started, per peer id; a successor stays here until it has taken over. */
	readonly #starting = new Map<string, Promise<void>>();
	/** Aborted to call off a successor's wait for its hand-over (the stage moved on, the session closes), per peer id. */
	readonly #handOvers = new Map<string, AbortController>();
	/** The node each captioner consumes from: a space moved to another node needs new consumers. */
	readonly #captionerNode = new WeakMap<SpeakerCaptioner, string>();
	#latest: StageLinkSnapshot | undefined;
	#queue: Promise<void> = Promise.resolve();
	#unwatch: (() => Promise<void>) | undefined;
	#renew: NodeJS.Timeout | undefined;
	#retry: NodeJS.Timeout | undefined;
	#failuresInARow = 0;
	#closed: Promise<void> | undefined;
	#vocabulary: StoredVocabulary | undefined;
	/** Moves on with every vocabulary change; a captioner started under an older one is replaced. */
	#vocabularyVersion = 0;
	readonly #captionerVocabulary = new WeakMap<SpeakerCaptioner, number>();

	private constructor(options: CaptionSessionOptions) {
		this.#options = options;
		this.#vocabulary = options.vocabulary;
	}

	/**
	 * A host changed the space's words: every speaker's recogniser is replaced by one that knows them, make-before-break:
	 * the old one captions while the new one loads its model (a second or more), then until its utterance in progress
	 * ends (`#waitForHandOver`).
	 */
	setVocabulary(vocabulary: StoredVocabulary | undefined): void {
		if (JSON.stringify(vocabulary) === JSON.stringify(this.#vocabulary)) return;
		this.#vocabulary = vocabulary;
		this.#vocabularyVersion++;
		// A successor waiting to take over knows outdated words: it is closed, and a new one started.
		for (const handOver of this.#handOvers.values()) handOver.abort();
		this.#refollow();
	}

	/**
	 * The words a speaker's recogniser starts with: the host's list first, then the names of everyone on stage, then
	 * the title and the description (`vocabularyWords` keeps the first ones when there are too many).
	 */
	#vocabularyWords(snapshot: StageLinkSnapshot): string[] {
		const v = this.#vocabulary;
		return vocabularyWords([...(v?.words ?? []), ...snapshot.speakers.map((s) => s.name), v?.title ?? '', v?.description ?? '']);
	}

	static async start(options: CaptionSessionOptions): Promise<CaptionSession> {
		const session = new CaptionSession(options);
		await fs.mkdir(options.workDir, { recursive: true });
		session.#unwatch = await options.link.watch(options.spaceId, (snapshot) => session.#follow(snapshot));
		const first = await options.link.snapshot(options.spaceId);
		if (first && !session.#latest) session.#follow(first);
		session.#renew = setInterval(() => {
			const node = session.#latest?.node;
			if (node && session.#captioners.size > 0) options.link.call(node, 'renew', { sessionId: options.sessionId }).catch(() => {});
		}, stageLinkLeaseMs / 3);
		return session;
	}

	/** The caption mode of the latest snapshot. */
	get mode(): CaptionMode {
		return this.#latest?.captionMode ?? 'off';
	}

	/** The speakers being captioned now, by peer id. */
	get captioners(): ReadonlyMap<string, SpeakerCaptioner> {
		return this.#captioners;
	}

	/** Resolves once every snapshot received so far has been followed (tests). */
	async settled(): Promise<void> {
		let queue;
		do {
			queue = this.#queue;
			await queue;
			await Promise.all(this.#starting.values());
		} while (queue !== this.#queue);
	}

	/**
	 * Ends captioning with the broadcast: every captioner finishes (`SpeakerCaptioner.finish`: no decoder restarts from
	 * now on, what the speaker said until their audio pauses is captioned, utterances in progress end with a final) and
	 * the session is released. Idempotent.
	 */
	close(): Promise<void> {
		this.#closed ??= this.#close();
		return this.#closed;
	}

	#follow(snapshot: StageLinkSnapshot): void {
		if (this.#closed) return;
		if (this.#latest && this.#latest.node === snapshot.node && this.#latest.version >= snapshot.version) return;
		this.#latest = snapshot;
		// One reconciliation at a time, in order; each one works from the newest snapshot.
		this.#queue = this.#queue.then(() => this.#reconcile()).catch((error: unknown) => this.#options.logger.warn({ err: error }, 'captions could not follow the stage'));
	}

	async #reconcile(): Promise<void> {
		const snapshot = this.#latest;
		if (!snapshot || this.#closed) return;
		const wanted = new Map(
			(snapshot.captionMode ?? 'off') === 'off' ? [] : snapshot.speakers.filter((s) => s.audioProducerId).map((s) => [s.peerId, s] as const),
		);
		const stopping: Promise<void>[] = [];
		for (const [peerId, captioner] of this.#captioners) {
			const speaker = wanted.get(peerId);
			// Words alone do not stop a captioner: it captions until its successor takes over (started below).
			if (speaker && speaker.audioProducerId === captioner.audioProducerId && this.#captionerNode.get(captioner) === snapshot.node) {
				captioner.name = speaker.name;
				continue;
			}
			this.#captioners.delete(peerId);
			this.#handOvers.get(peerId)?.abort();
			stopping.push(captioner.close());
		}
		await Promise.all(stopping);
		for (const [peerId, speaker] of wanted) {
			const current = this.#captioners.get(peerId);
			if (this.#starting.has(peerId) || (current && this.#captionerVocabulary.get(current) === this.#vocabularyVersion)) continue;
			const starting = this.#startSpeaker(snapshot, speaker, current).finally(() => this.#starting.delete(peerId));
			this.#starting.set(peerId, starting);
		}
		this.#options.onSnapshot?.(snapshot);
	}

	/**
	 * Starts a speaker's captioner; with `previous` (same speaker, producer and node, older words), as its successor:
	 * its cues held, it takes over at an utterance boundary (`#waitForHandOver`). A failed start leaves `previous`
	 * captioning (tried again like any failed start).
	 */
	async #startSpeaker(snapshot: StageLinkSnapshot, speaker: StageLinkSpeaker, previous: SpeakerCaptioner | undefined): Promise<void> {
		const options = this.#options;
		const node = snapshot.node;
		const logger = options.logger.child({ participantId: speaker.peerId });
		const version = this.#vocabularyVersion;
		try {
			const engine = options.createEngine(speaker, logger);
			const words = this.#vocabularyWords(snapshot);
			if (words.length > 0) engine.setVocabulary?.(words);
			const captioner = await SpeakerCaptioner.start({
				spaceId: options.spaceId,
				peerId: speaker.peerId,
				name: speaker.name,
				audioProducerId: speaker.audioProducerId!,
				link: options.link,
				node,
				sessionId: options.sessionId,
				ip: options.ip ?? '127.0.0.1',
				workDir: options.workDir,
				ffmpegPath: options.ffmpegPath ?? 'ffmpeg',
				engine,
				onCue: options.onCue,
				holdCues: previous !== undefined,
				logger,
			});
			this.#captionerNode.set(captioner, node);
			this.#captionerVocabulary.set(captioner, version);
			if (previous && this.#stillWanted(speaker, node, version)) await this.#waitForHandOver(speaker.peerId, previous, captioner, logger);
			const still = this.#stillWanted(speaker, node, version);
			if (!still) {
				// The stage or the words moved on while it started (a replaced `previous` is the reconciliation's).
				await captioner.close();
				this.#refollow();
				return;
			}
			captioner.name = still.name;
			this.#failuresInARow = 0;
			this.#captioners.set(speaker.peerId, captioner);
			if (previous) {
				// Its utterance in progress, if the wait ran out, ends with a final; the successor captions from its end.
				try {
					await previous.close();
				} finally {
					captioner.captionFrom(previous.captionedUntilMs);
				}
			}
			logger.info({ engine: captioner.engine.kind, vocabularyWords: words.length, tookOverAtMs: previous?.captionedUntilMs }, 'captioning speaker');
		} catch (error) {
			if (this.#closed) return;
			// A broken engine (a missing model) would otherwise fail and log every few seconds for every speaker.
			const retryMs = Math.min((options.retryMs ?? 3000) * 2 ** this.#failuresInARow++, 60_000);
			logger.warn({ err: error, retryMs }, 'could not caption speaker; trying again');
			clearTimeout(this.#retry);
			this.#retry = setTimeout(() => this.#refollow(), retryMs);
		}
	}

	/** The speaker as the latest snapshot has them, if a captioner started for `node`, their producer and `version` is still wanted. */
	#stillWanted(speaker: StageLinkSpeaker, node: string, version: number): StageLinkSpeaker | undefined {
		const latest = this.#latest;
		if (this.#closed || latest?.node !== node || (latest.captionMode ?? 'off') === 'off' || version !== this.#vocabularyVersion) return undefined;
		const still = latest.speakers.find((s) => s.peerId === speaker.peerId);
		return still?.audioProducerId === speaker.audioProducerId ? still : undefined;
	}

	/**
	 * Make-before-break for new words: `next` is running (its engine started, its consumer resumed) and holds its cues.
	 * It takes over once it hears audio and `previous` is between utterances: at once, or at the final of the one in
	 * progress, at most `handOverMaxMs` on (then `previous`'s close cuts it with a final). The caller then closes
	 * `previous` and lets `next` caption from the end of its last final, so its first utterance, begun mid-sentence, is
	 * not shown. Called off (returns at once) when a reconciliation stops `previous`, the words change again or the
	 * session closes.
	 */
	async #waitForHandOver(peerId: string, previous: SpeakerCaptioner, next: SpeakerCaptioner, logger: Logger): Promise<void> {
		if (this.#captioners.get(peerId) !== previous) return;
		const handOver = new AbortController();
		this.#handOvers.set(peerId, handOver);
		const { signal } = handOver;
		try {
			if (!(await within(next.heard, firstAudioWaitMs, signal)) && !signal.aborted) logger.info({ waitedMs: firstAudioWaitMs }, 'replacement captioner heard no audio yet; taking over');
			const maxMs = this.#options.handOverMaxMs ?? 10_000;
			if (!(await within(previous.utteranceEnd(), maxMs, signal)) && !signal.aborted) logger.info({ waitedMs: maxMs }, 'replaced captioner still in an utterance; taking over at its cut');
		} finally {
			this.#handOvers.delete(peerId);
		}
	}

	/** Reconciles again with the latest snapshot (after a failed or outdated start). */
	#refollow(): void {
		if (this.#closed) return;
		this.#queue = this.#queue.then(() => this.#reconcile()).catch((error: unknown) => this.#options.logger.warn({ err: error }, 'captions could not follow the stage'));
	}

	async #close(): Promise<void> {
		for (const handOver of this.#handOvers.values()) handOver.abort();
		clearInterval(this.#renew);
		clearTimeout(this.#retry);
		// At once, not after the starts in progress (a model loading takes seconds): from now on no decoder restarts.
		const finishing = [...this.#captioners.values()].map((c) => c.finish());
		await this.#unwatch?.();
		await this.#queue.catch(() => {});
		await Promise.all(this.#starting.values());
		const captioners = [...this.#captioners.values()];
		this.#captioners.clear();
		await Promise.all([...finishing, ...captioners.map((c) => c.finish())]);
		const node = this.#latest?.node;
		if (node) await this.#options.link.call(node, 'release', { sessionId: this.#options.sessionId }).catch(() => {});
	}
}

/** True when `promise` settles within `timeoutMs`; false at the timeout or once `signal` aborts (the promise goes on). */
function within(promise: Promise<unknown>, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
	return new Promise((resolve) => {
		const done = (settled: boolean): void => {
			clearTimeout(timer);
			signal.removeEventListener('abort', onAbort);
			resolve(settled);
		};
		const onAbort = (): void => done(false);
		const timer = setTimeout(() => done(false), timeoutMs);
		signal.addEventListener('abort', onAbort);
		if (signal.aborted) done(false);
		promise.then(
			() => done(true),
			() => done(true),
		);
	});
}
