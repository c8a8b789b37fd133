import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectRedis, publishCaption, readCaptionLog, type StageLinkSnapshot } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { CaptionRelay } from '../src/captions/CaptionRelay.js';
import { authSubprotocols, type CaptionCueInfo, type EventData } from '../src/signaling/protocol.js';
import { asSpaceId } from '../src/spaces/Space.js';
import { startBroadcastRig, type BroadcastRig } from './support/broadcastRig.js';
import { rawUpgrade } from './support/rawUpgrade.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let hlsRoot: string;
let redis: Redis;
const clients: SignalingClient[] = [];

beforeAll(async () => {
	hlsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-captioner-'));
	node = await startTestNode(inject('redisUrl'), {}, { hlsRoot });
	redis = connectRedis(inject('redisUrl'), 'test');
});
afterEach(() => {
	for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
	redis?.disconnect();
	await node?.close();
	fs.rmSync(hlsRoot, { recursive: true, force: true });
});

async function connect(token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

/** A live space with captions on, a speaker on stage and a listener, all connected. */
async function captionedSpace(captionMode = 'sidecar') {
	const { spaceId, hostToken } = await createLiveSpace(node, { captionMode });
	const host = await connect(hostToken);
	const speakerJoin = await joinSpace(node, spaceId, 'Sam Speaker');
	const speaker = await connect(speakerJoin.token);
	await speaker.request('raiseHand');
	await host.request('approveHand', { participantId: speakerJoin.participantId });
	const listenerJoin = await joinSpace(node, spaceId, 'Lee Listener');
	const listener = await connect(listenerJoin.token);
	return { spaceId, hostToken, host, speaker, speakerToken: (await speaker.waitFor('tokenRenewed')).token, listener, listenerToken: listenerJoin.token };
}

async function captionerToken(spaceId: string, hostToken: string, body: unknown = { name: 'Cara Captioner' }): Promise<string> {
	const res = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/captioner-token`, body, hostToken);
	expect(res.status).toBe(201);
	return (res.body as { token: string }).token;
}

const push = (spaceId: string, token: string | undefined, body: unknown) => postJson(`${node.baseUrl}/api/spaces/${spaceId}/captions`, body, token);

/** Every cue a client received in `caption` events, in order. */
const cuesOf = (c: SignalingClient): CaptionCueInfo[] => c.events.filter((e) => e.event === 'caption').flatMap((e) => (e.data as EventData['caption']).cues);

describe('captioner API', () => {
	it("a captioner's partial and final reach the stage (not listeners, who read the HLS track) over signaling under one cue id, and the final is logged", async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		const partial = await push(s.spaceId, token, { text: 'Welcome to', final: false });
		expect(partial.status).toBe(202);
		await s.speaker.until(() => cuesOf(s.speaker).find((c) => c.text === 'Welcome to'), 'the partial');
		const final = await push(s.spaceId, token, { text: 'Welcome to the show', speakerName: 'Hana Host', final: true });
		expect(final.status).toBe(202);
		for (const c of [s.speaker, s.host]) {
			const cue = await c.until(() => cuesOf(c).find((x) => x.final), 'the final');
			expect(cue).toMatchObject({ text: 'Welcome to the show', speakerName: 'Hana Host', source: 'captioner', final: true });
			expect(cue.endMs).toBeGreaterThanOrEqual(cue.startMs);
		}
		const seen = cuesOf(s.speaker);
		expect(new Set(seen.map((c) => c.id)).size).toBe(1);
		const log = await readCaptionLog(redis, node.redisPrefix, s.spaceId);
		expect(log.map((c) => [c.text, c.final, c.source])).toEqual([['Welcome to the show', true, 'captioner']]);
		// Without a speaker name the token's name is used; a new utterance gets a new id.
		await push(s.spaceId, token, { text: 'Next question' });
		const next = await s.speaker.until(() => cuesOf(s.speaker).find((c) => c.text === 'Next question'), 'the next cue');
		expect(next.speakerName).toBe('Cara Captioner');
		expect(next.id).not.toBe(seen[0]!.id);
		// The host got the same events after the listener's socket was open: none reached the listener.
		await s.host.until(() => cuesOf(s.host).find((c) => c.text === 'Next question'), 'the next cue at the host');
		expect(cuesOf(s.listener)).toEqual([]);
	});

	it('refuses a listener token, an expired or foreign captioner token, and a token of another space', async () => {
		const s = await captionedSpace();
		const other = await createLiveSpace(node, { captionMode: 'sidecar' });
		expect((await push(s.spaceId, undefined, { text: 'x' })).status).toBe(401);
		expect((await push(s.spaceId, s.listenerToken, { text: 'x' })).status).toBe(401);
		expect((await push(s.spaceId, s.hostToken, { text: 'x' })).status).toBe(401);
		const sign = (key: Uint8Array, expS: number) =>
			new SignJWT({ spc: s.spaceId, name: 'Eve' }).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setIssuer('tribune').setAudience('tribune-captioner').setExpirationTime(expS).sign(key);
		const expired = await push(s.spaceId, await sign(node.tokenKey, Math.floor(Date.now() / 1000) - 5), { text: 'x' });
		expect(expired.status).toBe(401);
		expect(expired.body.error?.message).toMatch(/expired/);
		expect((await push(s.spaceId, await sign(new TextEncoder().encode('x'.repeat(40)), Math.floor(Date.now() / 1000) + 60), { text: 'x' })).status).toBe(401);
		const otherToken = await captionerToken(other.spaceId, other.hostToken);
		expect((await push(s.spaceId, otherToken, { text: 'x' })).body.error?.code).toBe('forbidden');
		expect(await readCaptionLog(redis, node.redisPrefix, s.spaceId)).toEqual([]);
	});

	it('only a host or co-host issues captioner tokens', async () => {
		const s = await captionedSpace();
		for (const token of [s.speakerToken, s.listenerToken]) {
			expect((await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/captioner-token`, {}, token)).body.error?.code).toBe('forbidden');
		}
		const captioner = await captionerToken(s.spaceId, s.hostToken);
		expect((await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/captioner-token`, {}, captioner)).status).toBe(401);
		// The name cues carry is checked like a push's speaker name.
		expect((await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/captioner-token`, { name: 'Cap\u202E' }, s.hostToken)).status).toBe(400);
	});

	it('a captioner token cannot connect to signaling (no hands, publishing or roles) nor act on the space over REST', async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		await expect(SignalingClient.connect(node.wsUrl, token)).rejects.toThrow(/401/);
		for (const route of ['start', 'end', 'caption-mode', 'synthetic-speakers']) {
			const res = await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/${route}`, { captionMode: 'off' }, token);
			expect([401, 404]).toContain(res.status);
			if (route !== 'synthetic-speakers') expect(res.status).toBe(401);
		}
		const joined = await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/join`, { displayName: 'Cap', token });
		// Joining from the share link is open to anyone, but as a new listener, never as the captioner.
		expect(joined.body.participant?.role).toBe('listener');
		expect((await node.spaces.service.getSpace(s.spaceId as never)).state).toBe('live');
	});

	it('validates pushes: size, control characters, unknown fields; and refuses them when captions are off or the space ended', async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		for (const body of [{ text: 'x'.repeat(501) }, { text: '' }, { text: 'a\u0007b' }, { text: 'ok', speakerName: '\u202Enosnah' }, { text: 'a \u2066b' }, { text: 'ok', admin: true }, { text: 'ok', final: 'yes' }, 'text']) {
			expect((await push(s.spaceId, token, body)).status).toBe(400);
		}
		const huge = await push(s.spaceId, token, { text: 'x'.repeat(10_000) });
		expect(huge.status).toBe(413);
		await s.host.request('setCaptionMode', { captionMode: 'off' });
		expect((await push(s.spaceId, token, { text: 'hello' })).body.error?.code).toBe('conflict');
		await s.host.request('endSpace');
		expect((await push(s.spaceId, token, { text: 'hello' })).body.error?.code).toBe('space_ended');
	});

	it('rate-limits each captioner token', async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		const statuses: number[] = [];
		// All at once: sent one after another, a loaded machine can take long enough for the bucket to refill.
		statuses.push(...(await Promise.all(Array.from({ length: 60 }, (_, i) => push(s.spaceId, token, { text: `line ${i}`, final: false })))).map((r) => r.status));
		expect(statuses.filter((x) => x === 202).length).toBeGreaterThanOrEqual(20);
		expect(statuses.filter((x) => x === 429).length).toBeGreaterThan(0);
		expect(new Set(statuses)).toEqual(new Set([202, 429]));
		// Another captioner's token has its own budget.
		expect((await push(s.spaceId, await captionerToken(s.spaceId, s.hostToken), { text: 'fresh' })).status).toBe(202);
	});
});

