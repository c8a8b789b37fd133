import path from 'node:path';
import { connectRedis } from '@tribune/transcoder';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { createOriginRouter } from './createOriginRouter.js';
import { RedisHlsFeed } from './HlsFeed.js';
import { OriginStore } from './OriginStore.js';

export interface OriginSetup {
	redisUrl: string;
	redisPrefix: string;
	/** TRIBUNE_DATA_DIR; the replay store is its `hls/` directory. */
	dataDir: string;
	windowSegments: number;
	logger: Logger;
}

/** The API node's LL-HLS origin: its own Redis connections (one is given over to pub/sub), store and router. */
export function createOrigin(setup: OriginSetup): { router: Router; store: OriginStore; close: () => void } {
	const logger = setup.logger.child({ module: 'origin' });
	const subscriber = connectRedis(setup.redisUrl, 'tribune-origin-sub');
	const client = connectRedis(setup.redisUrl, 'tribune-origin');
	for (const connection of [subscriber, client]) connection.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
	const store = new OriginStore({ feed: new RedisHlsFeed(subscriber, client, setup.redisPrefix), windowSegments: setup.windowSegments, logger });
	const router = createOriginRouter({ store, hlsRoot: path.join(setup.dataDir, 'hls'), logger });
	const close = (): void => {
		store.close();
		subscriber.disconnect();
		client.disconnect();
	};
	return { router, store, close };
}
