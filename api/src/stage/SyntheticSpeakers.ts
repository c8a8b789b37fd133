import fs from 'node:fs';
import path from 'node:path';
import { SyntheticSpeaker, type Stage, type StageRegistry, type SyntheticSpeakerOptions } from '@tribune/ingest';
import type { Logger } from 'pino';
import { TribuneError } from '../errors.js';
import type { Participant, ParticipantId, SpaceId } from '../spaces/Space.js';
import type { Actor, SpaceService, SpaceServiceEvents } from '../spaces/SpaceService.js';
import { publishGrantsFor } from './publishGrantsFor.js';
import { conversationLimits, type SyntheticConversationRequest, type SyntheticVoice } from './syntheticSpeakerRequests.js';
import { conversationTracks, conversationTurns, speechRate, synthesiseSpeech, writeSpeechWav } from './syntheticSpeech.js';

/** Voices given to speakers who did not ask for one, in this order: the 16 kHz flite voices PocketSphinx follows best. */
const defaultVoices: readonly SyntheticVoice[] = ['slt', 'rms', 'awb', 'kal16'];
/**
 * A conversation's speakers come on stage this long before its first line, ms: a speaker coming on stage starts a
 * caption recogniser for them, which loads its model in a second or two (more on a busy machine).
 */
const conversationStartDelayMs = 4000;
/** A lone speaker's line comes round again after this much silence, ms. */
const soloPauseMs = 2500;

type Camera = NonNullable<SyntheticSpeakerOptions['video']>;

/** The synthetic camera: VP8 at 640×360, 24 fps. */
const camera = { codec: 'VP8', width: 640, height: 360, fps: 24 } as const;

type Listener<K extends keyof SpaceServiceEvents> = (...args: SpaceServiceEvents[K]) => void;

export interface SyntheticSpeakerRequest {
	displayName: string;
	/** What the speaker says, looped (with a pause before it comes round again). */
	text: string;
	/** Default: a flite voice no other synthetic speaker of the space uses (while there is one). */
	voice?: SyntheticVoice | undefined;
	/** Send a camera too (spaces with video on). */
	video: boolean;
	/** With `video`: the camera shows this one solid colour (`#rrggbb`) instead of the moving test pattern. */
	colour?: string | undefined;
}

interface Running {
	spaceId: SpaceId;
	participant: Participant;
	voice: SyntheticVoice;
	wav: string;
	/** In a conversation: when its loop started (epoch ms); every speaker of it plays from where it is now. */
	alignTo: number | undefined;
	video: Camera | undefined;
	speaker: SyntheticSpeaker | undefined;
}

/**
 * Synthetic speakers on this node: each is a participant on stage whose voice is flite (or espeak-ng) speech sent by
 * ffmpeg into the space's stage, alone (one line, looped with a pause) or in a conversation (speakers taking turns
 * through a script, looped: each plays a track as long as the whole loop, silent outside their turns, aligned to the
 * conversation's start so they never talk over each other, even when one restarts). They follow the space's rules like anyone on stage: muted, demoted, removed or ended, they
 * stop; when the stage moves to another worker, they start again there.
 */
export class SyntheticSpeakers {
	readonly #service: SpaceService;
	readonly #stages: StageRegistry;
	readonly #dir: string;
	readonly #logger: Logger;
	readonly #running = new Map<ParticipantId, Running>();
	readonly #off: () => void;
	#closed = false;

