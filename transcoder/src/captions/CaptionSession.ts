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
	logger: Logger;
}

/**
 * Live speech recognition for one space: follows the stage-link snapshots and, while the space's caption mode is not
 * 'off', keeps one {@link SpeakerCaptioner} per speaker with an audio producer — started when they come on stage or
 * the mode is turned on, renamed when their name changes, replaced when their producer changes, stopped when they
 * leave or the mode goes 'off'. Its consumers live in a stage-link session of its own, renewed here.
 */
export class CaptionSession {
	readonly #options: CaptionSessionOptions;
	readonly #captioners = new Map<string, SpeakerCaptioner>();
	readonly #starting = new Map<string, Promise<void>>();
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
	 * A host changed the space's words: every speaker's recogniser is replaced by one that knows them (its utterance
	 * in progress ends with a final; the new one loads its model, a second or two, before it captions again).
	 */
	setVocabulary(vocabulary: StoredVocabulary | undefined): void {
		if (JSON.stringify(vocabulary) === JSON.stringify(this.#vocabulary)) return;
		this.#vocabulary = vocabulary;
		this.#vocabularyVersion++;
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

	/** Stops every captioner (their utterances in progress end with a final) and releases the session. Idempotent. */
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
			if (
				speaker &&
				speaker.audioProducerId === captioner.audioProducerId &&
				this.#captionerNode.get(captioner) === snapshot.node &&
				this.#captionerVocabulary.get(captioner) === this.#vocabularyVersion
			) {
				captioner.name = speaker.name;
				continue;
			}
			this.#captioners.delete(peerId);
			stopping.push(captioner.close());
		}
		await Promise.all(stopping);
		for (const [peerId, speaker] of wanted) {
			if (this.#captioners.has(peerId) || this.#starting.has(peerId)) continue;
			const starting = this.#startSpeaker(snapshot, speaker).finally(() => this.#starting.delete(peerId));
			this.#starting.set(peerId, starting);
		}
		this.#options.onSnapshot?.(snapshot);
	}

	async #startSpeaker(snapshot: StageLinkSnapshot, speaker: StageLinkSpeaker): Promise<void> {
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
				logger,
			});
			this.#captionerNode.set(captioner, node);
			const latest = this.#latest;
			const still = latest?.node === node && (latest.captionMode ?? 'off') !== 'off' && latest.speakers.find((s) => s.peerId === speaker.peerId);
			this.#captionerVocabulary.set(captioner, version);
			if (this.#closed || !still || still.audioProducerId !== speaker.audioProducerId || version !== this.#vocabularyVersion) {
				// The stage moved on while it started.
				await captioner.close();
				this.#refollow();
				return;
			}
			captioner.name = still.name;
			this.#failuresInARow = 0;
			this.#captioners.set(speaker.peerId, captioner);
			logger.info({ engine: captioner.engine.kind, vocabularyWords: words.length }, 'captioning speaker');
		} catch (error) {
			if (this.#closed) return;
			// A broken engine (a missing model) would otherwise fail and log every few seconds for every speaker.
			const retryMs = Math.min((options.retryMs ?? 3000) * 2 ** this.#failuresInARow++, 60_000);
			logger.warn({ err: error, retryMs }, 'could not caption speaker; trying again');
			clearTimeout(this.#retry);
			this.#retry = setTimeout(() => this.#refollow(), retryMs);
		}
	}

	/** Reconciles again with the latest snapshot (after a failed or outdated start). */
	#refollow(): void {
		if (this.#closed) return;
		this.#queue = this.#queue.then(() => this.#reconcile()).catch((error: unknown) => this.#options.logger.warn({ err: error }, 'captions could not follow the stage'));
	}

	async #close(): Promise<void> {
		clearInterval(this.#renew);
		clearTimeout(this.#retry);
		await this.#unwatch?.();
		await this.#queue.catch(() => {});
		await Promise.all(this.#starting.values());
		const captioners = [...this.#captioners.values()];
		this.#captioners.clear();
		await Promise.all(captioners.map((c) => c.close()));
		const node = this.#latest?.node;
		if (node) await this.#options.link.call(node, 'release', { sessionId: this.#options.sessionId }).catch(() => {});
	}
}
