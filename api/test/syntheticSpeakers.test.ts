import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asSpaceId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let dir: string;
beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-synthetic-'));
	node = await startTestNode(inject('redisUrl'), {}, { syntheticSpeakerDir: dir });
});
afterAll(async () => {
	await node.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe('synthetic speakers', () => {
	it('puts a named speaker on stage whose ffmpeg voice reaches the stage, and stops it when demoted', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		try {
			const added = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Robo; rm -rf /', text: 'Hello "world" $(whoami)' }, hostToken);
			expect(added.status).toBe(201);
			const robot = added.body.participant!;
			expect(robot).toMatchObject({ displayName: 'Robo; rm -rf /', role: 'speaker' });
			await host.waitFor('roleChanged', (d) => d.participant.id === robot.id);
			expect((await host.request('getState')).stage.map((p) => p.displayName)).toContain('Robo; rm -rf /');
			const stage = (await node.spaces.stages.find(asSpaceId(spaceId)))!;
			const producer = stage.getPeer(robot.id)!.producers[0]!;
			await until(async () => ((await producer.getStats()).some((s) => s.byteCount > 1000) ? true : undefined), 'RTP from the synthetic speaker');
			await host.request('demote', { participantId: robot.id });
			expect(producer.closed).toBe(true);
			expect(stage.getPeer(robot.id)).toBeUndefined();
		} finally {
			host.close();
		}
	});

	it('refuses a listener who asks for a synthetic speaker', async () => {
		const { spaceId } = await createLiveSpace(node);
		const listener = await joinSpace(node, spaceId, 'L');
		const res = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'X', text: 'hi' }, listener.token);
		expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden']);
	});
});
