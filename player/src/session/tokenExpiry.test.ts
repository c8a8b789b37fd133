import { describe, expect, it } from 'vitest';
import { localExpiryMs, renewalDelayMs, tokenTimes } from './tokenExpiry.js';

const b64url = (o: unknown) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('tokenTimes()', () => {
	it('reads iat and exp from a JWT payload, in ms', () => {
		expect(tokenTimes(`${b64url({ alg: 'HS256' })}.${b64url({ iat: 1_799_999_400, exp: 1_800_000_000, sub: 'ü?>' })}.sig`)).toEqual({ issuedAtMs: 1_799_999_400_000, expiresAtMs: 1_800_000_000_000 });
	});

	it('is undefined for anything it cannot read', () => {
		for (const token of ['', 'x', 'a.!!!.c', `a.${b64url({ exp: 'soon', iat: 1 })}.c`, `a.${b64url({ exp: 2 })}.c`, `a.${b64url([1])}.c`]) expect(tokenTimes(token)).toBeUndefined();
	});
});

describe('localExpiryMs()', () => {
	it("counts the token's lifetime from its arrival, whatever this device's clock says of the server's", () => {
		const times = { issuedAtMs: 1_800_000_000_000, expiresAtMs: 1_800_000_600_000 };
		// A device ten minutes behind would see this token expire in twenty minutes by `exp`: it lives ten.
		expect(localExpiryMs(times, 1_799_999_400_000)).toBe(1_800_000_000_000);
		expect(renewalDelayMs(localExpiryMs(times, 5_000), 5_000)).toBe(480_000);
		expect(localExpiryMs({ issuedAtMs: 10, expiresAtMs: 5 }, 100)).toBe(100);
	});
});

describe('renewalDelayMs()', () => {
	it('renews when four fifths of the time left have passed, never sooner than 1 s', () => {
		expect(renewalDelayMs(100_000, 0)).toBe(80_000);
		expect(renewalDelayMs(500, 0)).toBe(1000);
		expect(renewalDelayMs(1e15, 0)).toBe(2 ** 31 - 1);
	});
});
