import type { Logger } from 'pino';
import { isOnStage, type Participant, type Role, type Space, type SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import type { WebhookQueue } from './WebhookQueue.js';
import type { WebhookEventData, WebhookEventType, WebhookRoleChange, WebhookSpace } from './webhookEvent.js';

export interface WebhookNotifierOptions {
	service: SpaceService;
	queue: Pick<WebhookQueue, 'send'>;
	logger: Logger;
}

/**
 * Turns this node's space events into webhooks: a space going live or ending (by its host, the operator, or by
 * itself), and a participant moving between the audience and the stage. SpaceService announces a change on the
 * node that made it only, so each is queued once; space events also carry a key, should two nodes ever report one.
 */
export class WebhookNotifier {
	readonly #options: WebhookNotifierOptions;

	constructor(options: WebhookNotifierOptions) {
		this.#options = options;
		options.service.on('spaceState', ({ space }) => this.#onSpaceState(space));
		options.service.on('roleChanged', ({ spaceId, participant, previousRole }) => this.#onRoleChanged(spaceId, participant, previousRole));
	}

	#onSpaceState(space: Space): void {
		if (space.state === 'live') this.#send('space.started', webhookSpace(space), `space.started:${space.id}`, space.id);
		else if (space.state === 'ended') this.#send('space.ended', webhookSpace(space), `space.ended:${space.id}`, space.id);
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
		this.#send(promoted ? 'participant.promoted' : 'participant.demoted', data, undefined, spaceId);
	}

	#send<T extends WebhookEventType>(type: T, data: WebhookEventData[T], key: string | undefined, spaceId: string): void {
		const { queue, logger } = this.#options;
		// The change is made; a webhook that could not be queued (Redis away) is logged, and the change stands.
		queue.send(type, data, key === undefined ? {} : { key }).then(
			(event) => logger.debug({ spaceId, type, eventId: event.id }, 'webhook queued'),
			(error: unknown) => logger.error({ err: error, spaceId, type }, 'webhook not queued'),
		);
	}
}

/** A space as webhooks describe it. */
export function webhookSpace(space: Space): WebhookSpace {
	const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
	return { spaceId: space.id, title: space.title, owner: space.owner, startedAt: iso(space.startedAt), endedAt: iso(space.endedAt) };
}
