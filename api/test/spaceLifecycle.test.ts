import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { EventData } from '../src/signaling/protocol.js';
import { asParticipantId, asSpaceId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * Two real API nodes on one real Redis (one cluster: shared key prefix and token key), with the lifecycle's times
 * cut to seconds: a hand goes 1 s after its owner left, a space with no host or co-host ends after 3 s, a listener's
 * record goes 2 s after their last connection.
 */
const lifecycle = { handDisconnectLowerS: 1, idleEndS: 3, participantIdleTtlS: 2, maxLiveS: 3600 };
let a: TestNode;
let b: TestNode;
const clients: SignalingClient[] = [];
beforeAll(async () => {
	a = await startTestNode(inject('redisUrl'), { lifecycle });
	b = await startTestNode(inject('redisUrl'), { lifecycle }, { cluster: { redisPrefix: a.redisPrefix, tokenKey: a.tokenKey } });
});
afterAll(async () => {
	for (const c of clients) c.close();
	await Promise.all([a?.close(), b?.close()]);
});

async function connect(node: TestNode, token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A listener of `spaceId` brought on stage by the host, connected to `node` with their speaker token. */
async function speakerOn(node: TestNode, spaceId: string, host: SignalingClient, name: string): Promise<SignalingClient> {
	const joined = await joinSpace(node, spaceId, name);
	const listener = await connect(node, joined.token);
	await listener.request('raiseHand');
	await host.request('approveHand', { participantId: joined.participantId });
	const { token } = await listener.waitFor('tokenRenewed');
	listener.close();
	return connect(node, token);
}

describe('the space lifecycle over two nodes', () => {
	it('a raised hand stays while its owner is connected on any node, and is lowered once they have been away a while', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const host = await connect(a, hostToken);
		const lee = await joinSpace(b, spaceId, 'Lee');
		const onB = await connect(b, lee.token);
		await onB.request('raiseHand');
		await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.raised?.id === lee.participantId));
		// Off node B and onto node A at once: the store knows they are here, B's room does not.
		onB.close();
		await onB.waitForClose();
		const onA = await connect(a, lee.token);
		await sleep(2500);
		expect(await onA.request('handPosition')).toEqual({ raised: true, position: 1 });
		expect(host.events.some((e) => e.event === 'handQueueChanged' && (e.data as EventData['handQueueChanged']).changes.some((c) => c.lowered === lee.participantId))).toBe(false);

		onA.close();
		const lowered = await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.lowered === lee.participantId), 5000);
		expect(lowered).toEqual({ changes: [{ raised: null, lowered: lee.participantId }], length: 0 });
		expect((await host.request('getState')).handCount).toBe(0);
	});

	it('a space whose hosts are gone warns the stage, a returning host calls it off, and it ends itself when they stay away', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const host = await connect(a, hostToken);
		const speaker = await speakerOn(b, spaceId, host, 'Sam');
		const listener = await connect(b, (await joinSpace(b, spaceId, 'Lou')).token);

		host.close();
		const warning = await speaker.waitFor('spaceEnding', () => true, 5000);
		expect(warning.reason).toBe('idle');
		expect(warning.endsAt - Date.now()).toBeLessThanOrEqual(3000);
		expect(warning.inS).toBeLessThanOrEqual(3);
		// The audience hears the broadcast; only the stage is warned.
		expect(listener.events.some((e) => e.event === 'spaceEnding')).toBe(false);
		// Someone on stage who connects after the warning reads it in getState.
		expect((await speaker.request('getState')).ending).toMatchObject({ reason: 'idle', endsAt: warning.endsAt });

		// The host comes back, on the other node: the end is off.
		const back = await connect(b, hostToken);
		await speaker.waitFor('spaceEndingCancelled', () => true, 5000);
		expect((await back.request('getState')).ending).toBeNull();
		await sleep(3500);
		expect((await back.request('getState')).space.state).toBe('live');

		back.close();
		const ended = await speaker.waitFor('spaceState', (d) => d.space.state === 'ended', 8000);
		expect(ended.space.endedAt).not.toBeNull();
		expect(await speaker.waitForClose()).toBe(4010);
		expect(await listener.waitForClose()).toBe(4010);
		const info = (await (await fetch(`${a.baseUrl}/api/spaces/${spaceId}`)).json()) as { space: { state: string } };
		expect(info.space.state).toBe('ended');
	}, 30_000);

	it('a listener record goes a while after its last connection, with its hand; the connected and the stage stay', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const host = await connect(a, hostToken);
		const speaker = await speakerOn(a, spaceId, host, 'Sam');
		const [never, gone, staying] = await Promise.all(['Never', 'Gone', 'Staying'].map((name) => joinSpace(b, spaceId, name)));
		const goneSocket = await connect(b, gone!.token);
		await goneSocket.request('raiseHand');
		const stayingSocket = await connect(a, staying!.token);
		goneSocket.close();
		speaker.close();
		const store = a.spaces.store;
		const space = asSpaceId(spaceId);
		const deadline = Date.now() + 8000;
		while ((await store.getParticipant(space, asParticipantId(gone!.participantId))) && Date.now() < deadline) await sleep(200);
		expect(await store.getParticipant(space, asParticipantId(never!.participantId))).toBeUndefined();
		expect(await store.getParticipant(space, asParticipantId(gone!.participantId))).toBeUndefined();
		await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.lowered === gone!.participantId));
		expect(await store.getParticipant(space, asParticipantId(staying!.participantId))).toBeDefined();
		// Sam left the stage's connection but not the stage: someone on stage is never removed for being away.
		expect((await store.getParticipant(space, asParticipantId((await host.request('getState')).stage.find((p) => p.displayName === 'Sam')!.id)))?.role).toBe('speaker');
		expect(stayingSocket.closeCode).toBeUndefined();
		expect(await store.countParticipants(space)).toBe(3);
	}, 30_000);

	it('a live space missing from the sweep\'s index is indexed again when a node opens its first connection there', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const { connectRedis } = await import('@tribune/transcoder');
		const redis = connectRedis(inject('redisUrl'), 'index-check');
		try {
			const index = `${a.redisPrefix}:lifecycle:live`;
			expect(await redis.zscore(index, spaceId)).not.toBeNull();
			await redis.zrem(index, spaceId);
			await connect(b, hostToken);
			await a.spaces.signaling.lifecycle!.sweep();
			expect(await redis.zscore(index, spaceId)).not.toBeNull();
		} finally {
			redis.disconnect();
		}
	});

	it('a live space is swept whatever the index says: missing from it, it still ends when nobody runs it', async () => {
		const { spaceId } = await createLiveSpace(a);
		const { connectRedis } = await import('@tribune/transcoder');
		const redis = connectRedis(inject('redisUrl'), 'index-drift');
		try {
			await redis.zrem(`${a.redisPrefix}:lifecycle:live`, spaceId);
			const deadline = Date.now() + 10_000;
			let state = 'live';
			while (state === 'live' && Date.now() < deadline) {
				await sleep(250);
				state = ((await (await fetch(`${a.baseUrl}/api/spaces/${spaceId}`)).json()) as { space: { state: string } }).space.state;
			}
			expect(state).toBe('ended');
		} finally {
			redis.disconnect();
		}
	}, 30_000);

	it('an end stored but never said (its node lost the reply) is said by the next sweep: the stage closes', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		const host = await connect(b, hostToken);
		await host.request('getState');
		// Ended in the store with no event, as when the node ending it died before saying so.
		await a.spaces.store.transitionState(asSpaceId(spaceId), ['live'], 'ended', Date.now());
		const ended = await host.waitFor('spaceState', (d) => d.space.state === 'ended', 5000);
		expect(ended.space.endedAt).not.toBeNull();
		expect(await host.waitForClose()).toBe(4010);
	});

	it('sweeps time spaces by Redis\'s clock: a node whose clock runs hours ahead ends nothing early', async () => {
		const { hostToken } = await createLiveSpace(a);
		const host = await connect(a, hostToken);
		await host.request('getState');
		// Both nodes' clocks (they run in this process) two hours ahead: past this space's SPACE_MAX_LIVE_S (1 h).
		vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3600_000 });
		try {
			await sleep(1500);
		} finally {
			vi.useRealTimers();
		}
		expect((await host.request('getState')).space.state).toBe('live');
		expect(host.events.some((e) => e.event === 'spaceEnding')).toBe(false);
	});

	it('a sweep that cannot read a live space keeps it indexed with its presence, for the next sweep', async () => {
		const { spaceId, hostToken } = await createLiveSpace(a);
		await connect(a, hostToken);
		const { connectRedis } = await import('@tribune/transcoder');
		const redis = connectRedis(inject('redisUrl'), 'forget-check');
		const service = a.spaces.service;
		try {
			const seen = `${a.redisPrefix}:space:{${spaceId}}:seen`;
			while ((await redis.exists(seen)) === 0) await sleep(50);
			// The store's Redis fails one read of this space, as a command that timed out does.
			let failed = false;
			service.getSpace = async (id) => {
				if (id !== spaceId || failed) return Object.getPrototypeOf(service).getSpace.call(service, id);
				failed = true;
				throw new Error('Command timed out');
			};
			while (!failed) await a.spaces.signaling.lifecycle!.sweep();
			expect(await redis.zscore(`${a.redisPrefix}:lifecycle:live`, spaceId)).not.toBeNull();
			expect(await redis.exists(seen)).toBe(1);
		} finally {
			delete (service as { getSpace?: unknown }).getSpace;
			redis.disconnect();
		}
	});

	it('one node sweeps at a time, and the lock is kept after a sweep for the rest of the period (not one sweep per node)', async () => {
		const lock = `${a.redisPrefix}:lifecycle:lock`;
		const { connectRedis } = await import('@tribune/transcoder');
		const redis = connectRedis(inject('redisUrl'), 'lock-check');
		try {
			// Held by someone else: neither node sweeps, so a space past its idle end stays live.
			await redis.set(lock, 'another-node', 'PX', 10_000);
			const { spaceId } = await createLiveSpace(a);
			await sleep(3600);
			await Promise.all([a.spaces.signaling.lifecycle!.sweep(), b.spaces.signaling.lifecycle!.sweep()]);
			expect((await (await fetch(`${a.baseUrl}/api/spaces/${spaceId}`)).json()) as { space: { state: string } }).toMatchObject({ space: { state: 'live' } });
			// Once free, a sweep takes it and keeps it after sweeping, for less than a period (sweeps every 333 ms here).
			let kept = false;
			for (let i = 0; i < 20 && !kept; i++) {
				await redis.del(lock);
				await a.spaces.signaling.lifecycle!.sweep();
				const [holder, ttl] = await Promise.all([redis.get(lock), redis.pttl(lock)]);
				kept = holder !== null && holder !== 'another-node' && ttl > 0 && ttl <= 333;
			}
			expect(kept).toBe(true);
		} finally {
			redis.disconnect();
		}
	}, 30_000);

	it('a space live for SPACE_MAX_LIVE_S is warned and ends, with its host connected', async () => {
		const node = await startTestNode(inject('redisUrl'), { lifecycle: { ...lifecycle, idleEndS: 600, maxLiveS: 2 } });
		try {
			const { spaceId, hostToken } = await createLiveSpace(node);
			const host = await SignalingClient.connect(node.wsUrl, hostToken);
			clients.push(host);
			const warning = await host.waitFor('spaceEnding', () => true, 5000);
			expect(warning.reason).toBe('max_duration');
			await host.waitFor('spaceState', (d) => d.space.state === 'ended', 8000);
			expect(await host.waitForClose()).toBe(4010);
			expect((await node.spaces.service.getSpace(asSpaceId(spaceId))).state).toBe('ended');
		} finally {
			await node.close();
		}
	}, 30_000);
});
