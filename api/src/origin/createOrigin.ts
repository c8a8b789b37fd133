import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { connectRedis } from '@tribune/transcoder';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { createOriginHandler, createOriginRouter } from './createOriginRouter.js';
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

export interface Origin {
	/** For the Express app at `/hls`: the requests {@link Origin.serveHls} leaves to it. */
	router: Router;
	/**
	 * For the HTTP server's request listener, ahead of Express: answers a request whose target starts with `/hls/`
	 * and returns true, else returns false without touching it (the listener hands it to the Express app).
	 */
	serveHls: (req: IncomingMessage, res: ServerResponse) => boolean;
	store: OriginStore;
	close: () => void;
}

/** The API node's LL-HLS origin: its own Redis connections (one is given over to pub/sub), store and handlers. */
export function createOrigin(setup: OriginSetup): Origin {
	const logger = setup.logger.child({ module: 'origin' });
	const subscriber = connectRedis(setup.redisUrl, 'tribune-origin-sub');
	const client = connectRedis(setup.redisUrl, 'tribune-origin');
	for (const connection of [subscriber, client]) connection.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
	const store = new OriginStore({ feed: new RedisHlsFeed(subscriber, client, setup.redisPrefix), windowSegments: setup.windowSegments, logger });
	const deps = { store, hlsRoot: path.join(setup.dataDir, 'hls'), logger };
	const router = createOriginRouter(deps);
	const handle = createOriginHandler(deps);
	// Only the exact lower-case prefix: anything Express would also match (`/HLS/`, `/hls` alone, absolute-form
	// targets) goes through the router, with the same handler, so every request gets the same answer either way.
	const serveHls = (req: IncomingMessage, res: ServerResponse): boolean => {
		const url = req.url;
		if (url === undefined || !url.startsWith('/hls/')) return false;
		handle(req, res, url.slice(4));
		return true;
	};
	const close = (): void => {
		store.close();
		subscriber.disconnect();
		client.disconnect();
	};
	return { router, serveHls, store, close };
}
