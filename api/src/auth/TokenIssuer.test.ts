import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { asParticipantId, asSpaceId } from '../spaces/Space.js';
import { TokenIssuer } from './TokenIssuer.js';

const key = new TextEncoder().encode('k'.repeat(32));
const claims = { spaceId: asSpaceId('space1'), participantId: asParticipantId('p1'), identity: 'op:alice', role: 'speaker' as const, generation: 0 };
const day = { ttlS: 60, maxSessionS: 86_400 };

describe('TokenIssuer', () => {
	it('verifies the claims of a token it issued, with an id of its own and the session start', async () => {
		const tokens = new TokenIssuer(key, day);
		const { token, claims: issued } = await tokens.issue(claims);
		const verified = await tokens.verify(token);
		expect(verified).toMatchObject(claims);
		expect(verified).toEqual(issued);
		expect(verified.expiresAt - Date.now() / 1000).toBeGreaterThan(55);
		expect(verified.tokenId).toMatch(/^[A-Za-z0-9_-]{16}$/);
		expect(Math.abs(verified.sessionStartedAt - Date.now() / 1000)).toBeLessThan(5);
		expect((await tokens.issue(claims)).claims.tokenId).not.toBe(verified.tokenId);
	});

	it('carries the session start on through renewals and caps every token at the session end', async () => {
		let now = 1_800_000_000_000;
		const tokens = new TokenIssuer(key, { ttlS: 600, maxSessionS: 1000 }, () => now);
		const first = (await tokens.issue(claims)).claims;
		now += 700_000;
		const renewed = (await tokens.issue({ ...claims, sessionStartedAt: first.sessionStartedAt })).claims;
		expect(renewed.sessionStartedAt).toBe(first.sessionStartedAt);
		expect(renewed.expiresAt).toBe(first.sessionStartedAt + 1000);
	});

	it('refuses a renewal, and a token, past the maximum session age', async () => {
		let now = 1_800_000_000_000;
		const long = new TokenIssuer(key, { ttlS: 600, maxSessionS: 1_000_000 }, () => now);
		const { token, claims: first } = await long.issue(claims);
		now += 1000_000;
		const short = new TokenIssuer(key, { ttlS: 600, maxSessionS: 500 }, () => now);
		await expect(short.issue({ ...claims, sessionStartedAt: first.sessionStartedAt })).rejects.toMatchObject({ code: 'unauthorized', reason: 'session_expired' });
		// A token issued under a longer maximum stops at the shorter one.
		now = 1_800_000_000_000 + 400_000;
		await expect(new TokenIssuer(key, { ttlS: 600, maxSessionS: 300 }, () => now).verify(token)).rejects.toMatchObject({ reason: 'session_expired' });
	});

	it('rejects a token signed with another key', async () => {
		const other = new TokenIssuer(new TextEncoder().encode('x'.repeat(32)), day);
		await expect(new TokenIssuer(key, day).verify((await other.issue(claims)).token)).rejects.toMatchObject({ code: 'unauthorized', message: 'invalid token', reason: 'invalid' });
	});

	it('rejects an expired token', async () => {
		const expired = await new SignJWT({ spc: 'space1', idn: 'op:alice', role: 'host', jti: 'j', gen: 0, sst: Math.floor(Date.now() / 1000) - 20 })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('p1')
			.setIssuer('tribune')
			.setAudience('tribune-space')
			.setExpirationTime(Math.floor(Date.now() / 1000) - 10)
			.sign(key);
		await expect(new TokenIssuer(key, day).verify(expired)).rejects.toMatchObject({ code: 'unauthorized', message: 'token expired', reason: 'expired' });
	});

	it('rejects a token without an id, generation or session start (issued before they existed)', async () => {
		const legacy = await new SignJWT({ spc: 'space1', role: 'host' }).setProtectedHeader({ alg: 'HS256' }).setSubject('p1').setIssuer('tribune').setAudience('tribune-space').setExpirationTime('1m').sign(key);
		await expect(new TokenIssuer(key, day).verify(legacy)).rejects.toMatchObject({ code: 'unauthorized', reason: 'invalid' });
	});

	it('rejects an unsigned (alg none) token that claims to be the host', async () => {
		const body = Buffer.from(JSON.stringify({ sub: 'p1', spc: 'space1', role: 'host', iss: 'tribune', aud: 'tribune-space', exp: 9e9, jti: 'j', gen: 0, sst: 0 })).toString('base64url');
		const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
		await expect(new TokenIssuer(key, day).verify(`${header}.${body}.`)).rejects.toMatchObject({ code: 'unauthorized' });
	});

	it('rejects a correctly signed token with a role that does not exist', async () => {
		const forged = await new SignJWT({ spc: 'space1', idn: 'op:alice', role: 'admin', jti: 'j', gen: 0, sst: Math.floor(Date.now() / 1000) })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('p1')
			.setIssuer('tribune')
			.setAudience('tribune-space')
			.setExpirationTime('1m')
			.sign(key);
		await expect(new TokenIssuer(key, day).verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
	});

	it('carries the identity, and refuses a correctly signed token whose identity is none (missing, malformed, hostile)', async () => {
		const tokens = new TokenIssuer(key, day);
		expect((await tokens.verify((await tokens.issue(claims)).token)).identity).toBe('op:alice');
		const nowS = Math.floor(Date.now() / 1000);
		for (const idn of [undefined, '', 'alice', 'op:', 'op:a b', 'op:ünï', `op:${'a'.repeat(97)}`, 'anon:short', 'host:a/b', 'op:a\nb', 42]) {
			const forged = await new SignJWT({ spc: 'space1', ...(idn !== undefined && { idn }), role: 'listener', jti: 'j', gen: 0, sst: nowS })
				.setProtectedHeader({ alg: 'HS256' })
				.setSubject('p1')
				.setIssuer('tribune')
				.setAudience('tribune-space')
				.setExpirationTime('1m')
				.sign(key);
			await expect(tokens.verify(forged), String(idn)).rejects.toMatchObject({ code: 'unauthorized', reason: 'invalid' });
		}
	});
});
