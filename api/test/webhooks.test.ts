import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectRedis, ExportQueue, ExportWorker } from '@tribune/transcoder';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asParticipantId, asSpaceId } from '../src/spaces/Space.js';
import { verifyWebhookSignature } from '../src/webhooks/signWebhook.js';
import { RecordingReadyWatcher } from '../src/webhooks/RecordingReadyWatcher.js';
import { startWebhooks, type Webhooks } from '../src/webhooks/startWebhooks.js';
import type { WebhookEvent } from '../src/webhooks/webhookEvent.js';
import { WebhookQueue } from '../src/webhooks/WebhookQueue.js';
import { WebhookWorker } from '../src/webhooks/WebhookWorker.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

const secret = `whsec-${randomUUID()}`;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** One request a receiver got. */
interface Received {
	path: string;
	headers: http.IncomingHttpHeaders;
	body: string;
}

/**
 * An operator's webhook receiver on 127.0.0.1: records every request, answers with `answer()` (default 200), and
 * verifies signatures as a receiver would.
 */
class Receiver {
	readonly requests: Received[] = [];
	answer: (request: Received) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
	#server: http.Server | undefined;

	static async start(port = 0): Promise<Receiver> {
		const receiver = new Receiver();
		await receiver.listen(port);
		return receiver;
	}

	get url(): URL {
		return new URL(`http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}/hooks/tribune`);
	}

	async listen(port: number): Promise<void> {
		this.#server = http.createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (chunk: Buffer) => chunks.push(chunk));
			req.on('end', () => {
				const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
				this.requests.push(request);
				const { status, headers } = this.answer(request);
				res.writeHead(status, headers).end('a reply the sender reads no further than it needs');
			});
		});
		await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
	}

	/** Accepted events (the receiver answered 2xx), parsed; each checked against its signature. */
	events(): WebhookEvent[] {
		return this.requests.map((r) => {
			expect(verifyWebhookSignature({ secret, signature: header(r, 'tribune-signature'), timestamp: header(r, 'tribune-webhook-timestamp'), body: r.body })).toBe(true);
			const event = JSON.parse(r.body) as WebhookEvent;
			expect(header(r, 'tribune-webhook-id')).toBe(event.id);
			return event;
		});
	}

	async close(): Promise<void> {
		const server = this.#server;
		if (!server) return;
		this.#server = undefined;
		server.closeAllConnections();
		await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}

const header = (r: Received, name: string): string | undefined => {
	const value = r.headers[name];
	return Array.isArray(value) ? value[0] : value;
};

let redis: Redis;

beforeAll(() => {
	redis = connectRedis(inject('redisUrl'), 'test-webhooks');
});

afterAll(() => {
	redis?.disconnect();
});

