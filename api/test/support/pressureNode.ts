import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { loadIngestConfig, WorkerPool } from '@tribune/ingest';
import { BroadcastQueue, connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { BroadcastCoordinator } from '../../src/broadcast/BroadcastCoordinator.js';
import { createApp } from '../../src/createApp.js';
import { createApiMetrics } from '../../src/metrics.js';
import { createOrigin } from '../../src/origin/createOrigin.js';
import { createSpaces, type Spaces } from '../../src/spaces/createSpaces.js';
import { StageLinkServer } from '../../src/stageLink/StageLinkServer.js';
import { testSpaceLimits } from './startTestNode.js';

const root = path.resolve(import.meta.dirname, '../../..');
const transcoderMain = path.join(root, 'transcoder/dist/main.js');
/** The prefix a transcoder process uses (transcoder/src/main.ts): the bench's Redis is its own. */
const redisPrefix = 'tribune';

/**
 * Tribune as `npm start` runs it, for the pressure bench, with the API node in this process so the bench can put
 * speakers with pre-encoded media on its stages (api/src/main.ts's wiring: spaces, stage link, broadcast queue and
 * coordinator, origin, the built player) and one compiled transcoder process (`transcoder/dist/main.js`: build first)
 * on the same Redis and data directory. Loopback only.
 */
export interface PressureNode {
	baseUrl: string;
	spaces: Spaces;
	dataDir: string;
	hlsRoot: string;
	/** The transcoder process. */
	transcoder: ChildProcess;
	/** The transcoder's log (last 500,000 characters). */
	transcoderLog(): string;
	close(): Promise<void>;
}

/** `logFile`: where the transcoder's whole log goes too. */
export async function startPressureNode(redisUrl: string, dataDir: string, logFile?: string): Promise<PressureNode> {
	if (!fs.existsSync(transcoderMain)) throw new Error(`${transcoderMain} is missing: run npm run build`);
	const logger = pino({ level: process.env.TRIBUNE_BENCH_LOG_LEVEL ?? 'silent' });
	const redis: Redis = connectRedis(redisUrl, 'pressure-api');
	const ingest = loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' });
	const workers = await WorkerPool.create(ingest, logger);
	const tokenKey = new TextEncoder().encode(randomUUID() + randomUUID());
	const spaces = createSpaces({
		redis, redisPrefix, tokenKey, tokenTtlS: 3600, openHosting: true, spaceLimits: testSpaceLimits, maxSpeakersLimit: 25, workers, ingest, logger,
	});
	const link = await StageLinkServer.start({ redis, prefix: redisPrefix, node: 'pressure-node', host: { routerFor: (id) => spaces.stages.get(id)?.router }, logger });
	const queue = new BroadcastQueue(redis, redisPrefix);
	const coordinator = new BroadcastCoordinator({ service: spaces.service, store: spaces.store, stages: spaces.stages, link, queue, logger });
	const origin = createOrigin({ redisUrl, redisPrefix, dataDir, windowSegments: 60, logger });
	const app = createApp({
		logger, metrics: createApiMetrics(), playerDir: path.join(root, 'player/dist'),
		health: async () => ({ ok: true, redis: 'up', mediasoupWorkers: 1, transcoders: 1 }),
		spaces: { service: spaces.service, synthetic: spaces.synthetic },
		broadcastStatus: { service: spaces.service, queue },
		captions: { service: spaces.service, tokens: spaces.captions.tokens, pushes: spaces.captions.pushes, hlsRoot: path.join(dataDir, 'hls') },
		origin: origin.router,
	});
	const server = http.createServer((req, res) => {
		if (!origin.serveHls(req, res)) app(req, res);
	});
	spaces.signaling.attach(server);
	spaces.captions.socket.attach(server);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

	const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, TRIBUNE_DATA_DIR: dataDir, LOG_LEVEL: process.env.TRIBUNE_BENCH_TRANSCODER_LOG_LEVEL ?? 'info' };
	// IPC: the transcoder stops when this process goes (transcoder/src/main.ts, 'disconnect').
	const transcoder = spawn(process.execPath, [transcoderMain], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
	let log = '';
	const file = logFile ? fs.createWriteStream(logFile) : undefined;
	const keep = (chunk: Buffer): void => {
		file?.write(chunk);
		log = (log + chunk.toString()).slice(-500_000);
	};
	transcoder.stdout!.on('data', keep);
	transcoder.stderr!.on('data', keep);
	const ready = Date.now() + 30_000;
	while (!log.includes('transcoder ready')) {
		if (transcoder.exitCode !== null || Date.now() > ready) throw new Error(`the transcoder did not start\n${log.slice(-3000)}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}

	let closed: Promise<void> | undefined;
	return {
		baseUrl,
		spaces,
		dataDir,
		hlsRoot: path.join(dataDir, 'hls'),
		transcoder,
		transcoderLog: () => log,
		close() {
			closed ??= (async () => {
				if (transcoder.exitCode === null) {
					const exited = new Promise((resolve) => transcoder.once('exit', resolve));
					transcoder.kill('SIGTERM');
					const timer = setTimeout(() => transcoder.kill('SIGKILL'), 10_000);
					await exited;
					clearTimeout(timer);
				}
				coordinator.close();
				link.close();
				await queue.close();
				spaces.close();
				origin.close();
				server.closeAllConnections();
				await new Promise<void>((resolve) => server.close(() => resolve()));
				workers.close();
				redis.disconnect();
				file?.end();
			})();
			return closed;
		},
	};
}