describe('captioner WebSocket', () => {
	const open = (token: string) =>
		new Promise<WebSocket>((resolve, reject) => {
			const ws = new WebSocket(`${node.wsUrl.replace(/\/ws$/, '')}/captions/ws`, authSubprotocols(token));
			ws.once('open', () => resolve(ws));
			ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
			ws.once('error', reject);
		});
	const replies = (ws: WebSocket) => {
		const got: { ok: boolean; cue?: CaptionCueInfo; error?: { code: string } }[] = [];
		ws.on('message', (raw) => got.push(JSON.parse(String(raw)) as (typeof got)[number]));
		return got;
	};

	it("pushes over one connection reach the stage like REST pushes; bad messages get error replies and the connection stays", async () => {
		const s = await captionedSpace();
		const ws = await open(await captionerToken(s.spaceId, s.hostToken));
		try {
			const got = replies(ws);
			ws.send(JSON.stringify({ text: 'Over the', final: false }));
			ws.send(JSON.stringify({ text: 'Over the socket', final: true, speakerName: 'Sol Service' }));
			ws.send('not json');
			ws.send(JSON.stringify({ text: 'x', admin: true }));
			ws.send(Buffer.alloc(10_000, 'a'));
			await expect.poll(() => got.length, { timeout: 10_000 }).toBe(5);
			expect(got.map((r) => (r.ok ? 'ok' : r.error!.code))).toEqual(['ok', 'ok', 'bad_request', 'bad_request', 'payload_too_large']);
			expect(got[0]!.cue!.id).toBe(got[1]!.cue!.id);
			const cue = await s.speaker.until(() => cuesOf(s.speaker).find((c) => c.final), 'the final');
			expect(cue).toMatchObject({ text: 'Over the socket', speakerName: 'Sol Service', source: 'captioner' });
			expect(ws.readyState).toBe(WebSocket.OPEN);
		} finally {
			ws.close();
		}
	});

	it('a flood of pushes is answered in order, one reply each, and the connection still works after (paused, not dropped)', async () => {
		const s = await captionedSpace();
		const ws = await open(await captionerToken(s.spaceId, s.hostToken));
		try {
			const got = replies(ws);
			// Far more than the pushes a connection may have waiting (maxWaitingPushes) and than the rate allows.
			const flood = 200;
			for (let i = 0; i < flood; i++) ws.send(JSON.stringify({ text: `word ${i}`, final: false }));
			await expect.poll(() => got.length, { timeout: 30_000 }).toBe(flood);
			const codes = got.map((r) => (r.ok ? 'ok' : r.error!.code));
			expect(codes.filter((c) => c === 'ok').length).toBeGreaterThan(0);
			expect(codes.filter((c) => c === 'rate_limited').length).toBeGreaterThan(0);
			expect(new Set(codes)).toEqual(new Set(['ok', 'rate_limited']));
			const texts = got.filter((r) => r.ok).map((r) => Number(r.cue!.text.split(' ')[1]));
			expect(texts).toEqual([...texts].sort((a, b) => a - b));
			await expect.poll(() => got.length, { timeout: 1000 }).toBe(flood);
			expect(ws.readyState).toBe(WebSocket.OPEN);
			// Once the bucket refills the connection takes pushes again.
			await new Promise((r) => setTimeout(r, 1500));
			ws.send(JSON.stringify({ text: 'after the flood', final: true }));
			await expect.poll(() => got.length, { timeout: 10_000 }).toBe(flood + 1);
			expect(got[flood]).toMatchObject({ ok: true, cue: { text: 'after the flood', final: true } });
		} finally {
			ws.close();
		}
	});

	it('a host revokes the captioner tokens: old ones are refused over REST and their WebSocket closes, a new one works', async () => {
		const s = await captionedSpace();
		const before = await captionerToken(s.spaceId, s.hostToken);
		const ws = await open(before);
		const got = replies(ws);
		const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
		expect((await push(s.spaceId, before, { text: 'before' })).status).toBe(202);
		const revoke = (token: string) => postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/captioner-tokens/revoke`, {}, token);
		for (const token of [s.listenerToken, s.speakerToken]) expect((await revoke(token)).body.error?.code).toBe('forbidden');
		expect((await revoke(before)).status).toBe(401);
		expect((await push(s.spaceId, before, { text: 'still fine' })).status).toBe(202);
		expect((await revoke(s.hostToken)).status).toBe(200);
		const refused = await push(s.spaceId, before, { text: 'after' });
		expect(refused.status).toBe(401);
		expect(refused.body.error?.message).toMatch(/revoked/);
		ws.send(JSON.stringify({ text: 'after, on the socket' }));
		expect(await closed).toBe(4011);
		expect(got.map((r) => (r.ok ? 'ok' : r.error!.code))).toEqual(['unauthorized']);
		// Nor does a revoked token get a new connection.
		await expect(open(before)).rejects.toThrow(/401/);
		const after = await captionerToken(s.spaceId, s.hostToken);
		expect((await push(s.spaceId, after, { text: 'a new token' })).status).toBe(202);
	});

	it('once the space has ended, a push is told so and the connection is closed', async () => {
		const s = await captionedSpace();
		const ws = await open(await captionerToken(s.spaceId, s.hostToken));
		const got = replies(ws);
		const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
		ws.send(JSON.stringify({ text: 'before the end' }));
		await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
		await s.host.request('endSpace');
		ws.send(JSON.stringify({ text: 'after the end' }));
		expect(await closed).toBe(4010);
		expect(got.map((r) => (r.ok ? 'ok' : r.error!.code))).toEqual(['ok', 'space_ended']);
	});

	it('refuses a participant token, a token of nobody and no token at the upgrade', async () => {
		const s = await captionedSpace();
		for (const token of [s.hostToken, s.listenerToken, 'garbage', '']) await expect(open(token)).rejects.toThrow(/401/);
	});

	it('takes the token from the subprotocol (selecting only tribune.v1) or a bearer header, never from the URL by default', async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		const offered = await rawUpgrade(node.wsUrl, '/captions/ws', { 'Sec-WebSocket-Protocol': authSubprotocols(token).join(', ') });
		expect(offered.status).toBe(101);
		expect(offered.headers['sec-websocket-protocol']).toBe('tribune.v1');
		expect(offered.text).not.toContain(token);
		expect((await rawUpgrade(node.wsUrl, '/captions/ws', { Authorization: `Bearer ${token}` })).status).toBe(101);
		const inUrl = await rawUpgrade(node.wsUrl, `/captions/ws?token=${token}`, {});
		expect(inUrl.status).toBe(400);
		expect(inUrl.text).not.toContain(token);
	});
});

describe('live captions over signaling', () => {
	it('batches many cues into few events, keeps every final and replaces partials by their final', async () => {
		const s = await captionedSpace();
		const tokens = await Promise.all([1, 2, 3].map(() => captionerToken(s.spaceId, s.hostToken)));
		// Three captioners, each a few partials then a final, concurrently.
		await Promise.all(
			tokens.map(async (token, i) => {
				for (let w = 1; w <= 4; w++) await push(s.spaceId, token, { text: `speaker ${i} word ${w}`, final: w === 4, speakerName: `S${i}` });
			}),
		);
		await s.speaker.until(() => (cuesOf(s.speaker).filter((c) => c.final).length === 3 ? true : undefined), 'three finals');
		const cues = cuesOf(s.speaker);
		// For each utterance, its final is the last cue with its id.
		for (const i of [0, 1, 2]) {
			const mine = cues.filter((c) => c.speakerName === `S${i}`);
			expect(new Set(mine.map((c) => c.id)).size).toBe(1);
			expect(mine.at(-1)).toMatchObject({ final: true, text: `speaker ${i} word 4` });
		}
		// Cues published together (one pipelined write) reach a client in one or two events, their superseded
		// partials dropped: the batching itself, whatever the machine's load.
		const eventsBefore = s.speaker.events.filter((e) => e.event === 'caption').length;
		const cuesBefore = cuesOf(s.speaker).length;
		await Promise.all(
			[0, 1, 2].flatMap((u) =>
				[1, 2, 3, 4].map((w) => publishCaption(redis, node.redisPrefix, { spaceId: s.spaceId, id: `burst-${u}`, speakerName: 'Ann', text: `burst ${u} word ${w}`, final: w === 4, startMs: 1, endMs: 2, source: 'asr' })),
			),
		);
		await s.speaker.until(() => (cuesOf(s.speaker).filter((c) => c.final && c.id.startsWith('burst-')).length === 3 ? true : undefined), 'the burst');
		expect(s.speaker.events.filter((e) => e.event === 'caption').length - eventsBefore).toBeLessThanOrEqual(2);
		expect(cuesOf(s.speaker).length - cuesBefore).toBeLessThan(12);
	});

	it('a node relays captions only while it has connections in the space, and again after they return', async () => {
		const s = await captionedSpace();
		const token = await captionerToken(s.spaceId, s.hostToken);
		expect(node.spaces.captions.relay.watching).toBeGreaterThan(0);
		s.host.close();
		s.speaker.close();
		s.listener.close();
		// The host comes back (listeners do not get live captions over signaling).
		const again = await connect((await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/join`, { displayName: 'Hana', token: s.hostToken })).body.token!);
		await push(s.spaceId, token, { text: 'still here' });
		await again.until(() => cuesOf(again).find((c) => c.text === 'still here'), 'the cue after reconnecting');
	});
});

