import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { maxMessageBytes, requestNames } from '../src/signaling/protocol.js';
import { SignalingClient } from './support/SignalingClient.js';
import { prng, snapshotRedis } from './support/fuzzing.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/** A well-formed request, before mutation. */
interface Template {
	id: number;
	name: string;
	data: Record<string, unknown>;
}

let node: TestNode;
let redis: Redis;
beforeAll(async () => {
	// Limits high enough that the validators, not the rate limiter, answer the flood.
	node = await startTestNode(inject('redisUrl'), { limits: { requests: { burst: 100_000, perSecond: 100_000 }, reactions: { burst: 100_000, perSecond: 100_000 } } });
	redis = connectRedis(inject('redisUrl'), 'robustness-test');
});
afterAll(async () => {
	redis.disconnect();
	await node.close();
});

describe('protocol robustness', () => {
	it('answers thousands of malformed and mutated messages from the host with error replies only, and nothing changes', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		const bystander = await SignalingClient.connect(node.wsUrl, lee.token);
		await bystander.request('raiseHand');
		await host.waitFor('handQueueChanged');
		const stateBefore = await host.settledState(1); // Lee listens
		const redisBefore = await snapshotRedis(redis, `${node.redisPrefix}:*`);

		// Valid requests the host could make; each mutation below makes them invalid in one way.
		const templates: Template[] = [
			{ id: 1, name: 'approveHand', data: { participantId: lee.participantId } },
			{ id: 2, name: 'remove', data: { participantId: lee.participantId, ban: true } },
			{ id: 3, name: 'setCoHost', data: { participantId: lee.participantId, cohost: true } },
			{ id: 4, name: 'pin', data: { participantId: hostId } },
			{ id: 5, name: 'reorderPins', data: { participantIds: [hostId] } },
			{ id: 6, name: 'endSpace', data: {} },
			{ id: 7, name: 'mute', data: { participantId: hostId } },
			{ id: 8, name: 'react', data: { reaction: 'clap' } },
			{ id: 9, name: 'createTransport', data: { direction: 'send' } },
			{ id: 10, name: 'denyHand', data: { participantId: lee.participantId } },
			{ id: 11, name: 'revokeTokens', data: { participantId: lee.participantId } },
		];
		const random = prng(20261124);
		const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
		const wrongValues = (value: unknown): unknown[] =>
			[42, -1.5, 'x', '', null, true, [], [1, 'a'], { a: 1 }, '../../etc/passwd', 'a'.repeat(100)].filter(
				(v) => typeof v !== typeof value || Array.isArray(v) !== Array.isArray(value) || (typeof v === 'string' && typeof value === 'string' && !/^[A-Za-z0-9_-]{1,64}$/.test(v)),
			);
		const mutations: ((m: Template) => string | Buffer)[] = [
			(m) => JSON.stringify(m).slice(0, Math.floor(random() * (JSON.stringify(m).length - 1))), // truncated JSON
			(m) => JSON.stringify({ ...m, [pick(['extra', 'admin', 'role'])]: 1 }), // unknown envelope key
			(m) => JSON.stringify({ ...m, data: { ...m.data, [pick(['role', 'force', 'x'])]: true } }), // unknown data key
			(m) => `{"id":${m.id},"name":"${m.name}","data":{"__proto__":{"role":"host"}${Object.keys(m.data).length ? ',' : ''}${JSON.stringify(m.data).slice(1)}}`,
			(m) => JSON.stringify({ ...m, name: pick([`${m.name}x`, m.name.toUpperCase(), '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'getState '.repeat(3)]) }),
			(m) => JSON.stringify({ ...m, id: pick([-1, 1.5, 2 ** 40, '7', null, [], {}]) }),
			(m) => {
				const copy: Partial<Template> = { ...m };
				delete copy[pick(['id', 'name', 'data'] as const)];
				return JSON.stringify(copy);
			},
			(m) => {
				const keys = Object.keys(m.data);
				if (keys.length === 0) return JSON.stringify({ ...m, data: pick([null, [], 'x', 1]) });
				const key = pick(keys);
				return JSON.stringify({ ...m, data: { ...m.data, [key]: pick(wrongValues(m.data[key])) } });
			},
			(m) => {
				const keys = Object.keys(m.data);
				if (keys.length === 0) return JSON.stringify({ ...m, data: { unexpected: 1 } });
				const data = { ...m.data };
				delete data[pick(keys)];
				return JSON.stringify({ ...m, data });
			},
			() => Buffer.from(Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256))), // binary
			(m) => `\u0000${JSON.stringify(m)}`, // text that is not JSON
			() => pick(['null', '[]', '"str"', '123', 'true', '{}', '', ' ', '\u0000', '[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]']),
			(m) => `${'['.repeat(5000)}${JSON.stringify(m)}${']'.repeat(5000)}`,
			(m) => JSON.stringify({ ...m, data: { ...m.data, pad: 'x'.repeat(maxMessageBytes) } }),
		];

		const count = 3000;
		const sentAt = host.replies.length;
		for (let i = 0; i < count; i++) {
			const message = pick(mutations)(structuredClone(pick(templates)));
			// Every tenth binary payload goes as a text frame: invalid UTF-8 must not close the connection.
			host.socket.send(message, { binary: Buffer.isBuffer(message) && i % 10 !== 0 });
		}
		const replies = await host.until(() => (host.replies.length >= sentAt + count ? host.replies.slice(sentAt) : undefined), `${count} replies`, 30_000);
		expect(replies).toHaveLength(count);
		const codes = new Map<string, number>();
		for (const r of replies) codes.set(r.ok ? 'OK' : r.error!.code, (codes.get(r.ok ? 'OK' : r.error!.code) ?? 0) + 1);
		expect(codes.get('OK')).toBeUndefined();
		expect([...codes.keys()].every((c) => ['bad_request', 'unknown_message', 'payload_too_large'].includes(c))).toBe(true);

		// Same connection, same process, same state.
		expect(host.closeCode).toBeUndefined();
		expect(bystander.closeCode).toBeUndefined();
		expect(await host.request('getState')).toEqual(stateBefore);
		expect(await snapshotRedis(redis, `${node.redisPrefix}:*`)).toEqual(redisBefore);
		host.close();
		bystander.close();
	});

	it('accepts the unmutated templates, so the mutations above are what the server refused', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		const listener = await SignalingClient.connect(node.wsUrl, lee.token);
		await listener.request('raiseHand');
		for (const [name, data] of [
			['pin', { participantId: hostId }],
			['reorderPins', { participantIds: [hostId] }],
			['mute', { participantId: hostId }],
			['react', { reaction: 'clap' }],
			['createTransport', { direction: 'send' }],
			['approveHand', { participantId: lee.participantId }],
			['setCoHost', { participantId: lee.participantId, cohost: true }],
			['remove', { participantId: lee.participantId, ban: true }],
			['endSpace', {}],
		] as const) {
			expect([name, (await host.send(name, data)).ok]).toEqual([name, true]);
		}
		expect(requestNames).toContain('denyHand');
		host.close();
		listener.close();
	});
});
