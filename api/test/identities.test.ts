import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { HostIdentities, type HostRecord } from '../src/auth/HostIdentities.js';
import { IdentityCredentials } from '../src/auth/IdentityCredentials.js';
import { TokenIssuer } from '../src/auth/TokenIssuer.js';
import { TribuneError } from '../src/errors.js';
import { MemorySpaceStore } from '../src/spaces/MemorySpaceStore.js';
import { asSpaceId, participantIdFor } from '../src/spaces/Space.js';
import { SpaceService } from '../src/spaces/SpaceService.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, postJson, startTestNode, type ApiBody, type TestNode } from './support/startTestNode.js';

let node: TestNode;
const clients: SignalingClient[] = [];
beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'), {}, { openHosting: true });
});
afterEach(() => {
	for (const c of clients.splice(0)) c.close();
});
afterAll(() => node.close());

/** POSTs JSON to the node as a client at `from`. */
const post = (path: string, body: unknown, options: { bearer?: string; from?: string } = {}) => postJson(`${node.baseUrl}${path}`, body, options.bearer, options.from);

const join = (spaceId: string, body: Record<string, unknown>, from?: string) => post(`/api/spaces/${spaceId}/join`, body, { ...(from !== undefined && { from }) });

async function host(spaceId: string, token: string): Promise<SignalingClient> {
	const c = await SignalingClient.connect(node.wsUrl, token);
	clients.push(c);
	return c;
}

