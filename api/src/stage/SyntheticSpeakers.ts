import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SyntheticSpeaker, type Stage, type StageRegistry, type SyntheticSpeakerOptions } from '@tribune/ingest';
import type { Logger } from 'pino';
import { TribuneError } from '../errors.js';
import type { Participant, ParticipantId, SpaceId } from '../spaces/Space.js';
import type { Actor, SpaceService, SpaceServiceEvents } from '../spaces/SpaceService.js';
import { publishGrantsFor } from './publishGrantsFor.js';

const execFileAsync = promisify(execFile);

type Camera = NonNullable<SyntheticSpeakerOptions['video']>;

/** The synthetic camera: VP8 at 640×360, 24 fps. */
const camera = { codec: 'VP8', width: 640, height: 360, fps: 24 } as const;

type Listener<K extends keyof SpaceServiceEvents> = (...args: SpaceServiceEvents[K]) => void;

export interface SyntheticSpeakerRequest {
	displayName: string;
	/** What the speaker says (espeak-ng), looped. */
	text: string;
	/** Send a camera too (spaces with video on). */
	video: boolean;
	/** With `video`: the camera shows this one solid colour (`#rrggbb`) instead of the moving test pattern. */
	colour?: string | undefined;
}

interface Running {
	spaceId: SpaceId;
	participant: Participant;
	wav: string;
	video: Camera | undefined;
	speaker: SyntheticSpeaker | undefined;
}

/**
 * Synthetic speakers on this node: each is a participant on stage whose voice is espeak-ng speech sent by ffmpeg
 * into the space's stage. They follow the space's rules like anyone on stage: muted, demoted, removed or ended, they
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
		if (this.#closed) throw new TribuneError('unavailable', 'shutting down');
		const space = await this.#service.getSpace(actor.spaceId);
		if (space.state !== 'live') throw new TribuneError('conflict', 'the space is not live');
		if (request.video && !space.settings.video) throw new TribuneError('forbidden', 'this space has video off');
		if (request.colour !== undefined && !request.video) throw new TribuneError('bad_request', 'a colour needs video: true');
		const video = request.video ? { ...camera, pattern: request.colour === undefined ? 'testsrc2' as const : { colour: request.colour } } : undefined;
		const participant = await this.#service.addSyntheticSpeaker(actor, request.displayName);
		const running: Running = { spaceId: actor.spaceId, participant, wav: path.join(this.#dir, `${participant.id}.wav`), video, speaker: undefined };
		this.#running.set(participant.id, running);
		try {
			fs.mkdirSync(this.#dir, { recursive: true });
			// Text goes to espeak-ng as one argv entry: no shell, no interpolation.
			await execFileAsync('espeak-ng', ['-s', '165', '-w', running.wav, '--', request.text], { timeout: 30_000 });
			await this.#startOn(await this.#stages.open(actor.spaceId), running);
		} catch (error) {
			this.#stop(participant.id);
			throw error;
		}
		return participant;
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
			{ audio: { file: running.wav }, video: running.video, listenIp: '127.0.0.1' },
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
