import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** The API process's Prometheus registry: Node's default process metrics plus Tribune's own. */
export interface ApiMetrics {
	registry: Registry;
	mediasoupWorkers: Gauge;
	transcoders: Gauge;
}

export function createApiMetrics(): ApiMetrics {
	const registry = new Registry();
	collectDefaultMetrics({ register: registry, prefix: 'tribune_api_' });
	return {
		registry,
		mediasoupWorkers: new Gauge({ name: 'tribune_mediasoup_workers', help: 'mediasoup worker processes running in this node', registers: [registry] }),
		transcoders: new Gauge({ name: 'tribune_transcoders', help: 'Transcoder processes alive on the shared Redis', registers: [registry] }),
	};
}