describe('identities', () => {
	it('a join gets an identity credential; coming back with it (no token) is the same participant, with a fresh credential', async () => {
		const { spaceId } = await createLiveSpace(node);
		const first = await join(spaceId, { displayName: 'Lee' });
		expect(first.status).toBe(200);
		const credential = first.body.identity!;
		const identity = await new IdentityCredentials(node.tokenKey).verify(credential);
		expect(identity).toMatch(/^anon:[A-Za-z0-9_-]{22}$/);
		expect(first.body.participant!.id).toBe(participantIdFor(node.tokenKey, asSpaceId(spaceId), identity));
		const again = await join(spaceId, { displayName: 'Lee again', identity: credential });
		expect(again.body.participant).toMatchObject({ id: first.body.participant!.id, displayName: 'Lee' });
		expect(await new IdentityCredentials(node.tokenKey).verify(again.body.identity!)).toBe(identity);
		// Without a credential: someone new.
		expect((await join(spaceId, { displayName: 'Lee' })).body.participant!.id).not.toBe(first.body.participant!.id);
	});

	it('a ban holds for the identity: its token, its credential and the two together are refused; someone new gets in', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const troll = await join(spaceId, { displayName: 'Troll' });
		await (await host(spaceId, hostToken)).request('remove', { participantId: troll.body.participant!.id, ban: true });
		for (const body of [{ token: troll.body.token }, { identity: troll.body.identity }, { token: troll.body.token, identity: troll.body.identity }]) {
			const refused = await join(spaceId, { displayName: 'Not a troll', ...body });
			expect(refused.status).toBe(403);
			expect(refused.body.error?.code).toBe('banned');
		}
		expect((await join(spaceId, { displayName: 'Someone else' })).status).toBe(200);
	});

	it('an address ban refuses fresh identities from that address (an IPv6 address by its /64), not from others, and keeps no address', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const troll = await join(spaceId, { displayName: 'Troll' }, '203.0.113.7');
		const v6 = await join(spaceId, { displayName: 'Troll six' }, '2001:db8:1:2::1');
		const raw = await node.spaces.store.getParticipant(asSpaceId(spaceId), troll.body.participant!.id as never);
		expect(raw?.addr).toMatch(/^[A-Za-z0-9_-]{16}$/);
		expect(JSON.stringify(raw)).not.toContain('203.0.113');
		const moderator = await host(spaceId, hostToken);
		await moderator.request('remove', { participantId: troll.body.participant!.id, ban: true, banAddress: true });
		await moderator.request('remove', { participantId: v6.body.participant!.id, ban: true, banAddress: true });
		for (const from of ['203.0.113.7', '2001:db8:1:2:ffff::9']) {
			const refused = await join(spaceId, { displayName: 'New me' }, from);
			expect([refused.status, refused.body.error?.code]).toEqual([403, 'banned']);
		}
		for (const from of ['203.0.113.8', '2001:db8:1:3::1']) expect((await join(spaceId, { displayName: 'Neighbour' }, from)).status).toBe(200);
		// Another space does not know the ban.
		const other = await createLiveSpace(node);
		expect((await join(other.spaceId, { displayName: 'Troll' }, '203.0.113.7')).status).toBe(200);
		// The operator lifts the ban, address included.
		expect(await node.spaces.service.unban(asSpaceId(spaceId), troll.body.participant!.id as never)).toBe(true);
		expect((await join(spaceId, { displayName: 'Troll', identity: troll.body.identity }, '203.0.113.7')).status).toBe(200);
	});

	it('an address ban never locks out those already in the space or on stage, and a moderator cannot ban their own network', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const moderator = await host(spaceId, hostToken);
		const office = '198.51.100.77';
		const colleague = await join(spaceId, { displayName: 'Colleague' }, office);
		const speaker = await join(spaceId, { displayName: 'Speaker' }, office);
		const speakerSocket = await host(spaceId, speaker.body.token!);
		await speakerSocket.request('raiseHand');
		await moderator.request('approveHand', { participantId: speaker.body.participant!.id });
		const { token: speakerToken } = await speakerSocket.waitFor('tokenRenewed');
		const troll = await join(spaceId, { displayName: 'Troll' }, office);
		await moderator.request('remove', { participantId: troll.body.participant!.id, ban: true, banAddress: true });
		// Reconnects of those already in, by token or by identity credential, and of the speaker on stage.
		expect((await join(spaceId, { displayName: 'Colleague', token: colleague.body.token }, office)).status).toBe(200);
		expect((await join(spaceId, { displayName: 'Colleague', identity: colleague.body.identity }, office)).status).toBe(200);
		expect((await join(spaceId, { displayName: 'Speaker', token: speakerToken }, office)).body.participant?.role).toBe('speaker');
		expect((await join(spaceId, { displayName: 'New here' }, office)).body.error?.code).toBe('banned');
		// The host created the space from loopback: a listener from there cannot be banned with that network.
		const sameNetwork = await join(spaceId, { displayName: 'Next door' });
		await expect(moderator.request('remove', { participantId: sameNetwork.body.participant!.id, ban: true, banAddress: true })).rejects.toMatchObject({ code: 'conflict' });
		expect(await node.spaces.store.getParticipant(asSpaceId(spaceId), sameNetwork.body.participant!.id as never)).toBeDefined();
		expect((await join(spaceId, { displayName: 'Also next door' })).status).toBe(200);
	});

	it('a host credential that cannot be checked (Redis away) fails the join, never makes the host someone new', async () => {
		// A connection never opened and with no offline queue: every command fails at once, as a Redis away does.
		const away = new Redis(inject('redisUrl'), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
		const hosts = new HostIdentities({ redis: away, prefix: 'away', tokenKey: node.tokenKey });
		const record = { id: 'H'.repeat(22), label: 'Host', inviteId: 'invite', createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 } as HostRecord;
		const credential = await hosts.credentialFor(record);
		const service = new SpaceService({
			store: new MemorySpaceStore(),
			tokens: new TokenIssuer(node.tokenKey, { ttlS: 600, maxSessionS: 3600 }),
			identities: new IdentityCredentials(node.tokenKey),
			maxSpeakersLimit: 5,
			idKey: node.tokenKey,
			verifyHostCredential: (c) => hosts.verify(c),
		});
		const { space } = await service.createSpace({ title: 'T', description: '', hostName: 'Op', settings: {}, owner: 'op:someone' });
		const failure = await service.join(space.id, { displayName: 'Hana', identity: credential }).then(() => undefined, (error: unknown) => error);
		expect(failure).toBeInstanceOf(Error);
		expect(failure).not.toBeInstanceOf(TribuneError);
		// A credential refused outright still names nobody: a new anonymous identity joins.
		expect((await service.join(space.id, { displayName: 'Forger', identity: `${credential}x` })).identity).toBeDefined();
		away.disconnect();
	});

	it('refuses the name of someone on stage, however it is spelled (case, width, spacing), and lets them rejoin under it', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		for (const name of ['Hana Host', 'hana host', ' HANA   HOST ', 'Ｈａｎａ Ｈｏｓｔ']) {
			const refused = await join(spaceId, { displayName: name });
			expect([name, refused.status, refused.body.error?.code]).toEqual([name, 409, 'name_taken']);
		}
		expect((await join(spaceId, { displayName: 'Hana Hostess' })).status).toBe(200);
		expect((await join(spaceId, { displayName: 'Hana Host', token: hostToken })).body.participant?.role).toBe('host');
	});

	it('does not believe forged or borrowed credentials: a join with one is someone new', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const victim = await join(spaceId, { displayName: 'Victim' });
		const victimIdentity = await new IdentityCredentials(node.tokenKey).verify(victim.body.identity!);
		const otherKey = new TextEncoder().encode('x'.repeat(48));
		const forged = [
			// The right claims under another key.
			await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(victimIdentity).setIssuer('tribune').setAudience('tribune-identity').setExpirationTime('1h').sign(otherKey),
			// The right key, another audience: a participant token is not an identity credential.
			hostToken,
			victim.body.token!,
			// The right key and audience, a subject that is not an anonymous identity.
			await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('op:admin').setIssuer('tribune').setAudience('tribune-identity').setExpirationTime('1h').sign(node.tokenKey),
			// alg none.
			`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: victimIdentity, aud: 'tribune-identity', iss: 'tribune' })).toString('base64url')}.`,
			'anon:AAAAAAAAAAAAAAAAAAAAAA',
			'anon:../../x:ü',
			'x'.repeat(4096),
		];
		for (const identity of forged) {
			const joined = await join(spaceId, { displayName: 'Impostor', identity });
			expect(joined.status).toBe(200);
			expect(joined.body.participant!.id).not.toBe(victim.body.participant!.id);
			expect(await new IdentityCredentials(node.tokenKey).verify(joined.body.identity!)).not.toBe(victimIdentity);
		}
		expect((await join(spaceId, { displayName: 'Too long', identity: 'x'.repeat(4097) })).status).toBe(400);
	});

	it('refuses identities that are not identities where the server API names one', async () => {
		const { spaceId } = await createLiveSpace(node);
		const service = node.spaces.service;
		for (const identity of ['op:', `op:${'a'.repeat(97)}`, 'op:ünï', 'op:a b', 'host:a/b', 'anon:short', 'synthetic:', 'root', 'op:a\nb', '']) {
			await expect(service.issueFor(asSpaceId(spaceId), { identity, displayName: 'X', role: 'listener' })).rejects.toMatchObject({ code: 'bad_request' });
			await expect(service.createSpace({ title: 'T', description: '', hostName: 'H', settings: {}, owner: identity })).rejects.toMatchObject({ code: 'bad_request' });
		}
		const issued = await service.issueFor(asSpaceId(spaceId), { identity: 'op:alice@example.com', displayName: 'Alice', role: 'speaker' });
		expect(issued.participant).toMatchObject({ id: participantIdFor(node.tokenKey, asSpaceId(spaceId), 'op:alice@example.com'), role: 'speaker' });
		expect(await service.tokens.verify(issued.token)).toMatchObject({ identity: 'op:alice@example.com', role: 'speaker' });
		await expect(service.issueFor(asSpaceId(spaceId), { identity: 'op:mallory', displayName: 'M', role: 'host' })).rejects.toMatchObject({ code: 'forbidden' });
	});
});

