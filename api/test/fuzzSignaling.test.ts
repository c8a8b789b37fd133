import fs from 'node:fs';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { errorCatalogue } from '../src/errors.js';
import { maxMessageBytes } from '../src/signaling/protocol.js';
import { rawUpgrade } from './support/rawUpgrade.js';
import { SignalingClient } from './support/SignalingClient.js';
import { prng, snapshotRedis } from './support/fuzzing.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * WebSocket fuzzing against a real API node (real Redis, real mediasoup worker): valid requests from a listener
 * and a speaker, mutated (bit flips, truncation, huge strings, wrong types, unknown names, deep nesting, prototype
 * keys) or sent as they are where their role may not make them (a listener approving its own hand, pinning,
 * ending the space…), and forged, expired and mutated tokens at the upgrade. Nothing may crash, every reply must
 * be a well-formed reply, and the space in Redis must be exactly as before.
 *
 * `npm run fuzz`: TRIBUNE_BENCH=1, 100 000 messages (TRIBUNE_FUZZ_COUNT); otherwise 10 000 (CI). Seeded
 * (TRIBUNE_FUZZ_SEED) so a failure replays. Counts and rate go to stdout (JSON) and to TRIBUNE_BENCH_OUT.
 */
const count = Number(process.env.TRIBUNE_FUZZ_COUNT ?? (process.env.TRIBUNE_BENCH === '1' ? 100_000 : 10_000));
const seed = Number(process.env.TRIBUNE_FUZZ_SEED ?? 20261129);
/** Messages in flight per connection before waiting for their replies. */
const window = 500;

/**
 * Every Redis value of the space, but what a timer refreshes with a timestamp: its listener tally aside, and of its
 * presence (`:seen`, participant → last connected) who is in it, not when they were last marked.
 */
async function snapshotSpace(redis: Redis, prefix: string, spaceId: string): Promise<Record<string, unknown>> {
	const snapshot = await snapshotRedis(redis, `${prefix}:space:{${spaceId}}*`, (key) => key.endsWith(':listeners'));
	for (const [key, value] of Object.entries(snapshot)) {
		if (key.endsWith(':seen') && Array.isArray(value)) snapshot[key] = value.filter((_, i) => i % 2 === 0).sort();
	}
	return snapshot;
}

interface Template {
	id: number;
	name: string;
	data: Record<string, unknown>;
}

const errorCodes = new Set(Object.keys(errorCatalogue));

let node: TestNode;
let redis: Redis;
beforeAll(async () => {
	// Limits high enough that the validators and grant checks, not the rate limiter, answer the flood.
	node = await startTestNode(inject('redisUrl'), {
		limits: { requests: { burst: 1e7, perSecond: 1e7 }, reactions: { burst: 1e7, perSecond: 1e7 }, handRaises: { burst: 1e7, perSecond: 1e7 }, maxQueuedRequests: 10_000 },
	});
	redis = connectRedis(inject('redisUrl'), 'fuzz-test');
});
afterAll(async () => {
	redis?.disconnect();
	await node?.close();
});

