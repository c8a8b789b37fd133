import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BroadcastQueue, BroadcastWorker, connectRedis, type BroadcastJobData } from '@tribune/transcoder';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/createApp.js';
import { createApiMetrics } from '../src/metrics.js';
import { asSpaceId } from '../src/spaces/Space.js';
import { startBroadcastRig, type BroadcastRig } from './support/broadcastRig.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

const logger = pino({ level: 'silent' });
let redis: Redis;

beforeAll(() => {
	redis = connectRedis(inject('redisUrl'), 'test-scheduling');
});

afterAll(() => {
	redis?.disconnect();
});

/** A broadcast job's data for a space of `owner`. */
const job = (spaceId: string, owner: string): BroadcastJobData => ({ spaceId, composite: false, recording: false, requestedAt: Date.now(), owner });

/**
 * A transcoder taking one broadcast at a time; each "broadcast" runs until its space is stopped. `taken` lists the
 * spaces in the order the worker took them.
 */
async function startTranscoder(prefix: string): Promise<{ worker: BroadcastWorker; taken: string[] }> {
	const taken: string[] = [];
	const worker = await BroadcastWorker.start({
		redis,
		prefix,
		concurrency: 1,
		logger,
		run: async (data, { signal }) => {
			taken.push(data.spaceId);
			await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
		},
	});
	return { worker, taken };
}

/** Each waiting space's position, in the order given. */
const positions = async (queue: BroadcastQueue, ids: string[]) => Promise.all(ids.map(async (id) => (await queue.state(id)).position));

/** The BullMQ priority of a space's broadcast job. */
async function priorityOf(prefix: string, spaceId: string): Promise<number | undefined> {
	const jobs = new Queue<BroadcastJobData>('broadcast', { connection: redis.duplicate(), prefix });
	try {
		return (await jobs.getJob(`broadcast-${spaceId}`))?.priority;
	} finally {
		await jobs.close();
	}
}

/** A transcoder that takes one broadcast job when told to, and finishes it when told to (BullMQ's manual processing). */
function manualTranscoder(prefix: string): { token: string; take(): Promise<Job<BroadcastJobData> | undefined>; close(): Promise<void> } {
	const worker = new Worker<BroadcastJobData>('broadcast', null, { connection: redis.duplicate(), prefix });
	const token = randomUUID();
	return {
		token,
		take: async () => (await worker.getNextJob(token, { block: false })) ?? undefined,
		close: () => worker.close(true),
	};
}

describe('broadcast scheduling', () => {
	it('puts an owner’s further broadcasts behind other owners’ first ones, and says each waiting job’s position', async () => {
		const prefix = `test-${randomUUID()}`;
		const queue = new BroadcastQueue(redis, prefix);
		let transcoder: Awaited<ReturnType<typeof startTranscoder>> | undefined;
		try {
			// No transcoder yet: a busy owner queues three broadcasts, then another owner one.
			for (const id of ['a1', 'a2', 'a3']) expect(await queue.start(job(id, 'op:busy'))).toBe(true);
			expect(await queue.start(job('b1', 'op:other'))).toBe(true);
			expect(await queue.state('b1')).toEqual({ state: 'waiting', position: 2 });
			expect(await positions(queue, ['a1', 'b1', 'a2', 'a3'])).toEqual([1, 2, 3, 4]);

			transcoder = await startTranscoder(prefix);
			const taken = transcoder.taken;
			await expect.poll(() => taken, { timeout: 10_000 }).toEqual(['a1']);
			await expect.poll(async () => (await queue.state('a1')).state, { timeout: 10_000 }).toBe('active');
			expect(await positions(queue, ['b1', 'a2', 'a3'])).toEqual([1, 2, 3]);

			// A third owner arrives while the busy one runs one broadcast and waits for two: it goes ahead of both.
			expect(await queue.start(job('c1', 'op:third'))).toBe(true);
			expect(await positions(queue, ['b1', 'c1', 'a2', 'a3'])).toEqual([1, 2, 3, 4]);

			// Each stop frees the transcoder for the next job in that order (first come first served: a2 before b1).
			for (const [i, id] of ['a1', 'b1', 'c1', 'a2', 'a3'].entries()) {
				await expect.poll(() => taken.length, { timeout: 10_000 }).toBe(i + 1);
				await queue.stop(id);
			}
			expect(taken).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
			await expect.poll(async () => (await queue.state('a3')).state, { timeout: 10_000 }).toBe('none');
		} finally {
			await transcoder?.worker.close();
			await queue.close();
		}
	});

	it('once an owner’s running broadcast is stopped, their next goes behind the firsts already waiting, ahead of those queued later', async () => {
		const prefix = `test-${randomUUID()}`;
		const queue = new BroadcastQueue(redis, prefix);
		const transcoder = manualTranscoder(prefix);
		try {
			await queue.start(job('a1', 'op:busy'));
			expect((await transcoder.take())?.id).toBe('broadcast-a1');
			await queue.start(job('a2', 'op:busy'));
			await queue.start(job('b1', 'op:other'));
			await queue.start(job('b2', 'op:other'));
			expect(await positions(queue, ['b1', 'a2', 'b2'])).toEqual([1, 2, 3]);

			// a1's space ends (its transcoder has not let go yet): a2 is the busy owner's first now. b1 waited while a1
			// ran, so it keeps its turn; c1, queued later, goes behind a2, and so does b2, other's second.
			await queue.stop('a1');
			expect(await priorityOf(prefix, 'a2')).toBe(1);
			await queue.start(job('c1', 'op:third'));
			expect(await positions(queue, ['b1', 'a2', 'c1', 'b2'])).toEqual([1, 2, 3, 4]);
			expect((await transcoder.take())?.id).toBe('broadcast-b1');
		} finally {
			await transcoder.close();
			await queue.close();
		}
	});

	it('moves an owner up when their broadcast completes or fails on a transcoder, without a stop', async () => {
		const prefix = `test-${randomUUID()}`;
		const queue = new BroadcastQueue(redis, prefix);
		await queue.rebalanceOnFinish();
		const transcoder = manualTranscoder(prefix);
		try {
			await queue.start(job('a1', 'op:busy'));
			const a1 = await transcoder.take();
			await queue.start(job('a2', 'op:busy'));
			await queue.start(job('b1', 'op:other'));
			expect(await positions(queue, ['b1', 'a2'])).toEqual([1, 2]);

			// a1 completes on its transcoder: a2 moves up then, so c1, queued afterwards, waits behind it.
			await a1!.moveToCompleted('done', transcoder.token, false);
			await expect.poll(() => priorityOf(prefix, 'a2'), { timeout: 10_000 }).toBe(1);
			await queue.start(job('c1', 'op:third'));
			expect(await positions(queue, ['b1', 'a2', 'c1'])).toEqual([1, 2, 3]);

			// b1 runs and fails for good: other's b2 moves up then, ahead of d1 queued afterwards.
			const b1 = await transcoder.take();
			expect(b1?.id).toBe('broadcast-b1');
			await queue.start(job('b2', 'op:other'));
			expect(await priorityOf(prefix, 'b2')).toBe(2);
			await b1!.moveToFailed(new UnrecoverableError('the encoder refused its options'), transcoder.token, false);
			await expect.poll(() => priorityOf(prefix, 'b2'), { timeout: 10_000 }).toBe(1);
			await queue.start(job('d1', 'op:fourth'));
			expect(await positions(queue, ['a2', 'c1', 'b2', 'd1'])).toEqual([1, 2, 3, 4]);
		} finally {
			await transcoder.close();
			await queue.close();
		}
	});

	it('a job without an owner waits its turn like an owner’s first; a stopped waiting job leaves the line', async () => {
		const prefix = `test-${randomUUID()}`;
		const queue = new BroadcastQueue(redis, prefix);
		try {
			await queue.start(job('x1', 'op:busy'));
			await queue.start(job('x2', 'op:busy'));
			await queue.start({ spaceId: 'y1', composite: false, recording: false, requestedAt: Date.now() });
			expect((await queue.state('y1')).position).toBe(2);
			await queue.stop('x1');
			expect(await queue.state('x1')).toEqual({ state: 'none' });
			expect((await queue.state('y1')).position).toBe(1);
			expect((await queue.state('x2')).position).toBe(2);
		} finally {
			await queue.close();
		}
	});
});

