import { BroadcastQueue, StageLinkClient } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { BroadcastCoordinator } from '../../src/broadcast/BroadcastCoordinator.js';
import { StageLinkServer } from '../../src/stageLink/StageLinkServer.js';
import { type TestNode } from './startTestNode.js';

/** The api's broadcast side on a test node, without a transcoder: the queue, the stage link and its coordinator. */
export interface BroadcastRig {
	queue: BroadcastQueue;
	link: StageLinkServer;
	/** What a transcoder would read: stage snapshots and their changes. */
	client: StageLinkClient;
	coordinator: BroadcastCoordinator;
	close(): Promise<void>;
}

/** `nodeName`: the stage link's node name, distinct per test file. */
export async function startBroadcastRig(node: TestNode, redis: Redis, nodeName: string): Promise<BroadcastRig> {
	const logger = pino({ level: 'silent' });
	const queue = new BroadcastQueue(redis, node.redisPrefix);
	const link = await StageLinkServer.start({ redis, prefix: node.redisPrefix, node: nodeName, host: { routerFor: (id) => node.spaces.stages.get(id)?.router }, logger });
	const client = await StageLinkClient.create(redis, node.redisPrefix);
	const coordinator = new BroadcastCoordinator({ service: node.spaces.service, store: node.spaces.store, stages: node.spaces.stages, link, queue, logger, coalesceMs: 20 });
	return {
		queue,
		link,
		client,
		coordinator,
		async close() {
			coordinator.close();
			await client.close();
			link.close();
			await queue.close();
		},
	};
}
