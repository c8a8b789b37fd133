import { describe, expect, it } from 'vitest';
import { addressKey, clientAddress, normalizeAddress, parseTrustedProxies } from './trustedProxies.js';

describe('parseTrustedProxies()', () => {
	it('none trusts nobody, loopback only this machine', () => {
		expect(parseTrustedProxies('none').trusts('127.0.0.1')).toBe(false);
		const loopback = parseTrustedProxies('loopback');
		expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1'].map(loopback.trusts)).toEqual([true, true, true, true]);
		expect(['10.0.0.1', '::2', '128.0.0.1'].map(loopback.trusts)).toEqual([false, false, false]);
	});

	it('takes IPs and CIDRs of both families, loopback among them', () => {
		const proxies = parseTrustedProxies(' 10.0.0.0/8, 2001:db8::/32,192.0.2.7 ,loopback');
		expect(['10.200.1.1', '2001:db8:1::5', '192.0.2.7', '127.0.0.1'].map(proxies.trusts)).toEqual([true, true, true, true]);
		expect(['11.0.0.1', '2001:db9::1', '192.0.2.8', 'not-an-ip', ''].map(proxies.trusts)).toEqual([false, false, false, false, false]);
	});

	it.each(['', 'nobody', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '10.0.0.1,,10.0.0.2', 'example.com', '10.0.0.0/-1', '10.0.0.0/ 8'])('refuses %j, naming the entry', (value) => {
		expect(() => parseTrustedProxies(value)).toThrow(/is not an IP address or CIDR/);
	});
});

describe('clientAddress()', () => {
	const proxies = parseTrustedProxies('10.0.0.0/8');

	it('is the peer when the peer is not a trusted proxy, whatever it forwards', () => {
		expect(clientAddress('198.51.100.9', '203.0.113.5', proxies)).toBe('198.51.100.9');
	});

	it('walks X-Forwarded-For from the right past trusted hops, as Express does', () => {
		expect(clientAddress('10.0.0.2', '203.0.113.5', proxies)).toBe('203.0.113.5');
		// A client cannot pick its address by sending its own X-Forwarded-For: the proxy appends the real peer.
		expect(clientAddress('10.0.0.2', '1.1.1.1, 203.0.113.5', proxies)).toBe('203.0.113.5');
		expect(clientAddress('10.0.0.2', '203.0.113.5, 10.1.1.1', proxies)).toBe('203.0.113.5');
		expect(clientAddress('::ffff:10.0.0.2', '203.0.113.5', proxies)).toBe('203.0.113.5');
	});

	it('is the proxy itself when it forwards nothing, or only trusted hops', () => {
		expect(clientAddress('10.0.0.2', undefined, proxies)).toBe('10.0.0.2');
		expect(clientAddress('10.0.0.2', '10.3.3.3', proxies)).toBe('10.3.3.3');
	});

	it('looks at no more than 32 hops', () => {
		const chain = ['203.0.113.1', ...Array<string>(40).fill('10.0.0.9')].join(',');
		expect(clientAddress('10.0.0.2', chain, proxies)).toBe('10.0.0.9');
	});
});

describe('addressKey()', () => {
	it('counts IPv4 by address and IPv6 by /64', () => {
		expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
		expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
		expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
		expect(addressKey('2001:0db8:0000:0001:ffff:0:0:9')).toBe('2001:db8:0:1::/64');
		expect(addressKey('::1')).toBe('0:0:0:0::/64');
		expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
		expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
	});

	it('keeps what it cannot parse as it is', () => {
		expect(addressKey('garbage')).toBe('garbage');
		expect(normalizeAddress('::ffff:nope')).toBe('::ffff:nope');
	});
});