describe('GET /api/spaces/:id/broadcast', () => {
	let node: TestNode;
	let rig: BroadcastRig;
	let server: http.Server;
	let baseUrl: string;

	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'));
		rig = await startBroadcastRig(node, redis, 'node-scheduling');
		const health = async () => ({ ok: true, redis: 'up' as const, mediasoupWorkers: 1, transcoders: 0 });
		const app = createApp({ logger, metrics: createApiMetrics(), health, playerDir: '/nonexistent', broadcastStatus: { service: node.spaces.service, queue: rig.queue } });
		server = http.createServer(app);
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	afterAll(async () => {
		server?.closeAllConnections();
		server?.close();
		await rig?.close();
		await node?.close();
	});

	it('tells the host of a space waiting for a transcoder that it waits, and its position', async () => {
		const status = async (spaceId: string, token: string) => {
			const res = await fetch(`${baseUrl}/api/spaces/${spaceId}/broadcast`, { headers: { authorization: `Bearer ${token}` } });
			expect(res.status).toBe(200);
			return (await res.json()) as { state: string; position?: number };
		};
		const first = await createLiveSpace(node);
		const second = await createLiveSpace(node);
		await expect.poll(() => status(second.spaceId, second.hostToken), { timeout: 10_000 }).toEqual({ state: 'waiting', position: 2 });
		expect(await status(first.spaceId, first.hostToken)).toEqual({ state: 'waiting', position: 1 });
		// Both spaces were created anonymously (open hosting) from one address: each has an identity of its own, which
		// anyone can mint, so their broadcasts are scheduled by the creator's address tag: the second is its second.
		const jobs = new Queue<BroadcastJobData>('broadcast', { connection: redis.duplicate(), prefix: node.redisPrefix });
		try {
			const [one, two] = await Promise.all([first, second].map(({ spaceId }) => node.spaces.service.getSpace(asSpaceId(spaceId))));
			expect(one!.owner).toMatch(/^anon:/);
			expect(two!.owner).toMatch(/^anon:/);
			expect(one!.owner).not.toBe(two!.owner);
			const host = await node.spaces.store.getParticipant(two!.id, two!.hostId);
			expect(host?.addr).toMatch(/^[A-Za-z0-9_-]{16}$/);
			const secondJob = await jobs.getJob(`broadcast-${second.spaceId}`);
			expect(secondJob?.data.owner).toBe(`addr:${host!.addr}`);
			expect((await jobs.getJob(`broadcast-${first.spaceId}`))?.data.owner).toBe(`addr:${host!.addr}`);
			expect(secondJob?.priority).toBe(2);
		} finally {
			await jobs.close();
		}
		await rig.queue.stop(first.spaceId);
		expect(await status(second.spaceId, second.hostToken)).toEqual({ state: 'waiting', position: 1 });
	});
});
