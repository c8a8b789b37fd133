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
import { recordingCursorKey, RecordingReadyWatcher } from '../src/webhooks/RecordingReadyWatcher.js';
import { webhookDropCounter } from '../src/webhooks/webhookDrops.js';
import { WebhookNotifier } from '../src/webhooks/WebhookNotifier.js';
import { startWebhooks, type Webhooks } from '../src/webhooks/startWebhooks.js';
import { webhookEventId, type WebhookEvent } from '../src/webhooks/webhookEvent.js';
import { WebhookBacklogFullError, WebhookQueue } from '../src/webhooks/WebhookQueue.js';
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

	it('sends space.started, participant.promoted, participant.demoted, participant.removed and space.ended, signed', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const service = node.spaces.service;
		const host = (await service.authenticate(hostToken)).actor;
		const listener = await joinSpace(node, spaceId, 'Lee "<b>Listener</b>" \\ 🎧');
		await service.raiseHand({ spaceId: asSpaceId(spaceId), participantId: asParticipantId(listener.participantId) });
		await service.approveHand(host, asParticipantId(listener.participantId));
		await service.demote(host, asParticipantId(listener.participantId));
		// A speaker removed from the stage and banned.
		const speaker = await joinSpace(node, spaceId, 'Sam Speaker');
		await service.raiseHand({ spaceId: asSpaceId(spaceId), participantId: asParticipantId(speaker.participantId) });
		await service.approveHand(host, asParticipantId(speaker.participantId));
		const speakerIdentity = (await node.spaces.store.getParticipant(asSpaceId(spaceId), asParticipantId(speaker.participantId)))?.identity;
		await service.remove(host, asParticipantId(speaker.participantId), true);
		await service.end(host);

		// Deliveries run in parallel, so they may arrive in any order (`createdAt` says when each happened).
		const ofSpace = () => receiver.events().filter((e) => (e.data as { spaceId: string }).spaceId === spaceId && (e.type !== 'participant.promoted' || (e.data as { participantId: string }).participantId === listener.participantId));
		const order = ['space.started', 'participant.promoted', 'participant.demoted', 'participant.removed', 'space.ended'];
		await expect.poll(() => ofSpace().map((e) => e.type).sort(), { timeout: 10_000 }).toEqual([...order].sort());
		const [started, promoted, demoted, removed, ended] = order.map((type) => ofSpace().find((e) => e.type === type));
		const times = [started, promoted, demoted, removed, ended].map((e) => Date.parse(e!.createdAt));
		expect(times).toEqual([...times].sort((a, b) => a - b));
		expect(speakerIdentity).toMatch(/^anon:/);
		expect(removed!.data).toEqual({ spaceId, participantId: speaker.participantId, identity: speakerIdentity, role: 'speaker', banned: true });
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
		expect(new Set(ofSpace().map((e) => e.id)).size).toBe(5);
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
		const dropped = webhookDropCounter();
		const secondNode = await RecordingReadyWatcher.start({ redis, prefix: node.redisPrefix, exports: exportQueue, service: node.spaces.service, queue: recording(webhooks.queue), logger, dropped });
		const firstNode = await RecordingReadyWatcher.start({ redis, prefix: node.redisPrefix, exports: exportQueue, service: node.spaces.service, queue: recording(webhooks.queue), logger, dropped });
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

/** A webhook queue whose next `failures` sends fail as if Redis were away; `keys` lists every send's key, in order. */
function flakyQueue(queue: WebhookQueue): Pick<WebhookQueue, 'send'> & { failures: number; keys: string[] } {
	const flaky = {
		failures: 0,
		keys: [] as string[],
		send: ((type, data, options) => {
			flaky.keys.push(options?.key ?? '');
			if (flaky.failures > 0) {
				flaky.failures--;
				return Promise.reject(new Error('Connection is closed.'));
			}
			return queue.send(type, data, options);
		}) as WebhookQueue['send'],
	};
	return flaky;
}

/** What a prom-client counter counted for one reason. */
async function countOf(counter: ReturnType<typeof webhookDropCounter>, reason: string): Promise<number> {
	return (await counter.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('webhooks while Redis refuses', () => {
	let node: TestNode;

	beforeAll(async () => {
		node = await startTestNode(inject('redisUrl'));
	});

	afterAll(async () => {
		await node?.close();
	});

	it('queues a space event after failed tries, as one job with one id; drops and counts one no try could queue', async () => {
		const queue = new WebhookQueue(redis, node.redisPrefix);
		const flaky = flakyQueue(queue);
		const dropped = webhookDropCounter();
		flaky.failures = 2;
		new WebhookNotifier({ service: node.spaces.service, queue: flaky, logger, dropped, enqueue: { attempts: 4, backoffMs: 20 } });
		try {
			const { spaceId, hostToken } = await createLiveSpace(node);
			await expect.poll(async () => (await webhookJobCounts(node.redisPrefix)).waiting, { timeout: 10_000 }).toBe(1);
			expect(flaky.keys).toEqual([`space.started:${spaceId}`, `space.started:${spaceId}`, `space.started:${spaceId}`]);
			const jobs = new Queue('webhook', { connection: redis.duplicate(), prefix: node.redisPrefix });
			try {
				const [job] = await jobs.getJobs(['waiting']);
				expect(job?.data.id).toBe(webhookEventId(`space.started:${spaceId}`));
			} finally {
				await jobs.close();
			}
			expect(await countOf(dropped, 'not_queued')).toBe(0);

			// Redis stays away: after its 4 tries the event is dropped, and counted.
			flaky.failures = Number.POSITIVE_INFINITY;
			const host = (await node.spaces.service.authenticate(hostToken)).actor;
			await node.spaces.service.end(host);
			await expect.poll(() => countOf(dropped, 'not_queued'), { timeout: 10_000 }).toBe(1);
			expect(flaky.keys.filter((k) => k === `space.ended:${spaceId}`)).toHaveLength(4);
			expect((await webhookJobCounts(node.redisPrefix)).waiting).toBe(1);
		} finally {
			await queue.close();
		}
	});

	it('sends recording.ready in stream order, trying a failed one again before the next; the shared cursor only moves forward', async () => {
		const prefix = `test-${randomUUID()}`;
		const exports = new ExportQueue(redis, prefix);
		const queue = new WebhookQueue(redis, prefix);
		const flaky = flakyQueue(queue);
		flaky.failures = 2;
		const dropped = webhookDropCounter();
		const watcher = await RecordingReadyWatcher.start({ redis, prefix, exports, service: node.spaces.service, queue: flaky, logger, dropped, retryMs: 20 });
		const transcoder = new ExportWorker({ redis, prefix, logger, run: async (_data, { reportProgress }) => reportProgress({ state: 'ready', percent: 100, rendition: 'audio', durationS: 1, bytes: 1 }) });
		const streamIdOf = (key: string) => key.split(':').at(-1)!;
		try {
			for (const spaceId of ['first', 'second']) {
				expect(await exports.request({ spaceId, requestedAt: Date.now() })).toBe(true);
				await expect.poll(async () => (await exports.state(spaceId)).state, { timeout: 10_000 }).toBe('completed');
			}
			await expect.poll(() => flaky.keys.length, { timeout: 10_000 }).toBe(4);
			// The first export's event failed twice, then went; only then the second.
			expect(flaky.keys.map((k) => k.split(':')[1])).toEqual(['export-first', 'export-first', 'export-first', 'export-second']);
			expect(new Set(flaky.keys.slice(0, 3)).size).toBe(1);
			await expect.poll(() => redis.get(recordingCursorKey(prefix)), { timeout: 10_000 }).toBe(streamIdOf(flaky.keys[3]!));
			expect((await webhookJobCounts(prefix)).waiting).toBe(2);

			// Another node has read further: this one's later handling does not move the cursor back.
			const ahead = `${Date.now() + 3_600_000}-0`;
			await redis.set(recordingCursorKey(prefix), ahead);
			expect(await exports.request({ spaceId: 'third', requestedAt: Date.now() })).toBe(true);
			await expect.poll(() => flaky.keys.length, { timeout: 10_000 }).toBe(5);
			await expect.poll(async () => (await webhookJobCounts(prefix)).waiting, { timeout: 10_000 }).toBe(3);
			expect(await redis.get(recordingCursorKey(prefix))).toBe(ahead);
		} finally {
			await transcoder.close();
			await watcher.close();
			await queue.close();
			await exports.close();
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

	it('signs with the previous secret too while one is rotated: a receiver not yet given the new one still verifies', async () => {
		const prefix = `test-${randomUUID()}`;
		const receiver = await Receiver.start();
		const next = `whsec-${randomUUID()}`;
		const queue = new WebhookQueue(redis, prefix);
		const worker = new WebhookWorker({ url: receiver.url, secret: next, previousSecret: secret, redis, prefix, logger });
		try {
			const event = await queue.send('space.started', { spaceId: 'rotating', owner: 'op:x', title: 'Rotating', startedAt: new Date().toISOString(), endedAt: null });
			await expect.poll(() => receiver.requests.length, { timeout: 10_000 }).toBe(1);
			// Checked against the previous secret, as the receiver still knows it…
			expect(receiver.events()).toEqual([event]);
			// …and against the new one.
			const [r] = receiver.requests;
			expect(verifyWebhookSignature({ secret: next, signature: header(r!, 'tribune-signature'), timestamp: header(r!, 'tribune-webhook-timestamp'), body: r!.body })).toBe(true);
		} finally {
			await worker.close();
			await queue.close();
			await receiver.close();
		}
	});

	it('keeps at most maxBacklog events waiting for a receiver that is down, refusing more', async () => {
		const prefix = `test-${randomUUID()}`;
		const probe = await Receiver.start();
		const url = probe.url;
		await probe.close();
		// Retries a minute apart: failed events wait, delayed.
		const queue = new WebhookQueue(redis, prefix, { attempts: 10, backoffMs: 60_000 }, 3);
		const worker = new WebhookWorker({ url, secret, redis, prefix, logger, timeoutMs: 2000 });
		const failures: string[] = [];
		worker.on('attemptFailed', (e) => failures.push(e.error));
		const ended = (spaceId: string) => ({ spaceId, owner: 'op:x', title: 'Down', startedAt: null, endedAt: new Date().toISOString() });
		try {
			await worker.ready();
			for (const spaceId of ['one', 'two', 'three']) await queue.send('space.ended', ended(spaceId), { key: `space.ended:${spaceId}` });
			await expect.poll(() => failures.length, { timeout: 10_000 }).toBe(3);
			expect(failures.every((f) => /ECONNREFUSED/.test(f))).toBe(true);
			await expect(queue.send('space.ended', ended('four'))).rejects.toBeInstanceOf(WebhookBacklogFullError);
			expect(await webhookJobCounts(prefix)).toMatchObject({ waiting: 0, delayed: 3, active: 0 });
		} finally {
			await worker.close();
			await queue.close();
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
