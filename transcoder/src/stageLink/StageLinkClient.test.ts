import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StageLinkClient, StageLinkError } from './StageLinkClient.js';

/** A Redis whose publish answers only after `publishMs` (Redis away: ioredis queues commands until it is back). */
function slowRedis(publishMs: number): Redis {
	const subscriber = { on: () => subscriber, subscribe: async () => 1, unsubscribe: async () => 1, disconnect: () => {} };
	return {
		duplicate: () => subscriber,
		publish: () => new Promise((resolve) => setTimeout(() => resolve(1), publishMs)),
	} as unknown as Redis;
}

describe('StageLinkClient.call()', () => {
	it('rejects with a timeout when the publish outlasts it, and no rejection goes unhandled meanwhile', async () => {
		const unhandled: unknown[] = [];
		const onUnhandled = (reason: unknown) => void unhandled.push(reason);
		process.on('unhandledRejection', onUnhandled);
		try {
			const client = await StageLinkClient.create(slowRedis(200), 'test');
			const call = client.call('node-1', 'renew', { sessionId: 'job-1' }, 20);
			const error = await call.then(() => undefined, (e: unknown) => e);
			expect(error).toBeInstanceOf(StageLinkError);
			expect((error as StageLinkError).code).toBe('timeout');
			// Past the moment the timeout fired with nobody listening yet.
			await new Promise((resolve) => setTimeout(resolve, 50));
			expect(unhandled).toEqual([]);
		} finally {
			process.off('unhandledRejection', onUnhandled);
		}
	});
});