describe('WebSocket fuzzing', () => {
	it(`${count} mutated and unauthorised messages, and hostile tokens: no crash, well-formed replies, no state change`, async () => {
		const started = performance.now();
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const [lee, sam, max] = await Promise.all([joinSpace(node, spaceId, 'Lee'), joinSpace(node, spaceId, 'Sam'), joinSpace(node, spaceId, 'Max')]);
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		const listener = await SignalingClient.connect(node.wsUrl, lee.token);
		const waiting = await SignalingClient.connect(node.wsUrl, max.token);
		const speakerAsListener = await SignalingClient.connect(node.wsUrl, sam.token);
		// Sam goes on stage (and reconnects with the speaker token); Max waits with a raised hand; Sam is muted by the host.
		await speakerAsListener.request('raiseHand');
		await host.request('approveHand', { participantId: sam.participantId });
		const samToken = (await speakerAsListener.waitFor('tokenRenewed')).token;
		speakerAsListener.close();
		const speaker = await SignalingClient.connect(node.wsUrl, samToken);
		await host.request('mute', { participantId: sam.participantId });
		await waiting.request('raiseHand');
		await host.request('pin', { participantId: hostId });
		// Lee and Max listen (Sam came back as a speaker).
		const stateBefore = await host.settledState(2);
		const redisBefore = await snapshotSpace(redis, node.redisPrefix, spaceId);

		const ids = { host: hostId, lee: lee.participantId, sam: sam.participantId, max: max.participantId, nobody: 'AAAAAAAAAAAAAAAAAAAAAAAA' };
		// Role escalation: what a listener and a muted speaker may not do, as well-formed requests.
		const listenerTemplates: Template[] = [
			{ id: 1, name: 'approveHand', data: { participantId: ids.lee } },
			{ id: 2, name: 'approveHand', data: { participantId: ids.max } },
			{ id: 3, name: 'setCoHost', data: { participantId: ids.lee, cohost: true } },
			{ id: 4, name: 'pin', data: { participantId: ids.sam } },
			{ id: 5, name: 'unpin', data: { participantId: ids.host } },
			{ id: 6, name: 'reorderPins', data: { participantIds: [ids.host] } },
			{ id: 7, name: 'remove', data: { participantId: ids.host, ban: true } },
			{ id: 8, name: 'remove', data: { participantId: ids.max, ban: false } },
			{ id: 9, name: 'demote', data: { participantId: ids.sam } },
			{ id: 10, name: 'mute', data: { participantId: ids.host } },
			{ id: 11, name: 'unmute', data: { participantId: ids.sam } },
			{ id: 12, name: 'endSpace', data: {} },
			{ id: 13, name: 'startSpace', data: {} },
			{ id: 14, name: 'denyHand', data: { participantId: ids.max } },
			{ id: 15, name: 'leaveStage', data: {} },
			{ id: 16, name: 'createTransport', data: { direction: 'send' } },
			{ id: 17, name: 'produce', data: { transportId: 'abc', kind: 'audio', rtpParameters: { codecs: [] } } },
			{ id: 18, name: 'setCaptionMode', data: { captionMode: 'sidecar' } },
			{ id: 19, name: 'react', data: { reaction: 'clap' } },
			{ id: 20, name: 'getState', data: {} },
			{ id: 21, name: 'revokeTokens', data: { participantId: ids.host } },
			{ id: 22, name: 'revokeTokens', data: { participantId: ids.sam } },
		];
		const speakerTemplates: Template[] = [
			{ id: 31, name: 'unmute', data: { participantId: ids.sam } }, // muted by the host: only a host may undo it
			{ id: 32, name: 'setCoHost', data: { participantId: ids.sam, cohost: true } },
			{ id: 33, name: 'approveHand', data: { participantId: ids.max } },
			{ id: 34, name: 'pin', data: { participantId: ids.sam } },
			{ id: 35, name: 'demote', data: { participantId: ids.host } },
			{ id: 36, name: 'remove', data: { participantId: ids.lee, ban: true } },
			{ id: 37, name: 'mute', data: { participantId: ids.host } },
			{ id: 38, name: 'endSpace', data: {} },
			{ id: 39, name: 'raiseHand', data: {} },
			{ id: 40, name: 'renewToken', data: {} },
			{ id: 41, name: 'revokeTokens', data: { participantId: ids.lee } },
			{ id: 42, name: 'revokeTokens', data: { participantId: ids.host } },
		];

		const random = prng(seed);
		const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
		const int = (n: number) => Math.floor(random() * n);
		const oddValues: unknown[] = [42, -1.5, 1e308, 'x', '', null, true, [], [1, 'a'], { a: 1 }, '../../etc/passwd', '\u0000', 'a'.repeat(65), '💥', { $gt: '' }];
		const otherId = () => pick([...Object.values(ids), 'x'.repeat(64), '-', '__proto__']);
		const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
		const mutations: [string, (m: Template) => string | Buffer][] = [
			['as is', (m) => JSON.stringify(m)],
			['bit flips', (m) => {
				const bytes = Buffer.from(JSON.stringify(m));
				for (let i = 0, n = 1 + int(3); i < n; i++) bytes[int(bytes.length)]! ^= 1 << int(8);
				return bytes; // sent as a text frame: possibly invalid UTF-8
			}],
			['truncated', (m) => JSON.stringify(m).slice(0, int(JSON.stringify(m).length))],
			['huge string', (m) => JSON.stringify({ ...m, data: { ...m.data, [pick([...Object.keys(m.data), 'pad'])]: 'x'.repeat(pick([1000, maxMessageBytes - 40, maxMessageBytes + 10])) } })],
			['wrong type', (m) => {
				const keys = Object.keys(m.data);
				if (keys.length === 0) return JSON.stringify({ ...m, data: pick([null, [], 'x', 1, { x: 1 }]) });
				return JSON.stringify({ ...m, data: { ...m.data, [pick(keys)]: pick(oddValues) } });
			}],
			['other target', (m) => JSON.stringify({ ...m, data: 'participantId' in m.data ? { ...m.data, participantId: otherId() } : m.data })],
			['unknown name', (m) => JSON.stringify({ ...m, name: pick([`${m.name}x`, m.name.toUpperCase(), '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', ' getState', 'x'.repeat(64), 'x'.repeat(65), 'promote', 'setRole', 'grant']) })],
			['bad id', (m) => JSON.stringify({ ...m, id: pick([-1, 1.5, 2 ** 40, '7', null, [], {}, 'NaN']) })],
			['missing field', (m) => {
				const copy: Partial<Template> = { ...m };
				delete copy[pick(['id', 'name', 'data'] as const)];
				return JSON.stringify(copy);
			}],
			['extra field', (m) => JSON.stringify({ ...m, [pick(['role', 'admin', 'token'])]: 'host', data: { ...m.data, [pick(['role', 'force', 'as'])]: pick(['host', true]) } })],
			['prototype keys', (m) => `{"id":${m.id},"name":"${m.name}","data":{"__proto__":{"role":"host"},"constructor":{"prototype":{"admin":true}}${Object.keys(m.data).length ? ',' : ''}${JSON.stringify(m.data).slice(1)}}`],
			['deep nesting', (m) => pick([`{"id":${m.id},"name":"${m.name}","data":${deep(1000 + int(20_000))}}`, `${'['.repeat(5000)}${JSON.stringify(m)}${']'.repeat(5000)}`])],
			['not an object', () => pick(['null', '[]', '"str"', '123', 'true', '{}', '', ' ', '\u0000', '\uFFFF'])],
			['binary', () => Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))],
		];

		const attackers = [
			{ client: listener, templates: listenerTemplates },
			{ client: speaker, templates: speakerTemplates },
		];
		const byMutation = new Map<string, number>();
		const byCode = new Map<string, number>();
		const problems: string[] = [];
		let sent = 0;
		while (sent < count) {
			const batch = Math.min(window, count - sent);
			const pending = attackers.map(({ client, templates }) => {
				const before = client.replies.length;
				let n = 0;
				for (let i = 0; i < batch / attackers.length; i++) {
					const [kind, mutate] = pick(mutations);
					const message = mutate(structuredClone(pick(templates)));
					byMutation.set(kind, (byMutation.get(kind) ?? 0) + 1);
					// Binary frames mostly; a tenth as text frames, invalid UTF-8 and all.
					client.socket.send(message, { binary: kind === 'binary' && random() < 0.9 });
					n++;
				}
				return { client, before, n };
			});
			for (const { client, before, n } of pending) {
				const replies = await client.until(() => (client.replies.length >= before + n ? client.replies.slice(before) : undefined), `${n} replies`, 60_000);
				for (const r of replies) {
					const code = r.ok ? 'OK' : (r.error?.code ?? '?');
					byCode.set(code, (byCode.get(code) ?? 0) + 1);
					const wellFormed = (r.id === null || Number.isSafeInteger(r.id)) && (r.ok ? r.data !== undefined : errorCodes.has(code) && typeof r.error?.message === 'string');
					if (!wellFormed) problems.push(`malformed reply ${JSON.stringify(r).slice(0, 200)}`);
				}
				sent += n;
			}
		}
		const messagesS = (performance.now() - started) / 1000;

		// Hostile tokens at the upgrade: none may connect as anyone but whom a valid token names.
		const key = node.tokenKey;
		const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
		const nowS = Math.floor(Date.now() / 1000);
		const sign = (claims: Record<string, unknown>, k: Uint8Array, exp: number | string = '1h') =>
			new SignJWT({ jti: `fuzz${int(1e9)}`, gen: 0, sst: nowS, idn: 'op:fuzz', ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(claims.sub ?? ids.lee)).setIssuer('tribune').setAudience('tribune-space').setIssuedAt().setExpirationTime(exp).sign(k);
		const forged: [string, () => Promise<string>][] = [
			['other key, host role', () => sign({ spc: spaceId, role: 'host', sub: ids.host }, new TextEncoder().encode('not-the-key-'.repeat(4)))],
			['expired', () => sign({ spc: spaceId, role: 'host', sub: ids.host }, key, Math.floor(Date.now() / 1000) - 60)],
			['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: ids.host, spc: spaceId, role: 'host', iss: 'tribune', aud: 'tribune-space', exp: 9e9 })}.`],
			['payload swapped', async () => {
				const [h, , s] = lee.token.split('.');
				return `${h}.${b64({ sub: ids.host, spc: spaceId, role: 'host', iss: 'tribune', aud: 'tribune-space', exp: 9e9 })}.${s}`;
			}],
			['unknown participant', () => sign({ spc: spaceId, role: 'host', sub: ids.nobody }, key)],
			['other space', () => sign({ spc: 'AAAAAAAAAAAAAAAAAAAAAA', role: 'host', sub: ids.host }, key)],
			['bit flip', async () => {
				const bytes = Buffer.from(lee.token);
				bytes[int(bytes.length)]! ^= 1 << int(7);
				return bytes.toString('latin1');
			}],
			['truncated', async () => lee.token.slice(0, int(lee.token.length))],
			['garbage', async () => pick(['', 'null', 'x'.repeat(5000), '../../', '%00', 'Bearer x', 'tribune.v1', '\u00ff\u00fe'])],
			// Lee's own claims, validly signed, but not Lee's current generation (revoked) or past the session's age.
			['revoked generation', () => sign({ spc: spaceId, role: 'listener', sub: ids.lee, gen: 1 + int(5) }, key)],
			['session too old', () => sign({ spc: spaceId, role: 'host', sub: ids.host, sst: nowS - 40 * 24 * 3600 }, key)],
		];
		/** A subprotocol a WebSocket client library will send; anything else goes in a hand-written upgrade. */
		const sendable = (token: string) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token);
		const tokenAttempts = Math.max(200, Math.round(count / 100));
		const tokenOutcomes = new Map<string, number>();
		for (let i = 0; i < tokenAttempts; i++) {
			const [kind, make] = pick(forged);
			const token = await make();
			let outcome: string;
			// The token in the URL (as clients did before) is refused whatever it is; so is one no client could send.
			const raw = random() < 0.1 ? `/ws?token=${encodeURIComponent(token)}` : sendable(token) ? undefined : '/ws';
			if (raw !== undefined) {
				const reply = await rawUpgrade(node.wsUrl, raw, raw === '/ws' ? { 'Sec-WebSocket-Protocol': `tribune.v1, tribune.token.${token}` } : {});
				outcome = String(reply.status);
				if (!['400', '401'].includes(outcome)) problems.push(`${kind} (${raw === '/ws' ? 'raw' : 'in URL'}): ${outcome}`);
				tokenOutcomes.set(outcome, (tokenOutcomes.get(outcome) ?? 0) + 1);
				continue;
			}
			try {
				const c = await SignalingClient.connect(node.wsUrl, token);
				// A flipped bit in a part base64url ignores leaves the token valid: it must still be Lee, a listener.
				const you = (await c.request('getState')).you;
				outcome = you.id === ids.lee && you.role === 'listener' ? 'still Lee' : `ESCALATED to ${you.id} ${you.role}`;
				c.close();
				if (outcome !== 'still Lee') problems.push(`${kind}: ${outcome}`);
			} catch (error) {
				outcome = /upgrade refused: (\d+)/.exec(String(error))?.[1] ?? String(error).slice(0, 60);
				if (!['400', '401', '403', '404', '410'].includes(outcome)) problems.push(`${kind}: ${outcome}`);
			}
			tokenOutcomes.set(outcome, (tokenOutcomes.get(outcome) ?? 0) + 1);
		}

		const totalS = (performance.now() - started) / 1000;
		const result = {
			ws_messages: sent,
			ws_messages_per_s: Math.round(sent / messagesS),
			token_attempts: tokenAttempts,
			problems: problems.length,
			replies_by_code: Object.fromEntries([...byCode].sort()),
			messages_by_mutation: Object.fromEntries([...byMutation].sort()),
			token_outcomes: Object.fromEntries([...tokenOutcomes].sort()),
			seconds: Number(totalS.toFixed(1)),
			seed,
		};
		console.log(JSON.stringify(result));
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);

		expect(problems.slice(0, 10)).toEqual([]);
		expect(sent).toBe(count);
		// The grant checks, not only the validators, answered: escalation attempts were refused as such.
		expect(byCode.get('forbidden') ?? 0).toBeGreaterThan(count / 50);
		// Nothing changed: the same connections, the same state, the same Redis.
		for (const c of [host, listener, speaker, waiting]) expect(c.closeCode).toBeUndefined();
		expect(await host.request('getState')).toEqual(stateBefore);
		expect(await snapshotSpace(redis, node.redisPrefix, spaceId)).toEqual(redisBefore);
		for (const c of [host, listener, speaker, waiting]) c.close();
	}, 900_000);
});
