import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenIssuer } from '../auth/TokenIssuer.js';
import { asParticipantId, asSpaceId } from '../spaces/Space.js';
import { CaptionerTokens } from './CaptionerTokens.js';

const key = new TextEncoder().encode('k'.repeat(32));
const spaceId = asSpaceId('space1');

describe('CaptionerTokens', () => {
	it('issues a token that verifies as a captioner of its space, with its name and expiry', async () => {
		const tokens = new CaptionerTokens(key);
		const { token, claims } = await tokens.issue(spaceId, 'Cara', 600);
		expect(await tokens.verify(token)).toEqual(claims);
		expect(claims.expiresAt - Date.now() / 1000).toBeGreaterThan(590);
	});

	it('carries the captioner generation it was issued in; a token without one is of generation 0', async () => {
		const tokens = new CaptionerTokens(key);
		const { token } = await tokens.issue(spaceId, 'Cara', 600, 3);
		expect((await tokens.verify(token)).generation).toBe(3);
		const older = await new SignJWT({ spc: spaceId, name: 'Old' })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('c1')
			.setIssuer('tribune')
			.setAudience('tribune-captioner')
			.setExpirationTime('10m')
			.sign(key);
		expect((await tokens.verify(older)).generation).toBe(0);
	});

	it('a participant token is not a captioner token, and a captioner token is not a participant token', async () => {
		const participants = new TokenIssuer(key, { ttlS: 600, maxSessionS: 3600 });
		const captioners = new CaptionerTokens(key);
		const { token: hostToken } = await participants.issue({ spaceId, participantId: asParticipantId('p1'), identity: 'op:p1', role: 'host', generation: 0 });
		await expect(captioners.verify(hostToken)).rejects.toMatchObject({ code: 'unauthorized' });
		const { token } = await captioners.issue(spaceId, 'Cara', 600);
		await expect(participants.verify(token)).rejects.toMatchObject({ code: 'unauthorized' });
	});

	it('an expired or foreign-signed token is refused', async () => {
		const tokens = new CaptionerTokens(key);
		const expired = await new SignJWT({ spc: spaceId, name: 'x' })
			.setProtectedHeader({ alg: 'HS256' })
			.setSubject('c1')
			.setIssuer('tribune')
			.setAudience('tribune-captioner')
			.setExpirationTime(Math.floor(Date.now() / 1000) - 10)
			.sign(key);
		await expect(tokens.verify(expired)).rejects.toMatchObject({ code: 'unauthorized', message: 'captioner token expired' });
		const { token } = await new CaptionerTokens(new TextEncoder().encode('o'.repeat(32))).issue(spaceId, 'x', 600);
		await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'unauthorized' });
	});

	it('refuses a lifetime out of bounds', async () => {
		await expect(new CaptionerTokens(key).issue(spaceId, 'x', 10)).rejects.toThrow(RangeError);
		await expect(new CaptionerTokens(key).issue(spaceId, 'x', 10 * 24 * 3600)).rejects.toThrow(RangeError);
	});
});
