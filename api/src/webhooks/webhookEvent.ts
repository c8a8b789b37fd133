import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

/** BullMQ queue that carries one job per webhook event: "deliver this to the operator's receiver". */
export const webhookQueueName = 'webhook';

export const webhookEventTypes = ['space.started', 'space.ended', 'participant.promoted', 'participant.demoted', 'participant.removed', 'recording.ready'] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** A space as events describe it. Times are ISO 8601; `owner` is the identity that created the space. */
export interface WebhookSpace {
	spaceId: string;
	title: string;
	owner: string;
	startedAt: string | null;
	endedAt: string | null;
}

/** A participant whose role changed between the stage and the audience. */
export interface WebhookRoleChange {
	spaceId: string;
	participantId: string;
	/** Who they are across spaces: `op:<sub>`, `host:<id>`, `anon:<id>` or `synthetic:<id>`. */
	identity: string;
	displayName: string;
	role: string;
	previousRole: string;
}

/** Someone removed from a space's stage (banned or not) by a moderator or the operator. */
export interface WebhookRemoval {
	spaceId: string;
	participantId: string;
	identity: string;
	/** Their role when removed: `host`, `cohost` or `speaker`. */
	role: string;
	/** Their identity may not come back to this space. */
	banned: boolean;
}

/** A recorded space's MP4 export is ready: `path` on this server (`GET` it from any API node that has the replay). */
export interface WebhookRecording {
	spaceId: string;
	title?: string;
	path: string;
	bytes?: number;
	durationS?: number;
}

/** What each event's `data` carries: ids, names and times as JSON values, nothing else. */
export interface WebhookEventData {
	'space.started': WebhookSpace;
	'space.ended': WebhookSpace;
	'participant.promoted': WebhookRoleChange;
	'participant.demoted': WebhookRoleChange;
	'participant.removed': WebhookRemoval;
	'recording.ready': WebhookRecording;
}

/** The body a receiver gets, as JSON. `id` is the same on every retry of one event. */
export interface WebhookEvent<T extends WebhookEventType = WebhookEventType> {
	id: string;
	type: T;
	/** When the event happened, ISO 8601. */
	createdAt: string;
	data: WebhookEventData[T];
}

const eventIdPattern = /^evt_[A-Za-z0-9_-]{22}$/;

/**
 * An event's id: `evt_` and 22 base64url characters. With a `key` (what the event is about, e.g.
 * `space.ended:<spaceId>`) it is derived from it, so every node that reports the same event queues the same id and
 * the receiver gets it once; without one it is random.
 */
export function webhookEventId(key?: string): string {
	const bytes = key === undefined ? randomBytes(16) : createHash('sha256').update(key).digest().subarray(0, 16);
	return `evt_${bytes.toString('base64url')}`;
}

/** The BullMQ job id of an event's delivery. */
export function webhookJobId(eventId: string): string {
	if (!eventIdPattern.test(eventId)) throw new Error('not a webhook event id');
	return `webhook-${eventId}`;
}

/** Largest body a webhook carries (names and titles are bounded well below it). */
export const webhookMaxBodyBytes = 16 * 1024;

/** A webhook job's data, validated when it is queued and again by the worker that delivers it. */
export const webhookJobDataSchema = z
	.object({
		id: z.string().regex(eventIdPattern),
		type: z.enum(webhookEventTypes),
		/** The exact JSON body sent on every attempt (the signature covers it). */
		body: z.string().min(2).max(webhookMaxBodyBytes),
	})
	.strict();

export type WebhookJobData = z.output<typeof webhookJobDataSchema>;