describe('webhooks from an API node', () => {
	let node: TestNode;
	let receiver: Receiver;
	let exportQueue: ExportQueue;
	let webhooks: Webhooks;

	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'));
		receiver = await Receiver.start();
		exportQueue = new ExportQueue(redis, node.redisPrefix);
		webhooks = await startWebhooks({ url: receiver.url, secret, redis, prefix: node.redisPrefix, service: node.spaces.service, exports: exportQueue, logger });
	});

	afterAll(async () => {
		await webhooks?.close();
		await exportQueue?.close();
		await receiver?.close();
		await node?.close();
	});

	it('sends space.started, participant.promoted, participant.demoted and space.ended, signed', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const service = node.spaces.service;
		const host = (await service.authenticate(hostToken)).actor;
		const listener = await joinSpace(node, spaceId, 'Lee "<b>Listener</b>" \\ 🎧');
		await service.raiseHand({ spaceId: asSpaceId(spaceId), participantId: asParticipantId(listener.participantId) });
		await service.approveHand(host, asParticipantId(listener.participantId));
		await service.demote(host, asParticipantId(listener.participantId));
		await service.end(host);

		// Deliveries run in parallel, so they may arrive in any order (`createdAt` says when each happened).
		const ofSpace = () => receiver.events().filter((e) => (e.data as { spaceId: string }).spaceId === spaceId);
		const order = ['space.started', 'participant.promoted', 'participant.demoted', 'space.ended'];
		await expect.poll(() => ofSpace().map((e) => e.type).sort(), { timeout: 10_000 }).toEqual([...order].sort());
		const [started, promoted, demoted, ended] = order.map((type) => ofSpace().find((e) => e.type === type));
		expect([started, promoted, demoted, ended].map((e) => Date.parse(e!.createdAt))).toEqual([started, promoted, demoted, ended].map((e) => Date.parse(e!.createdAt)).sort((a, b) => a - b));
		const { owner } = await service.getSpace(asSpaceId(spaceId));
		expect(started).toMatchObject({ type: 'space.started', data: { spaceId, title: 'Test space', owner, endedAt: null } });
		expect(Date.parse(started!.createdAt)).not.toBeNaN();
		expect(Date.parse((started!.data as { startedAt: string }).startedAt)).not.toBeNaN();
		// Names are data: the listener's, with its quotes, markup and backslash, arrives exactly as given.
		const identity = (await node.spaces.store.getParticipant(asSpaceId(spaceId), asParticipantId(listener.participantId)))?.identity;
		expect(identity).toMatch(/^anon:/);
		expect(promoted!.data).toMatchObject({ spaceId, participantId: listener.participantId, identity, displayName: 'Lee "<b>Listener</b>" \\ 🎧', role: 'speaker', previousRole: 'listener' });
		expect(demoted!.data).toMatchObject({ participantId: listener.participantId, role: 'listener', previousRole: 'speaker' });
		expect(ended!.data).toMatchObject({ spaceId });
		expect(Date.parse((ended!.data as { endedAt: string }).endedAt)).not.toBeNaN();
		expect(new Set(ofSpace().map((e) => e.id)).size).toBe(4);
		for (const r of receiver.requests) {
			expect(r.path).toBe('/hooks/tribune');
			expect(header(r, 'content-type')).toBe('application/json');
		}
	});

	it('sends recording.ready once when a replay’s MP4 export completes, however many API nodes watch the exports', async () => {
		const { spaceId } = await createLiveSpace(node);
		// A second API node's watcher on the same Redis; both see the transcoder's completion.
		const keys: string[] = [];
		const recording = (queue: WebhookQueue) => ({
			send: ((type, data, options) => {
				keys.push(options?.key ?? '');
				return queue.send(type, data, options);
			}) as WebhookQueue['send'],
		});
		const secondNode = await RecordingReadyWatcher.start({ redis, prefix: node.redisPrefix, exports: exportQueue, service: node.spaces.service, queue: recording(webhooks.queue), logger });
		const firstNode = await RecordingReadyWatcher.start({ redis, prefix: node.redisPrefix, exports: exportQueue, service: node.spaces.service, queue: recording(webhooks.queue), logger });
		// A transcoder's export worker; its runner stands in for ffmpeg (the export itself is tested in replayExport.test.ts).
		const transcoder = new ExportWorker({
			redis,
			prefix: node.redisPrefix,
			logger,
			run: async (_data, { reportProgress }) => {
				await reportProgress({ state: 'ready', percent: 100, rendition: 'audio', durationS: 12.5, bytes: 20_480 });
			},
		});
		try {
			expect(await exportQueue.request({ spaceId, requestedAt: Date.now() })).toBe(true);
			const ready = () => receiver.events().filter((e) => e.type === 'recording.ready' && (e.data as { spaceId: string }).spaceId === spaceId);
			await expect.poll(() => ready().length, { timeout: 10_000 }).toBe(1);
			await expect.poll(() => keys.length, { timeout: 10_000 }).toBe(2);
			expect(keys[0]).toBe(keys[1]);
			expect(ready()[0]!.data).toEqual({ spaceId, title: 'Test space', path: `/api/spaces/${spaceId}/replay.mp4`, bytes: 20_480, durationS: 12.5 });
			// Both reports are one job: it has been delivered, and no second delivery is queued.
			const counts = await webhookJobCounts(node.redisPrefix);
			expect(counts).toMatchObject({ waiting: 0, prioritized: 0, delayed: 0, active: 0 });
			expect(ready()).toHaveLength(1);
		} finally {
			await transcoder.close();
			await firstNode.close();
			await secondNode.close();
		}
	});
});

/** Job counts of the webhook queue under a prefix. */
async function webhookJobCounts(prefix: string): Promise<Record<string, number>> {
	const queue = new Queue('webhook', { connection: redis.duplicate(), prefix });
	try {
		return await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed');
	} finally {
		await queue.close();
	}
}