describe('CaptionRelay', () => {
	it('stops relaying after unwatch, and relays again when watched right after', async () => {
		const delivered: { spaceId: string; texts: string[] }[] = [];
		const relay = new CaptionRelay({
			subscriber: redis.duplicate(),
			prefix: node.redisPrefix,
			logger: pino({ level: 'silent' }),
			deliver: (spaceId, cues) => delivered.push({ spaceId, texts: cues.map((c) => c.text) }),
			batchMs: 10,
			lingerMs: 0,
		});
		const spaceId = asSpaceId('relaySpace1');
		const cue = (text: string) => publishCaption(redis, node.redisPrefix, { spaceId, id: text, speakerName: 'Ann', text, final: true, startMs: 1, endMs: 2, source: 'asr' });
		const seen = (text: string) => delivered.some((d) => d.spaceId === spaceId && d.texts.includes(text));
		try {
			relay.watch(spaceId);
			await expect.poll(async () => (await cue('one'), seen('one')), { timeout: 10_000, interval: 200 }).toBe(true);
			relay.unwatch(spaceId);
			// Unwatched, then watched again at once (a reload): the new subscription is live after the old one's unsubscribe.
			relay.watch(spaceId);
			await expect.poll(async () => (await cue('two'), seen('two')), { timeout: 10_000, interval: 200 }).toBe(true);
			relay.unwatch(spaceId);
			await new Promise((resolve) => setTimeout(resolve, 300));
			await cue('three');
			await new Promise((resolve) => setTimeout(resolve, 300));
			expect(seen('three')).toBe(false);
			expect(relay.watching).toBe(0);
		} finally {
			relay.close();
		}
	});
});

