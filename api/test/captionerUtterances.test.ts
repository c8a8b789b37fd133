import { randomUUID } from 'node:crypto';
import { connectRedis, readCaptionLog } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CaptionerPushes } from '../src/captions/CaptionerPushes.js';
import { captionerUtteranceKey, RedisCaptionerUtterances } from '../src/captions/RedisCaptionerUtterances.js';
import { asSpaceId } from '../src/spaces/Space.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

// Real Redis: the pairing of a captioner's partials and final must hold across API nodes, each with its own
// connection, as behind a load balancer.
let node: TestNode;
const connections: Redis[] = [];
const connection = (): Redis => {
	const redis = connectRedis(inject('redisUrl'), 'test-utterances');
	connections.push(redis);
	return redis;
};
const push = (captionerId: string, text: string, final: boolean) => ({ captionerId, text, final, speakerName: 'Cap' });

beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'));
});
afterAll(async () => {
	for (const r of connections) r.disconnect();
	await node?.close();
});

describe('RedisCaptionerUtterances', () => {
	it('continues an utterance begun on another node: partials and their final share one id and start', async () => {
		const prefix = `test-${randomUUID()}`;
		let now = 10_000;
		const a = new RedisCaptionerUtterances({ redis: connection(), prefix, now: () => now });
		const b = new RedisCaptionerUtterances({ redis: connection(), prefix, now: () => now });
		const first = await a.cueOf(push('c1', 'Hello', false));
		now = 10_400;
		const second = await b.cueOf(push('c1', 'Hello every', false));
		now = 10_900;
		const last = await a.cueOf(push('c1', 'Hello everyone', true));
		expect(new Set([first.id, second.id, last.id]).size).toBe(1);
		expect(last).toMatchObject({ startMs: 10_000, endMs: 10_900, final: true, text: 'Hello everyone' });
		// The final closed it: nothing is left in Redis and the next push begins another utterance.
		expect(await connection().exists(captionerUtteranceKey(prefix, 'c1'))).toBe(0);
		now = 11_000;
		const next = await b.cueOf(push('c1', 'Next', true));
		expect(next.id).not.toBe(last.id);
		expect(next).toMatchObject({ startMs: 11_000, endMs: 11_000 });
	});

	it('keeps captioners apart, and an idle partial expires so the next push begins a new utterance', async () => {
		const prefix = `test-${randomUUID()}`;
		const redis = connection();
		const u = new RedisCaptionerUtterances({ redis, prefix, idleMs: 300 });
		const one = await u.cueOf(push('c1', 'one', false));
		const two = await u.cueOf(push('c2', 'two', false));
		expect(one.id).not.toBe(two.id);
		const ttl = await redis.pttl(captionerUtteranceKey(prefix, 'c1'));
		expect(ttl).toBeGreaterThan(0);
		expect(ttl).toBeLessThanOrEqual(300);
		// Well past the idle time, whatever the load: Redis expired the key.
		await new Promise((r) => setTimeout(r, 1000));
		expect(await redis.exists(captionerUtteranceKey(prefix, 'c1'))).toBe(0);
		expect((await u.cueOf(push('c1', 'one again', true))).id).not.toBe(one.id);
	});

	it('a Redis error fails the push instead of inventing a pairing', async () => {
		const redis = connectRedis(inject('redisUrl'), 'test-utterances-closed');
		const u = new RedisCaptionerUtterances({ redis, prefix: `test-${randomUUID()}` });
		redis.disconnect();
		await expect(u.cueOf(push('c1', 'x', false))).rejects.toThrow();
	});
});

describe('captioner pushes on two API nodes', () => {
	it('a partial pushed through one node and its final through another share one cue id', async () => {
		const { spaceId } = await createLiveSpace(node, { captionMode: 'sidecar' });
		const id = asSpaceId(spaceId);
		const { token } = await node.spaces.captions.tokens.issue(id, 'Cara');
		const nodes = [0, 1].map(() => new CaptionerPushes({ service: node.spaces.service, tokens: node.spaces.captions.tokens, redis: connection(), prefix: node.redisPrefix }));
		const claims = await nodes[0]!.authenticate(token, spaceId);
		const partial = await nodes[0]!.push(claims, { text: 'Good', final: false });
		const final = await nodes[1]!.push(claims, { text: 'Good morning' });
		expect(final.id).toBe(partial.id);
		expect(final.startMs).toBe(partial.startMs);
		const log = await readCaptionLog(connection(), node.redisPrefix, spaceId);
		// The log keeps finals only: one cue, under the partial's id.
		expect(log.filter((c) => c.id === partial.id).map((c) => [c.text, c.final])).toEqual([['Good morning', true]]);
	});
});
