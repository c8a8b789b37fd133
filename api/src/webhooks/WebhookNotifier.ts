import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isOnStage, type Participant, type Role, type Space, type SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import type { WebhookDropCounter } from './webhookDrops.js';
import { WebhookBacklogFullError, type WebhookQueue } from './WebhookQueue.js';
import type { WebhookEventData, WebhookEventType, WebhookRemoval, WebhookRoleChange, WebhookSpace } from './webhookEvent.js';

export interface WebhookEnqueueRetry {
	/** Tries to queue one event, the first included. Default 6. */
	attempts?: number;
	/** Wait before the second try, ms, doubling after each. Default 500: with 6 tries, 15.5 s in all. */
	backoffMs?: number;
}

export interface WebhookNotifierOptions {
	service: SpaceService;
	queue: Pick<WebhookQueue, 'send'>;
	logger: Logger;
	/** Counts events dropped before they were queued. */
	dropped: WebhookDropCounter;
	enqueue?: WebhookEnqueueRetry;
}

/**
 * Turns this node's space events into webhooks: a space going live or ending (by its host, the operator, or by
 * itself), a participant moving between the audience and the stage, and a participant removed (banned or not).
 * SpaceService announces a change on the node that made it only, so each is queued once; space events also carry a
 * key, should two nodes ever report one. The change is made before its event is queued: an event that cannot be
 * queued (Redis away) is tried again with the same key and time, so it is one job however many tries reach Redis,
 * and after `enqueue.attempts` tries it is dropped, logged and counted, as is one refused for a full backlog.
 */
export class WebhookNotifier {
	readonly #options: WebhookNotifierOptions;
	readonly #attempts: number;
	readonly #backoffMs: number;

	constructor(options: WebhookNotifierOptions) {
		this.#options = options;
		this.#attempts = Math.max(1, options.enqueue?.attempts ?? 6);
		this.#backoffMs = options.enqueue?.backoffMs ?? 500;
		options.service.on('spaceState', ({ space }) => this.#onSpaceState(space));
		options.service.on('roleChanged', ({ spaceId, participant, previousRole }) => this.#onRoleChanged(spaceId, participant, previousRole));
		options.service.on('participantRemoved', ({ spaceId, participant, banned }) => this.#onRemoved(spaceId, participant, banned));
	}

	#onSpaceState(space: Space): void {
		if (space.state === 'live') void this.#send('space.started', webhookSpace(space), `space.started:${space.id}`, space.id);
		else if (space.state === 'ended') void this.#send('space.ended', webhookSpace(space), `space.ended:${space.id}`, space.id);
	}

	#onRoleChanged(spaceId: SpaceId, participant: Participant, previousRole: Role): void {
		const promoted = !isOnStage(previousRole) && isOnStage(participant.role);
		const demoted = isOnStage(previousRole) && !isOnStage(participant.role);
		if (!promoted && !demoted) return;
		const data: WebhookRoleChange = {
			spaceId,
			participantId: participant.id,
			identity: participant.identity,
			displayName: participant.displayName,
			role: participant.role,
			previousRole,
		};
		const type = promoted ? 'participant.promoted' : 'participant.demoted';
		void this.#send(type, data, `${type}:${spaceId}:${participant.id}:${randomUUID()}`, spaceId);
	}

	/** Anyone removed, listeners included: removals are moderators' (or the operator's) actions, one event each. */
	#onRemoved(spaceId: SpaceId, participant: Participant, banned: boolean): void {
		const data: WebhookRemoval = { spaceId, participantId: participant.id, identity: participant.identity, role: participant.role, banned };
		void this.#send('participant.removed', data, `participant.removed:${spaceId}:${participant.id}:${randomUUID()}`, spaceId);
	}

	/** Queues an event, trying again while Redis refuses; never rejects. `key` keeps every try one event. */
	async #send<T extends WebhookEventType>(type: T, data: WebhookEventData[T], key: string, spaceId: string): Promise<void> {
		const { queue, logger, dropped } = this.#options;
		const at = Date.now();
		for (let attempt = 1; ; attempt++) {
			try {
				const event = await queue.send(type, data, { key, at });
				logger.debug({ spaceId, type, eventId: event.id, attempt }, 'webhook queued');
				return;
			} catch (error) {
				if (error instanceof WebhookBacklogFullError) {
					logger.error({ err: error, spaceId, type }, 'webhook dropped: too many wait for the receiver');
					dropped.inc({ reason: 'backlog_full' });
					return;
				}
				if (attempt >= this.#attempts) {
					logger.error({ err: error, spaceId, type, attempts: attempt }, 'webhook dropped: it could not be queued');
					dropped.inc({ reason: 'not_queued' });
					return;
				}
				logger.warn({ err: error, spaceId, type, attempt }, 'webhook not queued yet; trying again');
				await sleep(this.#backoffMs * 2 ** (attempt - 1));
			}
		}
	}
}

/** A space as webhooks describe it. */
export function webhookSpace(space: Space): WebhookSpace {
	const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
	return { spaceId: space.id, title: space.title, owner: space.owner, startedAt: iso(space.startedAt), endedAt: iso(space.endedAt) };
}
