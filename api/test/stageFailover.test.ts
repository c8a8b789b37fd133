import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asSpaceId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'));
});
afterAll(() => node.close());

describe('stage failover', () => {
	it('tells speakers to rebuild their media when the stage\'s worker dies, and the new stage serves them', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		try {
			await host.request('getRouterRtpCapabilities');
			const first = await host.request('createTransport', { direction: 'send' });
			const before = node.spaces.stages.get(asSpaceId(spaceId))!;
			process.kill(node.workers.pids[0]!, 'SIGKILL');
			await host.waitFor('stageReset', () => true, 20_000);
			expect(before.closed).toBe(true);
			const again = await host.request('createTransport', { direction: 'send' });
			expect(again.id).not.toBe(first.id);
			const after = node.spaces.stages.get(asSpaceId(spaceId))!;
			expect(after).not.toBe(before);
			const { you } = await host.request('getState');
			expect(after.getPeer(you.id)).toBeDefined();
		} finally {
			host.close();
		}
	});
});
