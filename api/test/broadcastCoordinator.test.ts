import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectRedis, type StageLinkSnapshot } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startBroadcastRig, type BroadcastRig } from './support/broadcastRig.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let dir: string;
let redis: Redis;
let rig: BroadcastRig;

beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-coordinator-'));
	node = await startTestNode(inject('redisUrl'), {}, { syntheticSpeakerDir: dir });
	redis = connectRedis(inject('redisUrl'), 'test');
	rig = await startBroadcastRig(node, redis, 'node-a');
});

afterAll(async () => {
	await rig?.close();
	redis?.disconnect();
	await node?.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

describe('BroadcastCoordinator', () => {
	it('queues the broadcast when a space goes live, publishes every stage change, and stops the broadcast when it ends', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		await expect.poll(async () => (await rig.queue.state(spaceId)).state).toBe('waiting');
		const first = await rig.client.snapshot(spaceId);
		expect(first).toMatchObject({ spaceId, node: 'node-a', pinned: [] });
		expect(first!.speakers.map((s) => s.name)).toHaveLength(1); // the host

		const seen: StageLinkSnapshot[] = [];
		const unwatch = await rig.client.watch(spaceId, (s) => seen.push(s));
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		try {
			const added = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Robo', text: 'Hello everyone, welcome to the space.' }, hostToken);
			expect(added.status).toBe(201);
			const robot = added.body.participant!;
			// The synthetic speaker's producer appears in a snapshot.
			await expect.poll(() => seen.at(-1)?.speakers.find((s) => s.peerId === robot.id)?.audioProducerId, { timeout: 10_000 }).toBeDefined();

			await host.request('mute', { participantId: robot.id });
			await expect.poll(() => seen.at(-1)?.speakers.find((s) => s.peerId === robot.id)?.muted).toBe(true);
			await host.request('pin', { participantId: robot.id });
			await expect.poll(() => seen.at(-1)?.pinned).toEqual([robot.id]);
			await host.request('demote', { participantId: robot.id });
			await expect.poll(() => seen.at(-1)?.speakers.some((s) => s.peerId === robot.id)).toBe(false);
			expect(seen.at(-1)!.pinned).toEqual([]);
			// Versions only grow.
			for (let i = 1; i < seen.length; i++) expect(seen[i]!.version).toBeGreaterThan(seen[i - 1]!.version);

			await host.request('endSpace');
			await expect.poll(async () => (await rig.queue.state(spaceId)).state).toBe('none');
		} finally {
			host.close();
			await unwatch();
		}
	});
});