describe('caption mode', () => {
	let rig: BroadcastRig;

	beforeAll(async () => {
		rig = await startBroadcastRig(node, redis, 'node-c');
	});
	afterAll(async () => {
		await rig?.close();
	});

	it('the host changes it live: everyone is told, the stage snapshot carries it, speakers and listeners may not', async () => {
		const s = await captionedSpace('off');
		await expect.poll(async () => (await rig.client.snapshot(s.spaceId))?.captionMode, { timeout: 10_000 }).toBe('off');
		const seen: StageLinkSnapshot[] = [];
		const unwatch = await rig.client.watch(s.spaceId, (snap) => seen.push(snap));
		try {
			const reply = await s.host.request('setCaptionMode', { captionMode: 'both' });
			expect(reply.space.settings.captionMode).toBe('both');
			for (const c of [s.speaker, s.listener]) {
				expect((await c.waitFor('spaceSettings')).space.settings.captionMode).toBe('both');
			}
			await expect.poll(() => seen.at(-1)?.captionMode, { timeout: 10_000 }).toBe('both');
			await expect(s.speaker.request('setCaptionMode', { captionMode: 'off' })).rejects.toMatchObject({ code: 'forbidden' });
			await expect(s.listener.request('setCaptionMode', { captionMode: 'off' })).rejects.toMatchObject({ code: 'forbidden' });
			await expect(s.host.request('setCaptionMode', { captionMode: 'loud' })).rejects.toMatchObject({ code: 'bad_request' });
			// Over REST too, with the same rules.
			expect((await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/caption-mode`, { captionMode: 'sidecar' }, s.listenerToken)).body.error?.code).toBe('forbidden');
			const rest = await postJson(`${node.baseUrl}/api/spaces/${s.spaceId}/caption-mode`, { captionMode: 'sidecar' }, s.hostToken);
			expect(rest.body.space?.settings.captionMode).toBe('sidecar');
			await expect.poll(() => seen.at(-1)?.captionMode, { timeout: 10_000 }).toBe('sidecar');
			expect((await node.spaces.service.getSpace(s.spaceId as never)).settings.captionMode).toBe('sidecar');
		} finally {
			await unwatch();
		}
	});
});

describe('transcripts', () => {
	it('serves the four formats of a replay with their content types, and 404 when missing', async () => {
		const spaceId = 'transcriptSpace1';
		fs.mkdirSync(path.join(hlsRoot, spaceId), { recursive: true });
		const files = {
			vtt: 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ann>Hello\n',
			srt: '1\n00:00:01,000 --> 00:00:02,000\nAnn: Hello\n',
			txt: '[00:00:01] Ann: Hello\n',
			json: JSON.stringify({ cues: [{ startS: 1, endS: 2, speakerName: 'Ann', text: 'Hello' }] }),
		};
		for (const [ext, content] of Object.entries(files)) fs.writeFileSync(path.join(hlsRoot, spaceId, `transcript.${ext}`), content);
		const types = { vtt: 'text/vtt', srt: 'application/x-subrip', txt: 'text/plain', json: 'application/json' };
		for (const [ext, content] of Object.entries(files)) {
			const res = await fetch(`${node.baseUrl}/api/spaces/${spaceId}/transcript.${ext}`);
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toContain(types[ext as keyof typeof types]);
			expect(await res.text()).toBe(content);
		}
		const missing = await fetch(`${node.baseUrl}/api/spaces/noTranscriptHere/transcript.vtt`);
		expect(missing.status).toBe(404);
		expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/transcript/);
	});

	it('refuses path tricks', async () => {
		fs.writeFileSync(path.join(hlsRoot, 'secret.txt'), 'secret');
		for (const url of ['/api/spaces/..%2F..%2Fetc/transcript.txt', '/api/spaces/x/transcript.txt%00', '/api/spaces/x/..%2Fsecret.txt', '/api/spaces/%2E%2E/transcript.txt', '/api/spaces/x/transcript.exe']) {
			const res = await fetch(`${node.baseUrl}${url}`);
			expect([400, 404]).toContain(res.status);
			expect(await res.text()).not.toContain('secret');
		}
	});
});
