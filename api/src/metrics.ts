import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { webhookDropCounter } from './webhooks/webhookDrops.js';

/** The API process's Prometheus registry: Node's default process metrics plus Tribune's own. */
export interface ApiMetrics {
	registry: Registry;
	mediasoupWorkers: Gauge;
	transcoders: Gauge;
	/** Connections refused by the per-address cap (http/ConnectionPolicy). */
	connectionsRefused: Counter;
	/** Webhook events dropped before they were queued, by reason (webhooks/WebhookNotifier). */
	webhookEventsDropped: Counter<'reason'>;
}

export function createApiMetrics(): ApiMetrics {
	const registry = new Registry();
	collectDefaultMetrics({ register: registry, prefix: 'tribune_api_' });
	return {
		registry,
		mediasoupWorkers: new Gauge({ name: 'tribune_mediasoup_workers', help: 'mediasoup worker processes running in this node', registers: [registry] }),
		transcoders: new Gauge({ name: 'tribune_transcoders', help: 'Transcoder processes alive on the shared Redis', registers: [registry] }),
		connectionsRefused: new Counter({ name: 'tribune_http_connections_refused_total', help: 'Connections refused: too many from one client address', registers: [registry] }),
		webhookEventsDropped: webhookDropCounter(registry),
	};
}