describe('webhook delivery', () => {
	it('reaches a receiver that refused connections, then failed and redirected, once it is back; never follows the redirect', async () => {
		const prefix = `test-${randomUUID()}`;
		// A port with nobody listening: connections are refused.
		const probe = await Receiver.start();
		const url = probe.url;
		await probe.close();

		// Retries 40 ms apart, doubling, instead of 2 s: the same schedule, shortened.
		const queue = new WebhookQueue(redis, prefix, { attempts: 14, backoffMs: 40 });
		const worker = new WebhookWorker({ url, secret, redis, prefix, logger, timeoutMs: 2000 });
		const failures: string[] = [];
		worker.on('attemptFailed', (e) => failures.push(e.error));
		const delivered: number[] = [];
		worker.on('delivered', (e) => delivered.push(e.attempt));
		let receiver: Receiver | undefined;
		try {
			await worker.ready();
			const event = await queue.send('space.started', { spaceId: 'down-for-a-while', owner: 'op:operator-sub', title: 'Down', startedAt: new Date().toISOString(), endedAt: null });
			await expect.poll(() => failures.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
			expect(failures.every((f) => /ECONNREFUSED/.test(f))).toBe(true);
			expect(delivered).toEqual([]);

			// Back, but failing at first: a 500, then a redirect to somewhere it must not go, then well.
			const answers = [{ status: 500 }, { status: 307, headers: { location: '/elsewhere' } }];
			receiver = new Receiver();
			receiver.answer = () => answers.shift() ?? { status: 204 };
			await receiver.listen(Number(url.port));
			await expect.poll(() => delivered.length, { timeout: 20_000 }).toBe(1);
			expect(failures.some((f) => /answered 500/.test(f))).toBe(true);
			expect(failures.some((f) => /answered 307/.test(f))).toBe(true);
			expect(delivered[0]).toBe(failures.length + 1);

			expect(receiver.requests.map((r) => r.path)).toEqual(['/hooks/tribune', '/hooks/tribune', '/hooks/tribune']);
			// Every attempt is the same event, signed afresh.
			const events = receiver.events();
			expect(events.map((e) => e.id)).toEqual([event.id, event.id, event.id]);
			expect(events[2]).toEqual(event);
		} finally {
			await worker.close();
			await queue.close();
			await receiver?.close();
		}
	});

	it('reads no further into a refusal than its first bytes, however long the receiver goes on', async () => {
		const prefix = `test-${randomUUID()}`;
		// A 500 whose body never ends.
		const server = http.createServer((req, res) => {
			req.resume();
			res.writeHead(500, { 'content-type': 'text/plain' });
			const chunk = 'x'.repeat(64 * 1024);
			const pump = (): void => {
				while (!res.destroyed && res.write(chunk));
				if (!res.destroyed) res.once('drain', pump);
			};
			pump();
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
		const queue = new WebhookQueue(redis, prefix, { attempts: 1 });
		const worker = new WebhookWorker({ url, secret, redis, prefix, logger, timeoutMs: 5000 });
		const failures: { error: string; final: boolean }[] = [];
		worker.on('attemptFailed', (e) => failures.push(e));
		try {
			await queue.send('space.ended', { spaceId: 'endless', owner: 'op:x', title: 'Endless', startedAt: null, endedAt: new Date().toISOString() });
			await expect.poll(() => failures.length, { timeout: 10_000 }).toBe(1);
			// Refused for its status, with the start of its body; not cut off by the timeout.
			expect(failures[0]).toMatchObject({ error: `receiver answered 500: ${JSON.stringify('x'.repeat(200))}`, final: true });
		} finally {
			await worker.close();
			await queue.close();
			server.closeAllConnections();
			server.close();
		}
	});

	it('gives up on a receiver that does not answer within the timeout, and retries it', async () => {
		const prefix = `test-${randomUUID()}`;
		// The first request hangs until its sender gives up; later ones are answered.
		let hung: http.ServerResponse | undefined;
		const server = http.createServer((req, res) => {
			if (!hung) {
				hung = res;
				return;
			}
			req.resume();
			res.writeHead(200).end();
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
		const queue = new WebhookQueue(redis, prefix, { attempts: 3, backoffMs: 20 });
		const worker = new WebhookWorker({ url, secret, redis, prefix, logger, timeoutMs: 1000 });
		const failures: string[] = [];
		worker.on('attemptFailed', (e) => failures.push(e.error));
		const delivered: number[] = [];
		worker.on('delivered', (e) => delivered.push(e.attempt));
		try {
			await queue.send('space.ended', { spaceId: 'slow', owner: 'op:operator-sub', title: 'Slow', startedAt: null, endedAt: new Date().toISOString() });
			await expect.poll(() => delivered.length, { timeout: 10_000 }).toBe(1);
			expect(failures[0]).toBe('no answer within 1000 ms');
			expect(delivered[0]).toBe(failures.length + 1);
		} finally {
			await worker.close();
			await queue.close();
			server.closeAllConnections();
			server.close();
		}
	});
});