describe('hosting', () => {
	it('closed: an anonymous create is refused 401 host_required, a bearer that is no host credential 401', async () => {
		const closed = await startTestNode(inject('redisUrl'), {}, { openHosting: false });
		try {
			const create = (bearer?: string) =>
				fetch(`${closed.baseUrl}/api/spaces`, {
					method: 'POST',
					headers: { 'content-type': 'application/json', ...(bearer !== undefined && { authorization: `Bearer ${bearer}` }) },
					body: JSON.stringify({ title: 'Mine', hostName: 'Me' }),
				}).then(async (r) => ({ status: r.status, body: (await r.json()) as ApiBody }));
			const anonymous = await create();
			expect([anonymous.status, anonymous.body.error?.code]).toEqual([401, 'host_required']);
			expect(anonymous.body.error?.message).toMatch(/host invite/);
			const { credential } = await new IdentityCredentials(closed.tokenKey).issue();
			for (const bearer of [credential, 'garbage']) expect((await create(bearer)).status).toBe(401);
			expect((await closed.spaces.service.listSpaces({ limit: 10 })).items).toEqual([]);
		} finally {
			await closed.close();
		}
	});

	it('open: anyone creates, as an anonymous identity that owns the space and comes back with its credential', async () => {
		const first = await post('/api/spaces', { title: 'Open', hostName: 'Olga' });
		expect(first.status).toBe(201);
		const owner = await new IdentityCredentials(node.tokenKey).verify(first.body.identity!);
		const space = await node.spaces.service.getSpace(asSpaceId(first.body.space!.id));
		expect(space.owner).toBe(owner);
		expect(first.body.participant!.id).toBe(participantIdFor(node.tokenKey, space.id, owner));
		const second = await post('/api/spaces', { title: 'Open again', hostName: 'Olga', identity: first.body.identity });
		expect((await node.spaces.service.getSpace(asSpaceId(second.body.space!.id))).owner).toBe(owner);
		const forged = await post('/api/spaces', { title: 'Forged', hostName: 'Olga', identity: first.body.token });
		expect((await node.spaces.service.getSpace(asSpaceId(forged.body.space!.id))).owner).not.toBe(owner);
	});
});
