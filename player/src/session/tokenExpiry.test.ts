import { describe, expect, it } from 'vitest';
import { renewalDelayMs, tokenExpiresAtMs } from './tokenExpiry.js';

const b64url = (o: unknown) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('tokenExpiresAtMs()', () => {
	it('reads exp from a JWT payload, in ms', () => {
		expect(tokenExpiresAtMs(`${b64url({ alg: 'HS256' })}.${b64url({ exp: 1_800_000_000, sub: 'ü?>' })}.sig`)).toBe(1_800_000_000_000);
	});

	it('is undefined for anything it cannot read', () => {
		for (const token of ['', 'x', 'a.!!!.c', `a.${b64url({ exp: 'soon' })}.c`, `a.${b64url([1])}.c`]) expect(tokenExpiresAtMs(token)).toBeUndefined();
	});
});

describe('renewalDelayMs()', () => {
	it('renews when four fifths of the time left have passed, never sooner than 1 s', () => {
		expect(renewalDelayMs(100_000, 0)).toBe(80_000);
		expect(renewalDelayMs(500, 0)).toBe(1000);
		expect(renewalDelayMs(1e15, 0)).toBe(2 ** 31 - 1);
	});
});
