import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { maxMessageBytes, maxReactionNames, type TickData } from '../src/signaling/protocol.js';
import { asSpaceId } from '../src/spaces/Space.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type ApiBody, type TestNode } from './support/startTestNode.js';

let node: TestNode;
const clients: SignalingClient[] = [];
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'), { limits: { requests: { burst: 500, perSecond: 500 } } });
});
afterEach(() => {
	for (const c of clients.splice(0)) c.close();
});
afterAll(() => node.close());

async function connect(token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

describe('spaces REST', () => {
	it('creates a space, describes it publicly, and lets a listener join from the share link', async () => {
		const created = await postJson(`${node.baseUrl}/api/spaces`, { title: '  Weekly AMA ', hostName: 'Hana', settings: { video: true, maxSpeakers: 5 } });
		expect(created.status).toBe(201);
		expect(created.body.space).toMatchObject({ title: 'Weekly AMA', state: 'created', settings: { video: true, maxSpeakers: 5, captionMode: 'off' } });
		const got = (await fetch(`${node.baseUrl}/api/spaces/${created.body.space!.id}`).then((r) => r.json())) as ApiBody;
		expect(got.space?.id).toBe(created.body.space!.id);
		const joined = await postJson(`${node.baseUrl}/api/spaces/${created.body.space!.id}/join`, { displayName: 'Lee' });
		expect(joined.body.participant).toMatchObject({ displayName: 'Lee', role: 'listener' });
	});

	it('rejects a body with unknown fields, control characters or a huge stage', async () => {
		for (const body of [{ title: 'x', hostName: 'h', admin: true }, { title: 'x\u0000', hostName: 'h' }, { title: 'x', hostName: 'h', settings: { maxSpeakers: 1000 } }]) {
			const res = await postJson(`${node.baseUrl}/api/spaces`, body);
			expect(res.status).toBe(400);
			expect(res.body.error?.code).toBe('bad_request');
		}
	});

	it('ends a space only with the host token of that space', async () => {
		const a = await createLiveSpace(node);
		const b = await createLiveSpace(node);
		const listener = await joinSpace(node, a.spaceId, 'L');
		expect((await postJson(`${node.baseUrl}/api/spaces/${a.spaceId}/end`, {}, listener.token)).body.error?.code).toBe('forbidden');
		expect((await postJson(`${node.baseUrl}/api/spaces/${a.spaceId}/end`, {}, b.hostToken)).body.error?.code).toBe('forbidden');
		expect((await postJson(`${node.baseUrl}/api/spaces/${a.spaceId}/end`, {})).status).toBe(401);
		expect((await postJson(`${node.baseUrl}/api/spaces/${a.spaceId}/end`, {}, a.hostToken)).body.space?.state).toBe('ended');
	});

	it('answers an unknown space with not_found', async () => {
		const res = await fetch(`${node.baseUrl}/api/spaces/nope`);
		expect(res.status).toBe(404);
	});
});

describe('signaling', () => {
	it('refuses a WebSocket without a valid token', async () => {
		await expect(SignalingClient.connect(node.wsUrl, 'garbage')).rejects.toThrow(/401/);
	});

	it('tells everyone who joined and left, in ticks, with the listener count', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const listeners = await Promise.all(['A', 'B', 'C', 'D', 'E'].map(async (name) => connect((await joinSpace(node, spaceId, name)).token)));
		const ticks = () => host.events.filter((e) => e.event === 'tick').map((e) => e.data as TickData);
		const joined = await host.until(() => {
			const names = ticks().flatMap((t) => (t.joined ?? []).map((p) => p.displayName));
			return names.length >= 6 ? names : undefined;
		}, 'six joins');
		expect(joined.sort()).toEqual(['A', 'B', 'C', 'D', 'E', 'Hana Host']);
		expect(ticks().reduce((n, t) => n + (t.joinedCount ?? 0), 0)).toBe(6);
		// Five listeners connecting together arrive in fewer than five messages.
		expect(ticks().length).toBeLessThan(5);
		await host.waitFor('tick', (d) => d.listenerCount === 5);
		listeners[0]!.close();
		listeners[1]!.close();
		const left = await host.waitFor('tick', (d) => (d.leftCount ?? 0) > 0);
		expect(left.left!.length).toBeGreaterThanOrEqual(1);
		await host.waitFor('tick', (d) => d.listenerCount === 3);
	});

	it('a crowd of reactions in one tick arrives as counts per kind, naming who reacted only when few did', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const crowd = await Promise.all(Array.from({ length: 12 }, async (_, i) => connect((await joinSpace(node, spaceId, `R${i}`)).token)));
		await host.waitFor('tick', (d) => d.listenerCount === 12);
		const before = host.events.length;
		// 12 claps and 2 hearts, sent together: they land in one or two ticks.
		await Promise.all([...crowd.map((c) => c.request('react', { reaction: 'clap' })), crowd[0]!.request('react', { reaction: 'heart' }), crowd[1]!.request('react', { reaction: 'heart' })]);
		const tallies = await host.until(() => {
			const all = host.events.slice(before).filter((e) => e.event === 'tick').flatMap((e) => (e.data as TickData).reactions ?? []);
			const claps = all.filter((t) => t.reaction === 'clap').reduce((n, t) => n + t.count, 0);
			const hearts = all.filter((t) => t.reaction === 'heart').reduce((n, t) => n + t.count, 0);
			return claps === 12 && hearts === 2 ? all : undefined;
		}, 'every reaction counted');
		const tickMessages = host.events.slice(before).filter((e) => e.event === 'tick').length;
		expect(tickMessages).toBeLessThanOrEqual(4);
		for (const t of tallies) {
			if (t.count > maxReactionNames) expect(t.participantIds).toBeUndefined();
			else expect(t.participantIds).toHaveLength(t.count);
		}
		const hearts = tallies.filter((t) => t.reaction === 'heart').flatMap((t) => t.participantIds ?? []);
		expect(hearts.length).toBeGreaterThan(0);
		// No per-reaction messages exist any more.
		expect(host.events.some((e) => (e.event as string) === 'reaction')).toBe(false);
	});

	it('raised hands learn their place in the queue when they raise, and ask for it as it moves up', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		await connect(hostToken);
		const [ann, bob] = await Promise.all([joinSpace(node, spaceId, 'Ann'), joinSpace(node, spaceId, 'Bob')]);
		const first = await connect(ann.token);
		const second = await connect(bob.token);
		await first.request('raiseHand');
		await first.waitFor('handChanged', (d) => d.raised && d.position === 1);
		await second.request('raiseHand');
		await second.waitFor('handChanged', (d) => d.raised && d.position === 2);
		await first.request('lowerHand');
		await first.waitFor('handChanged', (d) => !d.raised);
		// No message to everyone behind on every change: the place is asked for.
		expect(await second.request('handPosition')).toEqual({ raised: true, position: 1 });
		expect(await first.request('handPosition')).toEqual({ raised: false, position: null });
		expect(second.events.filter((e) => e.event === 'handChanged')).toHaveLength(1);
	});

	it('a listener raises a hand, the host sees the queue and approves, and the listener gets a speaker token', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await connect(lee.token);
		await listener.request('raiseHand');
		const queued = await host.waitFor('handQueueChanged', (d) => d.changes.some((c) => c.raised?.id === lee.participantId));
		expect([queued.changes[0]?.raised?.displayName, queued.length]).toEqual(['Lee', 1]);
		await listener.waitFor('handChanged', (d) => d.raised);
		// Listeners do not see the queue.
		expect(listener.events.some((e) => e.event === 'handQueueChanged')).toBe(false);
		expect((await host.request('getState')).handQueue.map((p) => p.id)).toEqual([lee.participantId]);
		await host.request('approveHand', { participantId: lee.participantId });
		const renewed = await listener.waitFor('tokenRenewed');
		expect(renewed.role).toBe('speaker');
		await host.waitFor('roleChanged', (d) => d.participant.id === lee.participantId && d.participant.role === 'speaker');
		// The renewed token reconnects as the speaker, and can itself be renewed.
		const again = await connect(renewed.token);
		expect((await again.request('getState')).you.role).toBe('speaker');
		const { token } = await again.request('renewToken');
		expect((await node.spaces.service.tokens.verify(token)).role).toBe('speaker');
	});

	it('a second connection of the same participant replaces the first, without a leave notice', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const first = await connect(lee.token);
		await host.waitFor('tick', (d) => d.listenerCount === 1);
		const second = await connect(lee.token);
		expect(await first.waitForClose()).toBe(4009);
		expect((await second.request('getState')).you.id).toBe(lee.participantId);
		expect(host.events.some((e) => e.event === 'tick' && (e.data as TickData).leftCount !== undefined)).toBe(false);
		expect(node.spaces.signaling.connectionCount(asSpaceId(spaceId))).toBe(2);
	});

	it('refuses forbidden requests with stable codes and changes nothing', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await connect(lee.token);
		const refusals = [
			['approveHand', { participantId: lee.participantId }],
			['remove', { participantId: hostId, ban: true }],
			['endSpace', {}],
			['pin', { participantId: hostId }],
			['mute', { participantId: hostId }],
			['getRouterRtpCapabilities', {}],
			['createTransport', { direction: 'send' }],
			['produce', { transportId: 'x', kind: 'audio', rtpParameters: {} }],
		] as const;
		for (const [name, data] of refusals) {
			const reply = await listener.send(name, data);
			expect([name, reply.ok, reply.error?.code]).toEqual([name, false, 'forbidden']);
		}
		const state = await host.request('getState');
		expect(state.space.state).toBe('live');
		expect(state.stage.map((p) => p.id)).toEqual([hostId]);
		expect(state.pinned).toEqual([]);
	});

	it('refuses video from a speaker in a space with video off, and bad media parameters with bad_request', async () => {
		const { hostToken } = await createLiveSpace(node, { video: false });
		const host = await connect(hostToken);
		const { id } = await host.request('createTransport', { direction: 'send' });
		const video = await host.send('produce', { transportId: id, kind: 'video', rtpParameters: { codecs: [], encodings: [] } });
		expect(video.error?.code).toBe('forbidden');
		const garbage = await host.send('produce', { transportId: id, kind: 'audio', rtpParameters: { codecs: 'nope' } });
		expect(garbage.error?.code).toBe('bad_request');
		const unknown = await host.send('connectTransport', { transportId: 'nope', dtlsParameters: {} });
		expect(unknown.error?.code).toBe('not_found');
	});

	it('answers malformed, unknown and oversized messages with error replies and keeps the connection', async () => {
		const { spaceId } = await createLiveSpace(node);
		const listener = await connect((await joinSpace(node, spaceId, 'L')).token);
		listener.socket.send('{not json');
		listener.socket.send(JSON.stringify({ id: 1, name: 'selfDestruct', data: {} }));
		listener.socket.send(JSON.stringify({ id: 2, name: 'raiseHand', data: { extra: 1 } }));
		listener.socket.send(JSON.stringify({ id: 3, name: 'react', data: { reaction: 'x'.repeat(maxMessageBytes) } }));
		listener.socket.send(Buffer.from([1, 2, 3]));
		const replies = await listener.until(() => (listener.replies.length >= 5 ? listener.replies : undefined), 'five replies');
		expect(replies.map((r) => [r.id, r.error?.code])).toEqual([
			[null, 'bad_request'],
			[1, 'unknown_message'],
			[2, 'bad_request'],
			[null, 'payload_too_large'],
			[null, 'bad_request'],
		]);
		expect((await listener.request('getState')).you.displayName).toBe('L');
	});

	it('limits hand raises and reactions per connection', async () => {
		const { spaceId } = await createLiveSpace(node);
		const listener = await connect((await joinSpace(node, spaceId, 'L')).token);
		const raises = await Promise.all(Array.from({ length: 6 }, (_, i) => listener.send(i % 2 ? 'lowerHand' : 'raiseHand', {})));
		expect(raises.filter((r) => r.error?.code === 'rate_limited')).toHaveLength(0);
		const more = await Promise.all(Array.from({ length: 3 }, () => listener.send('raiseHand', {})));
		expect(more.map((r) => r.error?.code)).toContain('rate_limited');
		const reactions = await Promise.all(Array.from({ length: 20 }, () => listener.send('react', { reaction: 'clap' })));
		const limited = reactions.filter((r) => r.error?.code === 'rate_limited').length;
		expect(limited).toBeGreaterThanOrEqual(9);
		expect(limited).toBeLessThan(20);
	});

	it('removes and bans a listener: their connection closes and their token no longer connects', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const troll = await joinSpace(node, spaceId, 'Troll');
		const trollClient = await connect(troll.token);
		await host.request('remove', { participantId: troll.participantId, ban: true });
		expect(await trollClient.waitForClose()).toBe(4003);
		expect(trollClient.events.find((e) => e.event === 'removed')?.data).toEqual({ banned: true });
		await expect(SignalingClient.connect(node.wsUrl, troll.token)).rejects.toThrow(/403/);
		const rejoin = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: 'Troll', token: troll.token });
		expect(rejoin.body.error?.code).toBe('banned');
	});

	it('broadcasts mute, pins and reactions, and closes everyone when the host ends the space', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const host = await connect(hostToken);
		const listener = await connect((await joinSpace(node, spaceId, 'L')).token);
		await host.request('pin', { participantId: hostId });
		expect((await listener.waitFor('pinnedChanged')).participantIds).toEqual([hostId]);
		await host.request('mute', { participantId: hostId });
		expect(await listener.waitFor('muteChanged')).toEqual({ participantId: hostId, mute: 'self' });
		await listener.request('react', { reaction: 'heart' });
		const participantId = (await listener.request('getState')).you.id;
		expect((await host.waitFor('tick', (d) => d.reactions !== undefined)).reactions).toEqual([{ reaction: 'heart', count: 1, participantIds: [participantId] }]);
		await host.request('endSpace');
		expect((await listener.waitFor('spaceState')).space.state).toBe('ended');
		expect(await listener.waitForClose()).toBe(4010);
	});
});
