import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { repeatKeyframeRequests } from './repeatKeyframeRequests.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('repeatKeyframeRequests()', () => {
	it('asks at most maxRequests times, also when requests fail', async () => {
		let calls = 0;
		const stop = new AbortController();
		repeatKeyframeRequests({ request: async () => {
			calls++;
			throw new Error('stage link: no reply');
		}, signal: stop.signal, intervalMs: 5, maxRequests: 4, logger });
		await expect.poll(() => calls, { timeout: 5000 }).toBe(4);
		await sleep(100);
		expect(calls).toBe(4);
		stop.abort();
	});

	it('stops when the video flows (the signal aborts), and never stacks a request on an unanswered one', async () => {
		let calls = 0;
		let answer: (() => void) | undefined;
		const flowing = new AbortController();
		repeatKeyframeRequests({ request: () => new Promise<void>((resolve) => { calls++; answer = resolve; }), signal: flowing.signal, intervalMs: 5, maxRequests: 100, logger });
		await expect.poll(() => calls, { timeout: 5000 }).toBe(1);
		await sleep(50);
		expect(calls).toBe(1);
		answer?.();
		await expect.poll(() => calls, { timeout: 5000 }).toBe(2);
		answer?.();
		flowing.abort();
		await sleep(50);
		expect(calls).toBe(2);
	});

	it('asks nothing for a run already over', async () => {
		let calls = 0;
		repeatKeyframeRequests({ request: async () => void calls++, signal: AbortSignal.abort(), intervalMs: 5, logger });
		await sleep(50);
		expect(calls).toBe(0);
	});
});
