import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reactionKinds } from '../src/signaling/protocol.js';
import { asSpaceId } from '../src/spaces/Space.js';
import { Crowd } from './support/crowdHarness.js';
import { joinListeners } from './support/crowdSpace.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let crowd: Crowd;
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'), { presenceBatchMs: 100 });
	crowd = await Crowd.start();
});
afterAll(async () => {
	crowd?.close();
	await node?.close();
});

describe('reaction fan-out to a crowd', () => {
	it('400 listeners: every reaction reaches everyone, counted per tick, in a few messages per connection', async () => {
		const { spaceId } = await createLiveSpace(node);
		const tokens = await joinListeners(node.spaces.service, spaceId, 400);
		const connected = await crowd.connect(node.wsUrl, tokens);
		expect(connected).toMatchObject({ open: 400, failed: 0 });
		for (const [i, reaction] of reactionKinds.slice(0, 3).entries()) {
			const burst = await crowd.burst(30, reaction, 20_000);
			expect([i, burst.missing]).toEqual([i, 0]);
			// 30 reactions would be 30 messages each if sent one by one; per tick they are one or two (plus the
			// listener count once).
			expect(burst.messagesPerClient).toBeLessThanOrEqual(4);
		}
		expect(node.spaces.signaling.connectionCount(asSpaceId(spaceId))).toBe(400);
	});
});
