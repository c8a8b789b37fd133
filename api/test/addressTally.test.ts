import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AddressTally } from '../src/signaling/AddressTally.js';

/** Per-address connection counts of two nodes on real Redis, each node an `AddressTally` of its own. */
let redis: Redis;
let prefix: string;
beforeAll(() => {
	redis = connectRedis(inject('redisUrl'), 'address-tally-test');
});
afterAll(() => redis?.disconnect());

let nextPrefix = 1;
function tallies(ttlMs: number): [AddressTally, AddressTally] {
	prefix = `tribune-addr-${process.pid}-${Date.now()}-${nextPrefix++}`;
	return [new AddressTally(redis, prefix, 'node-a', ttlMs), new AddressTally(redis, prefix, 'node-b', ttlMs)];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('AddressTally', () => {
	it('a release lost on its way to Redis is set right by the next refresh', async () => {
		const [a, b] = tallies(15_000);
		expect([await a.acquire('t', 2), await b.acquire('t', 2), await b.acquire('t', 2)]).toEqual([true, true, false]);
		a.release('t');
		await sleep(50);
		// As if that release never reached Redis: node A's count stays one too high.
		await redis.hincrby(`${prefix}:{conn}:node:node-a`, 't', 1);
		expect(await b.acquire('t', 2)).toBe(false);
		await a.refresh();
		expect(await b.acquire('t', 2)).toBe(true);
	});

	it('a place Redis answered late is held by the connection it let in, and counted by the next refresh', async () => {
		const [, b] = tallies(15_000);
		// Node A's own connection, whose answers are read late.
		const slow = connectRedis(inject('redisUrl'), 'address-tally-slow');
		const a = new AddressTally(slow, prefix, 'node-a', 15_000);
		try {
			await slow.ping();
			const socket = (slow as unknown as { stream: { pause(): void; resume(): void } }).stream;
			socket.pause();
			// No answer in time: the connection goes in, its place counted on node A (taken in Redis once read, too).
			expect(await a.acquire('t', 1, 50)).toBeUndefined();
			socket.resume();
			await slow.ping();
			expect(await b.acquire('t', 1)).toBe(false);
			await a.refresh();
			expect(await b.acquire('t', 1)).toBe(false);
			a.release('t');
			await sleep(50);
			expect(await b.acquire('t', 1)).toBe(true);
		} finally {
			slow.disconnect();
		}
	});

	it('a node that stops refreshing (dead) drops out of the sums once its counts expire', async () => {
		const [a, b] = tallies(300);
		expect(await a.acquire('t', 1)).toBe(true);
		expect(await b.acquire('t', 1)).toBe(false);
		await sleep(400);
		expect(await b.acquire('t', 1)).toBe(true);
	});
});
