import { randomBytes } from 'node:crypto';
import { connectRedis } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminSessions } from '../src/auth/AdminSessions.js';
import { maxHosts } from '../src/auth/HostIdentities.js';
import { HostInvites, maxInvites } from '../src/auth/HostInvites.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { SignalingClient } from './support/SignalingClient.js';

/**
 * The operator's server API, admin sessions, host invites and host identities against a real API process (`main.js`
 * as `npm start` runs it: hosting closed by default) on a real Redis.
 */
const adminKey = `operator-${randomBytes(24).toString('base64url')}`;
const prefix = 'tribune';
let cluster: Awaited<ReturnType<typeof startCluster>>;
let node: ApiProcess;
let redis: Redis;

beforeAll(async () => {
	cluster = await startCluster();
	// The test harness opens hosting for other tests; this node has the default, closed.
	node = await ApiProcess.start(cluster, { TRIBUNE_ADMIN_KEY: adminKey, TRIBUNE_OPEN_HOSTING: 'false' });
	redis = connectRedis(cluster.redisUrl, 'operator-test');
}, 120_000);
afterAll(async () => {
	redis?.disconnect();
	await node?.kill('SIGTERM');
	await cluster?.stop();
});

interface Reply {
	status: number;
	headers: Headers;
	// Bodies are checked field by field below.
	body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * A request to `node` (or `options.at`). `from`: the client address it comes from, through the loopback proxy the
 * node trusts (X-Forwarded-For): tests of refusals use addresses of their own, so the failed-auth throttle of one
 * does not lock out another.
 */
async function call(method: string, path: string, options: { bearer?: string; body?: unknown; from?: string; at?: ApiProcess } = {}): Promise<Reply> {
	const res = await fetch(`${(options.at ?? node).baseUrl}${path}`, {
		method,
		headers: {
			...(options.body !== undefined && { 'content-type': 'application/json' }),
			...(options.bearer !== undefined && { authorization: `Bearer ${options.bearer}` }),
			...(options.from !== undefined && { 'x-forwarded-for': options.from }),
		},
		...(options.body !== undefined && { body: JSON.stringify(options.body) }),
	});
	return { status: res.status, headers: res.headers, body: await res.json() };
}

let addresses = 0;
/** A client address no other request of this file comes from (TEST-NET-2). */
const newAddress = () => `198.51.100.${++addresses}`;

const asOperator = (method: string, path: string, body?: unknown) => call(method, `/api/server${path}`, { bearer: adminKey, body });

/** A host identity made from a fresh one-use invite. */
async function newHost(label = 'Guest host'): Promise<{ credential: string; hostId: string }> {
	const minted = await asOperator('POST', '/host-invites', { label });
	expect(minted.status).toBe(201);
	const code = /#code=(.+)$/.exec(minted.body.url)![1]!;
	const redeemed = await call('POST', '/api/host-invites/redeem', { body: { code } });
	expect(redeemed.status).toBe(200);
	return { credential: redeemed.body.credential, hostId: redeemed.body.host.id };
}

describe('operator credentials', () => {
	it('/api/server refuses a request without the admin key, or with a wrong one, and says how to authenticate', async () => {
		for (const bearer of [undefined, 'x'.repeat(43), `${adminKey}x`, adminKey.slice(0, -1)]) {
			const reply = await call('GET', '/api/server/spaces', { bearer });
			expect(reply.status).toBe(401);
			expect(reply.body.error.code).toBe('unauthorized');
			expect(reply.headers.get('www-authenticate')).toContain('Bearer');
			expect(reply.headers.get('cache-control')).toBe('no-store');
		}
		const ok = await asOperator('GET', '/spaces');
		expect(ok.status).toBe(200);
		expect(ok.headers.get('cache-control')).toBe('no-store');
	});

	it('an admin session from the admin key works like the key; a token of another kind does not', async () => {
		expect((await call('POST', '/api/admin/sessions', { body: {} })).status).toBe(401);
		const session = await call('POST', '/api/admin/sessions', { bearer: adminKey, body: {} });
		expect(session.status).toBe(200);
		expect(session.body.expiresAt - Date.now() / 1000).toBeGreaterThan(11.9 * 3600);
		expect((await call('GET', '/api/server/hosts', { bearer: session.body.token })).status).toBe(200);
		// A host credential is signed with the participant token key, for another audience.
		const { credential } = await newHost();
		expect((await call('GET', '/api/server/hosts', { bearer: credential })).status).toBe(401);
	});

	it('an identity credential, a participant token or a captioner token is refused at /api/server; an admin session cannot create a space', async () => {
		const from = newAddress();
		const created = await asOperator('POST', '/spaces', { title: 'Kinds', host: { sub: 'kinds-host', displayName: 'Kim' } });
		const spaceId = created.body.space.id as string;
		expect((await call('POST', `/api/spaces/${spaceId}/start`, { bearer: created.body.token, body: {} })).status).toBe(200);
		const joined = await call('POST', `/api/spaces/${spaceId}/join`, { body: { displayName: 'Jo' } });
		const captioner = await call('POST', `/api/spaces/${spaceId}/captioner-token`, { bearer: created.body.token, body: {} });
		expect(captioner.status).toBe(201);
		for (const [kind, bearer] of [['identity credential', joined.body.identity], ['participant token', joined.body.token], ["host's participant token", created.body.token], ['captioner token', captioner.body.token]]) {
			const reply = await call('GET', '/api/server/spaces', { bearer, from });
			expect(reply.status, kind).toBe(401);
			expect(reply.body.error.code, kind).toBe('unauthorized');
		}
		const session = await call('POST', '/api/admin/sessions', { bearer: adminKey, body: {} });
		const refused = await call('POST', '/api/spaces', { bearer: session.body.token, body: { title: 'Mine', hostName: 'Admin' } });
		expect(refused.status).toBe(401);
		expect(refused.body.error.code).toBe('unauthorized');
	});

	it('signing every admin session out ends them all; the key keeps working', async () => {
		const [one, two] = await Promise.all([1, 2].map(() => call('POST', '/api/admin/sessions', { bearer: adminKey, body: {} })));
		expect((await call('GET', '/api/server/hosts', { bearer: one!.body.token })).status).toBe(200);
		expect((await call('POST', '/api/server/sessions/revoke', { bearer: two!.body.token })).body).toEqual({ revoked: true });
		for (const session of [one!, two!]) {
			const reply = await call('GET', '/api/server/hosts', { bearer: session.body.token, from: newAddress() });
			expect(reply.status).toBe(401);
			expect(reply.body.error.message).toMatch(/signed out/);
		}
		expect((await asOperator('GET', '/hosts')).status).toBe(200);
		const fresh = await call('POST', '/api/admin/sessions', { bearer: adminKey, body: {} });
		expect((await call('GET', '/api/server/hosts', { bearer: fresh.body.token })).status).toBe(200);
	});

	it('a changed operator key ends the sessions signed under the old one', async () => {
		const session = await call('POST', '/api/admin/sessions', { bearer: adminKey, body: {} });
		// The same Redis, the key changed (as a restart with another TRIBUNE_ADMIN_KEY would be).
		const rekeyed = await ApiProcess.start(cluster, { TRIBUNE_ADMIN_KEY: `${adminKey}-changed`, TRIBUNE_OPEN_HOSTING: 'false' });
		try {
			expect((await call('GET', '/api/server/hosts', { bearer: session.body.token, at: rekeyed, from: newAddress() })).status).toBe(401);
			expect((await call('GET', '/api/server/hosts', { bearer: `${adminKey}-changed`, at: rekeyed })).status).toBe(200);
		} finally {
			await rekeyed.kill('SIGTERM');
		}
	});

	it('failed operator sign-ins are logged without the secret and, past a burst, lock the address out (429) before any check', async () => {
		const from = newAddress();
		const wrong = `wrong-${randomBytes(24).toString('base64url')}`;
		for (let i = 0; i < 10; i++) {
			const path = i % 2 === 0 ? '/api/server/hosts' : '/api/admin/sessions';
			const reply = await call(i % 2 === 0 ? 'GET' : 'POST', path, { bearer: wrong, from, ...(i % 2 === 1 && { body: {} }) });
			expect(reply.status, `failure ${i + 1}`).toBe(401);
		}
		const locked = await call('GET', '/api/server/hosts', { bearer: wrong, from });
		expect(locked.status).toBe(429);
		expect(locked.body.error.code).toBe('rate_limited');
		expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
		// Locked out: even the right key waits (guessing goes no faster than the bucket refills).
		expect((await call('GET', '/api/server/hosts', { bearer: adminKey, from })).status).toBe(429);
		expect((await call('POST', '/api/admin/sessions', { bearer: adminKey, body: {}, from })).status).toBe(429);
		// Another address is not.
		expect((await call('GET', '/api/server/hosts', { bearer: adminKey, from: newAddress() })).status).toBe(200);
		await expect.poll(() => node.output(), { timeout: 5000 }).toMatch(/operator authentication: address locked out/);
		expect(node.output()).toMatch(/operator authentication failed/);
		expect(node.output()).not.toContain(wrong);
		expect(node.output()).not.toContain(from);
	});

	it('the Bearer scheme is matched whatever its case (RFC 9110), at /api/server, /api/admin/sessions, /api/host/me and /api/spaces', async () => {
		const as = (authorization: string) => ({ authorization, 'content-type': 'application/json' });
		expect((await fetch(`${node.baseUrl}/api/server/hosts`, { headers: as(`bearer ${adminKey}`) })).status).toBe(200);
		expect((await fetch(`${node.baseUrl}/api/admin/sessions`, { method: 'POST', headers: as(`BEARER ${adminKey}`), body: '{}' })).status).toBe(200);
		const { credential, hostId } = await newHost('Case');
		expect((await fetch(`${node.baseUrl}/api/host/me`, { headers: as(`bearer ${credential}`) })).status).toBe(200);
		const created = await fetch(`${node.baseUrl}/api/spaces`, { method: 'POST', headers: as(`bEaReR ${credential}`), body: JSON.stringify({ title: 'Case', hostName: 'Case' }) });
		expect(created.status).toBe(201);
		const { space, token } = (await created.json()) as { space: { id: string }; token: string };
		expect((await fetch(`${node.baseUrl}/api/spaces/${space.id}/tokens/rotate`, { method: 'POST', headers: as(`bearer ${token}`), body: '{}' })).status).toBe(200);
		await asOperator('DELETE', `/hosts/${hostId}?endSpaces=true`);
	});

	it('a one-time sign-in code is traded for a session once, and only once; a new code cancels the one before', async () => {
		const from = newAddress();
		const sessions = new AdminSessions({ redis, prefix, operatorKey: { key: adminKey, fromDataDir: true } });
		await redis.del(`${prefix}:{admin}:signed-in`);
		const older = await sessions.createSignInCode();
		const code = await sessions.createSignInCode();
		expect((await call('POST', '/api/admin/sessions', { body: { code: older }, from })).status).toBe(401);
		// A wrong code left the current one alone.
		const first = await call('POST', '/api/admin/sessions', { body: { code } });
		expect(first.status).toBe(200);
		expect((await call('GET', '/api/server/spaces', { bearer: first.body.token })).status).toBe(200);
		const again = await call('POST', '/api/admin/sessions', { body: { code }, from });
		expect(again.status).toBe(401);
		expect((await call('POST', '/api/admin/sessions', { body: { code: 'not a code' } })).status).toBe(400);
		// Signed in with a code: no node offers another (main.ts asks this before it makes one).
		expect(await sessions.signedInWithCode()).toBe(true);
	});

	it('twenty redeems of one sign-in code at once make one session', async () => {
		const sessions = new AdminSessions({ redis, prefix, operatorKey: { key: adminKey, fromDataDir: true } });
		const code = await sessions.createSignInCode();
		const replies = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/api/admin/sessions', { body: { code }, from: newAddress() })));
		expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
		expect(replies.filter((r) => r.status === 401)).toHaveLength(19);
	});
});

describe('host invites and host identities', () => {
	it('an invite is redeemed as many times as it allows, expires in Redis, and keeps no code', async () => {
		const minted = await asOperator('POST', '/host-invites', { label: 'Panel', maxUses: 2, expiresInS: 3600 });
		expect(minted.status).toBe(201);
		expect(minted.body.url).toMatch(/^\/host-invite#code=[A-Za-z0-9_-]{43}$/);
		const { invite } = minted.body;
		expect(invite).toMatchObject({ label: 'Panel', maxUses: 2, uses: 0 });
		expect(invite.expiresAt - invite.createdAt).toBe(3_600_000);
		const code = /#code=(.+)$/.exec(minted.body.url)![1]!;
		const ttlMs = await redis.pttl(`${prefix}:host-invite:${invite.id}`);
		expect(ttlMs).toBeGreaterThan(3_590_000);
		expect(ttlMs).toBeLessThanOrEqual(3_600_000);
		expect(await redis.get(`${prefix}:host-invite:${invite.id}`)).not.toContain(code);

		const first = await call('POST', '/api/host-invites/redeem', { body: { code, name: 'Ada' } });
		expect(first.status).toBe(200);
		// The operator's label stays theirs; the redeemer's name is kept beside it.
		expect(first.body.host).toMatchObject({ label: 'Panel', name: 'Ada' });
		const second = await call('POST', '/api/host-invites/redeem', { body: { code } });
		expect(second.body.host.label).toBe('Panel');
		expect(second.body.host.name).toBeUndefined();
		const third = await call('POST', '/api/host-invites/redeem', { body: { code } });
		expect(third.status).toBe(403);
		expect(third.body.error.message).toMatch(/used/);

		const listed = await asOperator('GET', '/host-invites');
		expect(listed.body.invites.find((i: { id: string }) => i.id === invite.id)).toMatchObject({ uses: 2, maxUses: 2 });
		const hosts = await asOperator('GET', '/hosts?limit=500');
		const mine = hosts.body.hosts.filter((h: { inviteId: string }) => h.inviteId === invite.id);
		expect(mine.map((h: { label: string; name?: string }) => `${h.label}/${h.name ?? '-'}`).sort()).toEqual(['Panel/-', 'Panel/Ada']);
		expect((await call('GET', '/api/host/me', { bearer: first.body.credential })).body.host).toMatchObject({ label: 'Panel', name: 'Ada' });
		expect((await call('POST', '/api/host-invites/redeem', { body: { code, label: 'Ada' } })).status).toBe(400);
		expect(await redis.pttl(`${prefix}:host:${first.body.host.id}`)).toBeGreaterThan(89 * 24 * 3600 * 1000);
	});

	it('twenty redeems of a one-use invite at once make one host', async () => {
		const minted = await asOperator('POST', '/host-invites', {});
		const code = /#code=(.+)$/.exec(minted.body.url)![1]!;
		const replies = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/api/host-invites/redeem', { body: { code } })));
		expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
		expect(replies.filter((r) => r.status === 403)).toHaveLength(19);
	});

	it('a revoked invite no longer works; an unknown code is not found', async () => {
		const minted = await asOperator('POST', '/host-invites', { maxUses: 5 });
		const code = /#code=(.+)$/.exec(minted.body.url)![1]!;
		expect((await asOperator('DELETE', `/host-invites/${minted.body.invite.id}`)).body).toEqual({ revoked: true });
		expect((await call('POST', '/api/host-invites/redeem', { body: { code } })).status).toBe(404);
		expect((await asOperator('DELETE', `/host-invites/${minted.body.invite.id}`)).status).toBe(404);
		expect((await call('POST', '/api/host-invites/redeem', { body: { code: randomBytes(32).toString('base64url') } })).status).toBe(404);
	});

	it('invite bodies are validated: lifetime, uses, unknown fields', async () => {
		for (const body of [{ expiresInS: 59 }, { expiresInS: 30 * 24 * 3600 + 1 }, { maxUses: 0 }, { maxUses: 1001 }, { label: 'a\u202Eb' }, { extra: 1 }]) {
			const reply = await asOperator('POST', '/host-invites', body);
			expect(reply.status, JSON.stringify(body)).toBe(400);
		}
	});

	it('a host credential creates spaces until the host is revoked; without one, creating is refused', async () => {
		const anonymous = await call('POST', '/api/spaces', { body: { title: 'Mine', hostName: 'Me' } });
		expect(anonymous.status).toBe(401);
		expect(anonymous.body.error.code).toBe('host_required');
		// What the create page asks first.
		const nobody = await call('GET', '/api/host/me');
		expect(nobody.status).toBe(401);
		expect(nobody.body.error.code).toBe('host_required');

		const { credential, hostId } = await newHost('Studio B');
		expect((await call('GET', '/api/host/me', { bearer: credential })).body.host).toMatchObject({ id: hostId, label: 'Studio B' });
		const created = await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Hosted', hostName: 'Studio B' } });
		expect(created.status).toBe(201);
		const participants = await asOperator('GET', `/spaces/${created.body.space.id}/participants`);
		expect(participants.body.participants[0]).toMatchObject({ role: 'host', identity: `host:${hostId}` });

		expect((await asOperator('DELETE', `/hosts/${hostId}`)).body).toMatchObject({ revoked: true });
		const me = await call('GET', '/api/host/me', { bearer: credential });
		expect(me.status).toBe(401);
		expect(me.body.error.message).toMatch(/revoked/);
		expect((await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Again', hostName: 'Studio B' } })).status).toBe(401);
		expect((await asOperator('DELETE', `/hosts/${hostId}`)).status).toBe(404);
	});

	it(`invites are capped at ${maxInvites}, with a clear refusal`, async () => {
		// Fill up to the cap through the same script the route runs (10,000 HTTP requests would only be slower).
		const invites = new HostInvites({ redis, prefix, hostTtlS: 3600 });
		const held = (await asOperator('GET', '/host-invites?limit=500')).body.invites.length as number;
		for (let i = held; i < maxInvites; i += 500) {
			await Promise.all(Array.from({ length: Math.min(500, maxInvites - i) }, () => invites.create({ label: '', expiresInS: 120, maxUses: 1 })));
		}
		expect(await redis.zcard(`${prefix}:host-invites`)).toBe(maxInvites);
		const refused = await asOperator('POST', '/host-invites', {});
		expect(refused.status).toBe(429);
		expect(refused.body.error.code).toBe('limit_reached');
		expect(refused.body.error.message).toMatch(/10000 host invites/);
		// The index expires with its last invite, as each invite does.
		expect(await redis.pttl(`${prefix}:host-invites`)).toBeGreaterThan(0);
		await redis.del(`${prefix}:host-invites`);
	});
});

describe('revoking a host', () => {
	it('signs the host out of its spaces: its participant tokens get 401 at REST and its WebSocket closes 4013; the spaces carry on', async () => {
		const { credential, hostId } = await newHost('Rita');
		const live = await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Live', hostName: 'Rita' } });
		expect((await call('POST', `/api/spaces/${live.body.space.id}/start`, { bearer: live.body.token, body: {} })).status).toBe(200);
		const later = await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Later', hostName: 'Rita' } });
		// The same identity listening in a space someone else holds: its token there is refused too (the record is gone).
		const other = await asOperator('POST', '/spaces', { title: 'Elsewhere', host: { sub: 'elsewhere-host', displayName: 'Olga' } });
		const visiting = await call('POST', `/api/spaces/${other.body.space.id}/join`, { body: { displayName: 'Rita', identity: credential } });
		expect(visiting.status).toBe(200);
		const socket = await SignalingClient.connect(node.wsUrl, live.body.token);
		try {
			expect((await socket.send('getState', {})).ok).toBe(true);
			const revoked = await asOperator('DELETE', `/hosts/${hostId}`);
			expect(revoked.status).toBe(200);
			expect({ ...revoked.body, spaceIds: [...revoked.body.spaceIds].sort() }).toEqual({ revoked: true, spaceIds: [live.body.space.id, later.body.space.id].sort(), ended: false });
			expect(await socket.waitForClose(10_000)).toBe(4013);
		} finally {
			socket.close();
		}
		for (const [where, spaceId, token] of [['its live space', live.body.space.id, live.body.token], ['its unstarted space', later.body.space.id, later.body.token], ['a space it visits', other.body.space.id, visiting.body.token]]) {
			const reply = await call('POST', `/api/spaces/${spaceId}/tokens/rotate`, { bearer: token, body: {} });
			expect(reply.status, where).toBe(401);
		}
		expect((await asOperator('GET', `/spaces/${live.body.space.id}`)).body.space.state).toBe('live');
		await asOperator('POST', `/spaces/${live.body.space.id}/end`);
	});

	it('with endSpaces=true, also ends its live and unstarted spaces', async () => {
		const { credential, hostId } = await newHost('Eve');
		const live = await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Live', hostName: 'Eve' } });
		expect((await call('POST', `/api/spaces/${live.body.space.id}/start`, { bearer: live.body.token, body: {} })).status).toBe(200);
		const later = await call('POST', '/api/spaces', { bearer: credential, body: { title: 'Later', hostName: 'Eve' } });
		expect((await asOperator('DELETE', `/hosts/${hostId}?endSpaces=maybe`)).status).toBe(400);
		const revoked = await asOperator('DELETE', `/hosts/${hostId}?endSpaces=true`);
		expect(revoked.body).toMatchObject({ revoked: true, ended: true });
		for (const spaceId of [live.body.space.id, later.body.space.id]) {
			expect((await asOperator('GET', `/spaces/${spaceId}`)).body.space.state).toBe('ended');
		}
	});
});

describe('host identity bounds', () => {
	it(`redeeming is refused once ${maxHosts} hosts exist, and the invite keeps its use`, async () => {
		const minted = await asOperator('POST', '/host-invites', {});
		const code = /#code=(.+)$/.exec(minted.body.url)![1]!;
		// The index is what the script counts: fill it with unexpired members (no records are needed for the count).
		const index = `${prefix}:hosts`;
		const saved = await redis.zrange(index, 0, -1, 'WITHSCORES');
		const later = Date.now() + 3_600_000;
		for (let i = 0; i < maxHosts; i += 1000) await redis.zadd(index, ...Array.from({ length: 1000 }, (_, j) => [later, `filler-${i + j}`]).flat());
		try {
			const refused = await call('POST', '/api/host-invites/redeem', { body: { code } });
			expect(refused.status).toBe(429);
			expect(refused.body.error.code).toBe('limit_reached');
			const listed = await asOperator('GET', '/host-invites?limit=500');
			expect(listed.body.invites.find((i: { id: string }) => i.id === minted.body.invite.id).uses).toBe(0);
		} finally {
			await redis.del(index);
			if (saved.length > 0) await redis.zadd(index, ...saved.flatMap((v, i) => (i % 2 === 0 ? [saved[i + 1]!, v] : [])));
		}
		expect((await call('POST', '/api/host-invites/redeem', { body: { code } })).status).toBe(200);
	});
});

describe('the server API', () => {
	it('creates a space for a sub, lists it, mints tokens within the roles, counts, and ends it', async () => {
		const created = await asOperator('POST', '/spaces', { title: 'Town hall', settings: { maxSpeakers: 3 }, host: { sub: 'user-42', displayName: 'Mayor' } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space.id as string;
		expect(created.body.participant).toMatchObject({ role: 'host', identity: 'op:user-42', displayName: 'Mayor' });
		// A keyed hash of the space and the identity (participantIdFor): the same sub is the same participant.
		expect(created.body.participant.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
		// The host's token runs the space like any host's.
		expect((await call('POST', `/api/spaces/${spaceId}/start`, { bearer: created.body.token, body: {} })).status).toBe(200);

		const listed = await asOperator('GET', '/spaces?state=live&limit=100');
		expect(listed.status).toBe(200);
		expect(listed.body.spaces.map((s: { id: string }) => s.id)).toContain(spaceId);
		expect((await asOperator('GET', '/spaces?state=sleeping')).status).toBe(400);
		expect((await asOperator('GET', '/spaces?limit=101')).status).toBe(400);

		const speaker = await asOperator('POST', `/spaces/${spaceId}/tokens`, { sub: 'user-7', displayName: 'Councillor', role: 'speaker' });
		expect(speaker.status).toBe(200);
		expect(speaker.body.participant).toMatchObject({ role: 'speaker', identity: 'op:user-7' });
		const notHost = await asOperator('POST', `/spaces/${spaceId}/tokens`, { sub: 'user-7', displayName: 'Councillor', role: 'host' });
		expect(notHost.status).toBe(403);
		const hostAgain = await asOperator('POST', `/spaces/${spaceId}/tokens`, { sub: 'user-42', displayName: 'Mayor', role: 'host' });
		expect(hostAgain.status).toBe(200);
		expect(hostAgain.body.participant.id).toBe(created.body.participant.id);
		expect((await asOperator('POST', `/spaces/${spaceId}/tokens`, { sub: 'bad sub!', displayName: 'X', role: 'listener' })).status).toBe(400);

		const detail = await asOperator('GET', `/spaces/${spaceId}`);
		expect(detail.body).toMatchObject({ space: { id: spaceId, state: 'live' }, participants: 2, listeners: 0 });

		const ended = await asOperator('POST', `/spaces/${spaceId}/end`);
		expect(ended.status).toBe(200);
		expect(ended.body.space.state).toBe('ended');
		expect((await asOperator('GET', '/spaces/nope!')).status).toBe(400);
		expect((await asOperator('GET', `/spaces/${randomBytes(16).toString('base64url')}`)).status).toBe(404);
	});

	it('bans an identity from a space: a rejoin by it is refused until the ban is lifted', async () => {
		const created = await asOperator('POST', '/spaces', { title: 'Q&A', host: { sub: 'host-1', displayName: 'Quinn' } });
		const spaceId = created.body.space.id as string;
		const joined = await call('POST', `/api/spaces/${spaceId}/join`, { body: { displayName: 'Heckler' } });
		expect(joined.status).toBe(200);
		const identityCredential = joined.body.identity as string;

		// Pages until the last (a page holds about `limit`: a small space comes whole).
		const all: { id: string; displayName: string; identity: string }[] = [];
		let cursor: string | null = null;
		do {
			const page: { status: number; body: { participants: typeof all; nextCursor: string | null } } = await asOperator('GET', `/spaces/${spaceId}/participants?limit=1${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
			expect(page.status).toBe(200);
			all.push(...page.body.participants);
			cursor = page.body.nextCursor;
		} while (cursor !== null);
		expect(all.map((p) => p.displayName).sort()).toEqual(['Heckler', 'Quinn']);
		const heckler = all.find((p) => p.displayName === 'Heckler')!;
		expect(heckler.identity).toMatch(/^anon:/);

		expect((await asOperator('POST', `/spaces/${spaceId}/bans`, { identity: heckler.identity })).body).toEqual({ banned: true });
		const again = await call('POST', `/api/spaces/${spaceId}/join`, { body: { displayName: 'Heckler', identity: identityCredential } });
		expect(again.status).toBe(403);
		expect(again.body.error.code).toBe('banned');

		expect((await asOperator('DELETE', `/spaces/${spaceId}/bans/${heckler.id}`)).body).toEqual({ banned: false });
		expect((await call('POST', `/api/spaces/${spaceId}/join`, { body: { displayName: 'Heckler', identity: identityCredential } })).status).toBe(200);

		// By sub: an operator-given identity.
		expect((await asOperator('POST', `/spaces/${spaceId}/bans`, { sub: 'troll-9' })).status).toBe(200);
		const troll = await asOperator('POST', `/spaces/${spaceId}/tokens`, { sub: 'troll-9', displayName: 'Troll', role: 'listener' });
		expect(troll.status).toBe(403);
		expect((await asOperator('POST', `/spaces/${spaceId}/bans`, { identity: 'someone' })).status).toBe(400);
		expect((await asOperator('POST', `/spaces/${spaceId}/bans`, { sub: 'a', identity: 'op:a' })).status).toBe(400);
	});
});
