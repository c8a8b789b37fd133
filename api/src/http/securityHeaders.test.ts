import { describe, expect, it } from 'vitest';
import { buildSecurityHeaders, headerSetFor, parseEmbedOrigins, withSocketHost } from './securityHeaders.js';

const header = (flat: readonly string[], name: string): string | undefined => flat[flat.indexOf(name) + 1];

describe('buildSecurityHeaders()', () => {
	it('gives the app exactly its policy, never framed', () => {
		const { app } = buildSecurityHeaders('any');
		expect(header(app, 'Content-Security-Policy')).toBe(
			"default-src 'self'; connect-src 'self'; media-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		);
		expect(header(app, 'X-Frame-Options')).toBe('DENY');
		expect(header(app, 'X-Content-Type-Options')).toBe('nosniff');
		expect(header(app, 'Referrer-Policy')).toBe('no-referrer');
	});

	it('lets any site frame the embed by default, or only the listed origins and its own', () => {
		const any = buildSecurityHeaders('any').embed;
		expect(header(any, 'Content-Security-Policy')).not.toMatch(/frame-ancestors/);
		expect(any).not.toContain('X-Frame-Options');
		const listed = buildSecurityHeaders(['https://blog.example', 'http://localhost:3000']).embed;
		expect(header(listed, 'Content-Security-Policy')).toMatch(/; frame-ancestors 'self' https:\/\/blog\.example http:\/\/localhost:3000$/);
		expect(listed).not.toContain('X-Frame-Options');
	});

	it('lets nothing load from, or frame, a JSON answer', () => {
		const { data } = buildSecurityHeaders('any');
		expect(header(data, 'Content-Security-Policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
		expect(header(data, 'X-Frame-Options')).toBe('DENY');
	});
});

describe('withSocketHost()', () => {
	const policy = "default-src 'self'; connect-src 'self'; media-src 'self' blob: data:";

	it("names the page's host for WebSockets next to 'self' (for browsers where 'self' does not cover ws:)", () => {
		expect(withSocketHost(policy, 'tribune.example:8443')).toBe("default-src 'self'; connect-src 'self' ws://tribune.example:8443 wss://tribune.example:8443; media-src 'self' blob: data:");
		expect(withSocketHost(policy, '[::1]:8080')).toContain('ws://[::1]:8080 wss://[::1]:8080;');
	});

	it.each([undefined, '', "evil.example; script-src 'unsafe-inline'", 'a b', 'x.example/path', 'user@x.example', `${'a'.repeat(300)}.example`, '*.example'])('leaves the policy alone for Host %j', (host) => {
		expect(withSocketHost(policy, host)).toBe(policy);
	});
});

describe('headerSetFor()', () => {
	it('sorts paths as Express routes them (case-insensitively)', () => {
		const cases: [string, string][] = [
			['/', 'app'], ['/s/abc', 'app'], ['/assets/index-1.js', 'app'], ['/embed/abc', 'embed'], ['/EMBED/abc', 'embed'], ['/embedded', 'app'],
			['/api/spaces', 'data'], ['/API/spaces', 'data'], ['/api', 'data'], ['/healthz', 'data'], ['/metrics', 'data'], ['/apix', 'app'],
			['/hls/s1/master.m3u8', 'hls'], ['/HLS/x', 'hls'], ['/hls', 'hls'],
		];
		for (const [path, set] of cases) expect([path, headerSetFor(path)]).toEqual([path, set]);
	});
});

describe('parseEmbedOrigins()', () => {
	it('takes * or origins as browsers write them', () => {
		expect(parseEmbedOrigins('*')).toBe('any');
		expect(parseEmbedOrigins('https://a.example,http://[::1]:8080 , https://b.example:8443/')).toEqual(['https://a.example', 'http://[::1]:8080', 'https://b.example:8443']);
	});

	it.each(['https://a.example/embed', 'https://user@a.example', 'https://a.example?x', 'ftp://a.example', 'https://*.a.example', "'self'", 'https://A.example', '', '*,https://a.example'])(
		'refuses %j',
		(value) => expect(() => parseEmbedOrigins(value)).toThrow(/is not an origin/),
	);
});
