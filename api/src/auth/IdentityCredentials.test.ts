import { createHash, createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { asParticipantId, asSpaceId, participantIdFor } from '../spaces/Space.js';
import { clientAddressTag } from './clientAddressTag.js';
import { IdentityCredentials } from './IdentityCredentials.js';
import { TokenIssuer } from './TokenIssuer.js';

const key = new TextEncoder().encode('k'.repeat(32));
const credentials = new IdentityCredentials(key);

const signed = (claims: { sub: string; aud: string; exp?: number }, k: Uint8Array = key) =>
	new SignJWT({})
		.setProtectedHeader({ alg: 'HS256' })
		.setSubject(claims.sub)
		.setIssuer('tribune')
		.setAudience(claims.aud)
		.setExpirationTime(claims.exp ?? '1h')
		.sign(k);

describe('IdentityCredentials', () => {
	it('issues a new anonymous identity, or a credential for a given one, that verifies as it for 30 days', async () => {
		const fresh = await credentials.issue();
		expect(fresh.identity).toMatch(/^anon:[A-Za-z0-9_-]{22}$/);
		expect(await credentials.verify(fresh.credential)).toBe(fresh.identity);
		const again = await credentials.issue(fresh.identity);
		expect(await credentials.verify(again.credential)).toBe(fresh.identity);
		const { exp, iat } = JSON.parse(Buffer.from(again.credential.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
		expect(exp - iat).toBe(30 * 24 * 3600);
		expect((await credentials.issue()).identity).not.toBe(fresh.identity);
	});

	it('gives credentials to anonymous identities only', async () => {
		for (const identity of ['op:alice', 'host:h1', 'synthetic:x', 'anon:short', 'anon:AAAAAAAAAAAAAAAAAAAAAA:x']) {
			await expect(credentials.issue(identity)).rejects.toMatchObject({ code: 'bad_request' });
		}
	});

	it('refuses another key, another audience (participant and host tokens), another subject, expiry and alg none', async () => {
		const anon = 'anon:AAAAAAAAAAAAAAAAAAAAAA';
		const participant = (await new TokenIssuer(key, { ttlS: 60, maxSessionS: 3600 }).issue({ spaceId: asSpaceId('s'), participantId: asParticipantId('p'), identity: anon, role: 'host', generation: 0 })).token;
		const refused = [
			await signed({ sub: anon, aud: 'tribune-identity' }, new TextEncoder().encode('x'.repeat(32))),
			await signed({ sub: anon, aud: 'tribune-host' }),
			await signed({ sub: 'host:h1', aud: 'tribune-identity' }),
			await signed({ sub: 'op:admin', aud: 'tribune-identity' }),
			await signed({ sub: anon, aud: 'tribune-identity', exp: Math.floor(Date.now() / 1000) - 10 }),
			participant,
			`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: anon, aud: 'tribune-identity', iss: 'tribune' })).toString('base64url')}.`,
			'',
			'not a jwt',
		];
		for (const credential of refused) await expect(credentials.verify(credential)).rejects.toMatchObject({ code: 'unauthorized' });
		// And an identity credential is no participant token.
		await expect(new TokenIssuer(key, { ttlS: 60, maxSessionS: 3600 }).verify((await credentials.issue()).credential)).rejects.toMatchObject({ code: 'unauthorized' });
	});
});

describe('clientAddressTag', () => {
	it('is 16 characters that depend on the key and the address, an IPv6 address by its /64, never the address itself', () => {
		const tag = clientAddressTag(key, '203.0.113.7');
		expect(tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
		expect(clientAddressTag(key, '::ffff:203.0.113.7')).toBe(tag);
		expect(clientAddressTag(key, '203.0.113.8')).not.toBe(tag);
		expect(clientAddressTag(new TextEncoder().encode('x'.repeat(32)), '203.0.113.7')).not.toBe(tag);
		expect(clientAddressTag(key, '2001:db8:1:2::1')).toBe(clientAddressTag(key, '2001:db8:1:2:ffff:ffff:ffff:ffff'));
		expect(clientAddressTag(key, '2001:db8:1:2::1')).not.toBe(clientAddressTag(key, '2001:db8:1:3::1'));
	});
});

describe('keys derived from the token key', () => {
	it('participant ids are keyed: not the bare SHA-256 of space and identity, different under another key, stable under one', () => {
		const spaceId = asSpaceId('s'.repeat(22));
		const id = participantIdFor(key, spaceId, 'op:alice@example.com');
		expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
		expect(id).not.toBe(createHash('sha256').update(`${spaceId}\nop:alice@example.com`).digest('base64url').slice(0, 16));
		expect(participantIdFor(new TextEncoder().encode('k'.repeat(32)), spaceId, 'op:alice@example.com')).toBe(id);
		expect(participantIdFor(new TextEncoder().encode('x'.repeat(32)), spaceId, 'op:alice@example.com')).not.toBe(id);
	});

	it('address tags and participant ids use subkeys of their own, never the token key itself', () => {
		expect(clientAddressTag(key, '203.0.113.7')).not.toBe(createHmac('sha256', key).update('203.0.113.7').digest('base64url').slice(0, 16));
	});
});