	/** `dir`: where the speech WAVs go. */
	constructor(options: { service: SpaceService; stages: StageRegistry; dir: string; logger: Logger }) {
		this.#service = options.service;
		this.#stages = options.stages;
		this.#dir = options.dir;
		this.#logger = options.logger;
		const onRole: Listener<'roleChanged'> = ({ participant }) => {
			if (participant.role === 'listener') this.#stop(participant.id);
		};
		const onRemoved: Listener<'participantRemoved'> = ({ participant }) => this.#stop(participant.id);
		const onMute: Listener<'muteChanged'> = ({ participant }) => {
			// A producer closed meanwhile (the speaker stopping) has nothing left to pause: nothing to do.
			this.#running.get(participant.id)?.speaker?.peer.setAudioMuted(participant.mute !== 'none').catch(() => {});
		};
		const onState: Listener<'spaceState'> = ({ space }) => {
			if (space.state !== 'ended') return;
			for (const r of [...this.#running.values()]) if (r.spaceId === space.id) this.#stop(r.participant.id);
		};
		const onStage = (stage: Stage, { replaced }: { replaced: boolean }): void => {
			if (!replaced) return;
			for (const r of this.#running.values()) {
				if (r.spaceId === stage.spaceId) this.#startOn(stage, r).catch((error: unknown) => this.#logger.error({ err: error }, 'synthetic speaker did not restart'));
			}
		};
		this.#service.on('roleChanged', onRole).on('participantRemoved', onRemoved).on('muteChanged', onMute).on('spaceState', onState);
		this.#stages.on('stageopened', onStage);
		this.#off = () => {
			this.#service.off('roleChanged', onRole).off('participantRemoved', onRemoved).off('muteChanged', onMute).off('spaceState', onState);
			this.#stages.off('stageopened', onStage);
		};
	}

	/** Adds a synthetic speaker to the actor's space (host or co-host only; the space must be live). */
	async add(actor: Actor, request: SyntheticSpeakerRequest): Promise<Participant> {
		const space = await this.#requireLive(actor);
		if (request.video && !space.settings.video) throw new TribuneError('forbidden', 'this space has video off');
		if (request.colour !== undefined && !request.video) throw new TribuneError('bad_request', 'a colour needs video: true');
		const video = request.video ? { ...camera, pattern: request.colour === undefined ? 'testsrc2' as const : { colour: request.colour } } : undefined;
		const voice = request.voice ?? this.#freeVoices(actor.spaceId, 1)[0]!;
		fs.mkdirSync(this.#dir, { recursive: true });
		const speech = await synthesiseSpeech(this.#dir, voice, request.text);
		const participant = await this.#service.addSyntheticSpeaker(actor, request.displayName);
		const running: Running = { spaceId: actor.spaceId, participant, voice, wav: path.join(this.#dir, `${participant.id}.wav`), alignTo: undefined, video, speaker: undefined };
		this.#running.set(participant.id, running);
		try {
			const loop = new Int16Array(speech.length + (soloPauseMs * speechRate) / 1000);
			loop.set(speech);
			writeSpeechWav(running.wav, loop);
			await this.#startOn(await this.#stages.open(actor.spaceId), running);
		} catch (error) {
			this.#stop(participant.id);
			throw error;
		}
		return participant;
	}

	/**
	 * Adds synthetic speakers who take turns through `request.lines` in order, looped (host or co-host only; the space
	 * must be live). Speakers without a voice get different flite voices. Every speaker must have a line, and one loop
	 * (speech and pauses) lasts at most `conversationLimits.loopS`.
	 */
	async addConversation(actor: Actor, request: SyntheticConversationRequest): Promise<Participant[]> {
		await this.#requireLive(actor);
		const { speakers, lines } = request;
		for (const [i, line] of lines.entries()) {
			if (line.speaker >= speakers.length) throw new TribuneError('bad_request', `line ${i} names speaker ${line.speaker}, but there are ${speakers.length}`);
		}
		for (const i of speakers.keys()) {
			if (!lines.some((l) => l.speaker === i)) throw new TribuneError('bad_request', `speaker ${i} (${speakers[i]!.displayName}) has no line`);
		}
		const free = this.#freeVoices(actor.spaceId, speakers.length, speakers.flatMap((s) => (s.voice ? [s.voice] : [])));
		const voices = speakers.map((s) => s.voice ?? free.shift()!);
		fs.mkdirSync(this.#dir, { recursive: true });
		const speech: Int16Array[] = [];
		for (const line of lines) speech.push(await synthesiseSpeech(this.#dir, voices[line.speaker]!, line.text));
		const { turns, loopMs } = conversationTurns(lines.map((l, i) => ({ speaker: l.speaker, lengthMs: (speech[i]!.length * 1000) / speechRate })), request.pauseMs ?? 1200);
		if (loopMs > conversationLimits.loopS * 1000) {
			throw new TribuneError('bad_request', `the conversation lasts ${Math.round(loopMs / 1000)} s; at most ${conversationLimits.loopS} s (shorter or fewer lines)`);
		}
		const tracks = conversationTracks(speakers.length, turns, speech, loopMs);
		const added: Running[] = [];
		try {
			for (const [i, speaker] of speakers.entries()) {
				const participant = await this.#service.addSyntheticSpeaker(actor, speaker.displayName);
				const running: Running = { spaceId: actor.spaceId, participant, voice: voices[i]!, wav: path.join(this.#dir, `${participant.id}.wav`), alignTo: undefined, video: undefined, speaker: undefined };
				this.#running.set(participant.id, running);
				added.push(running);
				writeSpeechWav(running.wav, tracks[i]!);
			}
			// One instant for all, a moment ahead: the speakers come on stage silent, so the captions' recognisers (one
			// starts for each speaker who comes on stage) are listening when the first line is said; each speaker's ffmpeg
			// starts where the conversation is by then.
			const alignTo = Date.now() + conversationStartDelayMs;
			const stage = await this.#stages.open(actor.spaceId);
			for (const running of added) {
				running.alignTo = alignTo;
				await this.#startOn(stage, running);
			}
		} catch (error) {
			for (const running of added) this.#stop(running.participant.id);
			throw error;
		}
		return added.map((r) => r.participant);
	}

	/** The actor's space, once it is live and they may manage its stage (before any speech is synthesised). */
	async #requireLive(actor: Actor) {
		if (this.#closed) throw new TribuneError('unavailable', 'shutting down');
		await this.#service.require(actor, 'manage_stage');
		const space = await this.#service.getSpace(actor.spaceId);
		if (space.state !== 'live') throw new TribuneError('conflict', 'the space is not live');
		return space;
	}

	/** `count` voices for new speakers of the space: the default voices its running speakers (and `taken`) do not use first. */
	#freeVoices(spaceId: SpaceId, count: number, taken: readonly SyntheticVoice[] = []): SyntheticVoice[] {
		const used = new Set([...taken, ...[...this.#running.values()].filter((r) => r.spaceId === spaceId).map((r) => r.voice)]);
		const order = [...defaultVoices.filter((v) => !used.has(v)), ...defaultVoices.filter((v) => used.has(v))];
		return Array.from({ length: count }, (_, i) => order[i % order.length]!);
	}

	/** Stops every synthetic speaker. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#off();
		for (const id of [...this.#running.keys()]) this.#stop(id);
	}

	async #startOn(stage: Stage, running: Running): Promise<void> {
		const space = await this.#service.getSpace(running.spaceId);
		stage.getPeer(running.participant.id)?.close();
		const peer = stage.addPeer(running.participant.id, publishGrantsFor('speaker', space.settings));
		running.speaker = await SyntheticSpeaker.start(
			peer,
			{ audio: { file: running.wav, ...(running.alignTo !== undefined && { alignTo: running.alignTo }) }, video: running.video, listenIp: '127.0.0.1' },
			this.#logger,
		);
		if (!this.#running.has(running.participant.id)) running.speaker.close();
	}

	#stop(id: ParticipantId): void {
		const running = this.#running.get(id);
		if (!running) return;
		this.#running.delete(id);
		running.speaker?.close();
		fs.rm(running.wav, { force: true }, () => {});
	}
}
