import { Counter, type Registry } from 'prom-client';

/** Why an event was dropped before it was queued: the backlog was full, or Redis refused every try. */
export type WebhookDropReason = 'backlog_full' | 'not_queued';

/** What counts dropped webhook events (a prom-client `Counter` with a `reason` label). */
export interface WebhookDropCounter {
	inc(labels: { reason: WebhookDropReason }): void;
}

/** `tribune_webhook_events_dropped_total{reason}`, registered in `registry` (none: counted, not exported). */
export function webhookDropCounter(registry?: Registry): Counter<'reason'> {
	return new Counter({
		name: 'tribune_webhook_events_dropped_total',
		help: 'Webhook events dropped before they were queued (reason: backlog_full, not_queued)',
		labelNames: ['reason'],
		registers: registry ? [registry] : [],
	});
}
