import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { iceServersFor, mintTurnCredential, parseTurnUrls } from './turnCredentials.js';

describe('parseTurnUrls()', () => {
	it('takes turn: and turns: URIs with ports and transports, separated by commas', () => {
		expect(parseTurnUrls('turn:turn.example.com:3478?transport=udp, turn:192.0.2.7?transport=tcp,turns:[2001:db8::1]:443?transport=tcp')).toEqual([
			'turn:turn.example.com:3478?transport=udp',
			'turn:192.0.2.7?transport=tcp',
			'turns:[2001:db8::1]:443?transport=tcp',
		]);
	});

	it('refuses what a browser cannot use, naming the entry', () => {
		expect(() => parseTurnUrls('stun:stun.example.com')).toThrow(/"stun:stun.example.com" is not a TURN URI/);
		expect(() => parseTurnUrls('turns:t.example.com?transport=udp')).toThrow(/no TURN over DTLS/);
		expect(() => parseTurnUrls('turn:t.example.com:70000')).toThrow(/port must be 1-65535/);
		expect(() => parseTurnUrls('turn:user@t.example.com')).toThrow(/not a TURN URI/);
		expect(() => parseTurnUrls(' , ')).toThrow(/at least one/);
		expect(() => parseTurnUrls(Array(9).fill('turn:t.example.com').join(','))).toThrow(/at most 8/);
	});
});

describe('mintTurnCredential()', () => {
	it('makes the TURN REST API credential coturn checks: expiry:id and base64 HMAC-SHA1 of it', () => {
		const minted = mintTurnCredential('a-shared-secret-of-at-least-32-chars!!', 'p_123', 600, 1_700_000_000_500);
		expect(minted.username).toBe('1700000600:p_123');
		expect(minted.credential).toBe(createHmac('sha1', 'a-shared-secret-of-at-least-32-chars!!').update('1700000600:p_123').digest('base64'));
		// RFC 2104 test case 2 (HMAC-SHA1, key "Jefe"), so the encoding is pinned, not only self-consistent.
		expect(createHmac('sha1', 'Jefe').update('what do ya want for nothing?').digest('hex')).toBe('effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
	});
});

describe('iceServersFor()', () => {
	const config = { urls: ['turns:turn.example.com:443?transport=tcp'], secret: 'x'.repeat(32), credentialTtlS: 3600 };

	it('gives each participant a credential of its own that expires', () => {
		const [a] = iceServersFor(config, 'alice', 1_000_000);
		const [b] = iceServersFor(config, 'bob', 1_000_000);
		expect(a).toMatchObject({ urls: config.urls, username: '4600:alice' });
		expect(b!.username).toBe('4600:bob');
		expect(a!.credential).not.toBe(b!.credential);
		expect(JSON.stringify([a, b])).not.toContain(config.secret);
	});

	it('refuses an id that is not URL-safe instead of putting it into a username', () => {
		expect(() => iceServersFor(config, 'eve:9999999999', 0)).toThrow(/URL-safe/);
	});
});
