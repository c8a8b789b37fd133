import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BroadcastQueue, broadcastQueueName, BroadcastWorker, connectRedis, type BroadcastJobData, type BroadcastRunner } from '../src/index.js';

const logger = pino({ level: 'silent' });
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0).reverse()) await close();
});

function setup(): { redis: Redis; prefix: string; queue: BroadcastQueue } {
	const redis = connectRedis(inject('redisUrl'), 'test');
	const prefix = `test-${randomUUID()}`;
	const queue = new BroadcastQueue(redis, prefix);
	closers.push(() => redis.disconnect(), () => queue.close());
	return { redis, prefix, queue };
}

const job = (spaceId: string): BroadcastJobData => ({ spaceId, composite: false, recording: false, requestedAt: Date.now() });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const value = await probe();
		if (value !== undefined) return value;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A runner that reports progress until its space ends, recording what it saw. */
function liveRunner(seen: { started: string[]; aborted: string[] }): BroadcastRunner {
	return async (data, { signal, reportProgress }) => {
		seen.started.push(data.spaceId);
		await reportProgress({ state: 'live', speakers: 2, restarts: 0 });
		await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
		seen.aborted.push(data.spaceId);
	};
}

describe('BroadcastQueue and BroadcastWorker', () => {
	it('queues one job per space however often the space is started', async () => {
		const { queue } = setup();
		expect(await queue.start(job('space-1'))).toBe(true);
		expect(await queue.start(job('space-1'))).toBe(false);
		await Promise.all([queue.start(job('space-2')), queue.start(job('space-2')), queue.start(job('space-2'))]);
		expect((await queue.state('space-1')).state).toBe('waiting');
		expect((await queue.state('space-2')).state).toBe('waiting');
		expect((await queue.state('space-3')).state).toBe('none');
	});

	it('rejects invalid job data before it reaches Redis', async () => {
		const { queue } = setup();
		await expect(queue.start({ ...job('x'), spaceId: '../../etc' })).rejects.toThrow(/spaceId/);
		await expect(queue.start({ ...job('x'), extra: 1 } as BroadcastJobData)).rejects.toThrow();
	});

	it('runs a job until its space ends, reporting progress, then lets the space go live again', async () => {
		const { redis, prefix, queue } = setup();
		const seen = { started: [] as string[], aborted: [] as string[] };
		const worker = await BroadcastWorker.start({ redis, prefix, concurrency: 2, run: liveRunner(seen), logger });
		closers.push(() => worker.close());

		await queue.start(job('space-live'));
		const progress = await until('progress', async () => (await queue.state('space-live')).progress);
		expect(progress).toMatchObject({ transcoder: worker.id, state: 'live', speakers: 2, restarts: 0 });
		expect((await queue.state('space-live')).state).toBe('active');

		await queue.stop('space-live');
		await until('the job to end', async () => ((await queue.state('space-live')).state === 'none' ? true : undefined));
		expect(seen).toEqual({ started: ['space-live'], aborted: ['space-live'] });

		expect(await queue.start(job('space-live'))).toBe(true);
		await until('the second run', async () => (seen.started.length === 2 ? true : undefined));
	});

	it('never runs a broadcast whose space ended before a worker took it', async () => {
		const { redis, prefix, queue } = setup();
		await queue.start(job('space-short'));
		await queue.stop('space-short');
		const seen = { started: [] as string[], aborted: [] as string[] };
		const worker = await BroadcastWorker.start({ redis, prefix, concurrency: 1, run: liveRunner(seen), logger });
		closers.push(() => worker.close());
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(seen.started).toEqual([]);
		expect((await queue.state('space-short')).state).toBe('none');
	});

	it('fails a job with invalid data once, without retries', async () => {
		const { redis, prefix } = setup();
		const raw = new Queue(broadcastQueueName, { connection: redis.duplicate(), prefix });
		closers.push(() => raw.close());
		const seen = { started: [] as string[], aborted: [] as string[] };
		const worker = await BroadcastWorker.start({ redis, prefix, concurrency: 1, run: liveRunner(seen), logger });
		closers.push(() => worker.close());
		const bad = await raw.add('broadcast', { spaceId: 'x y', composite: 'yes' }, { attempts: 5 });
		await until('the job to fail', async () => ((await bad.getState()) === 'failed' ? true : undefined));
		const failed = await raw.getJob(bad.id!);
		expect(failed!.attemptsMade).toBe(1);
		expect(failed!.failedReason).toMatch(/invalid broadcast job data/);
		expect(seen.started).toEqual([]);
	});

	// How fast the takeover is, is measured by a benchmark; here it must happen, within a generous bound.
	it('moves a broadcast to another transcoder when its worker is killed with -9', async () => {
		const { prefix, queue } = setup();
		const fixture = path.join(import.meta.dirname, 'fixtures/broadcastWorkerProcess.mjs');
		const children: ChildProcess[] = [];
		for (let i = 0; i < 2; i++) {
			const child = spawn(process.execPath, [fixture, inject('redisUrl'), prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
			children.push(child);
			closers.push(() => void child.kill('SIGKILL'));
			await new Promise<void>((resolve, reject) => {
				child.stdout!.once('data', () => resolve());
				child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
			});
		}
		await queue.start(job('space-failover'));
		const first = await until('a transcoder to take the job', async () => (await queue.state('space-failover')).progress?.transcoder);
		const victim = children.find((c) => first.endsWith(`-${c.pid}`))!;
		victim.kill('SIGKILL');
		const second = await until('another transcoder to take over', async () => {
			const now = (await queue.state('space-failover')).progress?.transcoder;
			return now && now !== first ? now : undefined;
		}, 20_000);
		const survivor = children.find((c) => c !== victim)!;
		expect(second.endsWith(`-${survivor.pid}`)).toBe(true);
	});
});
