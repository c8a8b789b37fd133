import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { asParticipantId, asSpaceId } from '../spaces/Space.js';
import { TokenIssuer } from './TokenIssuer.js';

const key = new TextEncoder().encode('k'.repeat(32));
const claims = { spaceId: asSpaceId('space1'), participantId: asParticipantId('p1'), role: 'speaker' as const };

describe('TokenIssuer', () => {
	it('verifies the claims of a token it issued', async () => {
		const tokens = new TokenIssuer(key, 60);
		const verified = await tokens.verify(await tokens.issue(claims));
		expect(verified).toMatchObject(claims);
		expect(verified.expiresAt - Date.now() / 1000).toBeGreaterThan(55);
	});

	it('rejects a token signed with another key', async () => {
		const other = new TokenIssuer(new TextEncoder().encode('x'.repeat(32)), 60);
		await expect(new TokenIssuer(key, 60).verify(await other.issue(claims))).rejects.toMatchObject({ code: 'unauthorized', message: 'invalid token' });
	});

	it('rejects an expired token', async () => {
		const expired = await new SignJWT({ spc: 'space1', role: 'host' })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('p1')
			.setIssuer('tribune')
			.setAudience('tribune-space')
			.setExpirationTime(Math.floor(Date.now() / 1000) - 10)
			.sign(key);
		await expect(new TokenIssuer(key, 60).verify(expired)).rejects.toMatchObject({ code: 'unauthorized', message: 'token expired' });
	});

	it('rejects an unsigned (alg none) token that claims to be the host', async () => {
		const body = Buffer.from(JSON.stringify({ sub: 'p1', spc: 'space1', role: 'host', iss: 'tribune', aud: 'tribune-space', exp: 9e9 })).toString('base64url');
		const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
		await expect(new TokenIssuer(key, 60).verify(`${header}.${body}.`)).rejects.toMatchObject({ code: 'unauthorized' });
	});

	it('rejects a correctly signed token with a role that does not exist', async () => {
		const forged = await new SignJWT({ spc: 'space1', role: 'admin' })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('p1')
			.setIssuer('tribune')
			.setAudience('tribune-space')
			.setExpirationTime('1m')
			.sign(key);
		await expect(new TokenIssuer(key, 60).verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
	});
});
