import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import pino from 'pino';
import { EmbeddedRedis } from '../../api/src/launcher/EmbeddedRedis.js';

/** Starts a private redis-server for the integration tests (unless REDIS_URL is set) and stops it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	if (process.env.REDIS_URL) {
		project.provide('redisUrl', process.env.REDIS_URL);
		return async () => {};
	}
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-test-redis-'));
	const redis = await EmbeddedRedis.start({ dir, logger: pino({ level: 'warn' }) });
	project.provide('redisUrl', redis.url);
	return async () => {
		await redis.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	};
}
