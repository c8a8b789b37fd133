import { describe, expect, it } from 'vitest';
import { loadApiConfig, loadLauncherConfig } from './config.js';

describe('loadApiConfig()', () => {
	it('serves on port 8080 of every interface by default', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject({ port: 8080, host: '0.0.0.0', logLevel: 'info' });
	});

	it('requires REDIS_URL and says which forms it takes', () => {
		expect(() => loadApiConfig({})).toThrow(/REDIS_URL=\(unset\): required: redis:\/\/host:port/);
	});

	it('names an invalid PORT and LOG_LEVEL', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', PORT: '0', LOG_LEVEL: 'loud' })).toThrow(/PORT="0"[\s\S]*LOG_LEVEL="loud"/);
	});
});

describe('loadApiConfig(): spaces', () => {
	it('generates the token secret unless one is set, and keeps synthetic speakers off by default', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://h' })).toMatchObject({ tokenSecret: undefined, tokenTtlS: 43200, maxSpeakersLimit: 25, syntheticSpeakers: false });
	});

	it('rejects a token secret shorter than 32 characters without echoing it', () => {
		const load = () => loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_TOKEN_SECRET: 'short-secret' });
		expect(load).toThrow(/TRIBUNE_TOKEN_SECRET=\(hidden\): expected at least 32/);
		expect(load).not.toThrow(/short-secret/);
	});
});

describe('loadApiConfig(): tokens', () => {
	it('ends sessions after a day and keeps tokens out of captioner URLs unless told otherwise', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://h' })).toMatchObject({ tokenMaxSessionS: 86_400, captionerUrlTokens: false });
		expect(loadApiConfig({ REDIS_URL: 'redis://h', TOKEN_MAX_SESSION_S: '7200', CAPTIONER_URL_TOKENS: 'true' })).toMatchObject({ tokenMaxSessionS: 7200, captionerUrlTokens: true });
	});

	it('names an invalid maximum session age or compatibility switch', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', TOKEN_MAX_SESSION_S: '0', CAPTIONER_URL_TOKENS: 'sometimes' })).toThrow(/TOKEN_MAX_SESSION_S="0"[\s\S]*CAPTIONER_URL_TOKENS="sometimes"/);
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', TOKEN_MAX_SESSION_S: String(31 * 24 * 3600) })).toThrow(/TOKEN_MAX_SESSION_S.*at most 30 days/);
	});
});

describe('loadApiConfig(): admission', () => {
	it('keeps hosting closed and the spaces limits at their documented defaults unless told otherwise', () => {
		const config = loadApiConfig({ REDIS_URL: 'redis://h' });
		expect(config.openHosting).toBe(false);
		expect(config.spaceLimits).toEqual({
			liveSpacesMax: 50,
			liveSpacesPerHost: 2,
			createsPerMinPerIdentity: 10,
			createsPerMinPerAddress: 30,
			joinsPerMinPerAddress: 1200,
			joinsPerMinPerAddressInSpace: 600,
			unconnectedParticipantTtlS: 120,
			maxParticipants: 100_000,
			maxHands: 500,
			unstartedTtlS: 86_400,
		});
		expect(loadApiConfig({ REDIS_URL: 'redis://h', TRIBUNE_OPEN_HOSTING: 'true', JOINS_PER_MIN_PER_ADDRESS_IN_SPACE: '60' })).toMatchObject({ openHosting: true, spaceLimits: { joinsPerMinPerAddressInSpace: 60 } });
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', JOINS_PER_MIN_PER_ADDRESS: '0' })).toThrow(/JOINS_PER_MIN_PER_ADDRESS="0"/);
	});

	it('takes 10 000 listeners and 2000 joins a second per node unless told otherwise', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://h' }).admission).toEqual({ maxAudience: 10_000, maxJoinsPerS: 2000, retryAfterS: 10, maxSpaceAudience: 50_000, maxAddressConnections: 500 });
		expect(loadApiConfig({ REDIS_URL: 'redis://h' }).lifecycle).toEqual({ idleEndS: 600, maxLiveS: 43_200, participantIdleTtlS: 3600, handDisconnectLowerS: 60 });
		expect(loadApiConfig({ REDIS_URL: 'redis://h', SPACE_MAX_AUDIENCE: '7', ADDRESS_MAX_CONNECTIONS: '3', SPACE_IDLE_END_S: '5' })).toMatchObject({ admission: { maxSpaceAudience: 7, maxAddressConnections: 3 }, lifecycle: { idleEndS: 5 } });
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', HAND_DISCONNECT_LOWER_S: '0' })).toThrow(/HAND_DISCONNECT_LOWER_S/);
		expect(loadApiConfig({ REDIS_URL: 'redis://h', NODE_MAX_AUDIENCE: '500', NODE_FULL_RETRY_AFTER_S: '3' }).admission).toMatchObject({ maxAudience: 500, retryAfterS: 3 });
	});

	it('names an invalid capacity', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', NODE_MAX_AUDIENCE: '0', NODE_FULL_RETRY_AFTER_S: 'soon' })).toThrow(/NODE_MAX_AUDIENCE="0"[\s\S]*NODE_FULL_RETRY_AFTER_S="soon"/);
	});
});

describe('loadApiConfig(): the HTTP edge', () => {
	const base = { REDIS_URL: 'redis://h' };

	it('lets any site frame the embed, serves no metrics, trusts loopback proxies and caps 256 connections an address by default', () => {
		const config = loadApiConfig(base);
		expect(config.embedOrigins).toBe('any');
		expect(config.metrics).toEqual({ token: undefined, listen: undefined });
		expect(config.trustedProxies.description).toBe('loopback');
		expect(config.trustedProxies.trusts('127.0.0.1')).toBe(true);
		expect(config.trustedProxies.trusts('10.0.0.1')).toBe(false);
		expect(config.connections).toEqual({ maxConnections: 20_000, maxPerAddress: 256 });
	});

	it('takes a list of embedding origins, proxies, a metrics listener and a token', () => {
		const token = 'm'.repeat(40);
		const config = loadApiConfig({
			...base, TRIBUNE_EMBED_ORIGINS: 'https://blog.example, http://localhost:3000/', TRIBUNE_TRUSTED_PROXIES: '10.0.0.0/8,::1', METRICS_PORT: '9464',
			TRIBUNE_METRICS_TOKEN: token, HTTP_MAX_CONNECTIONS: '5000', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '32',
		});
		expect(config.embedOrigins).toEqual(['https://blog.example', 'http://localhost:3000']);
		expect(config.metrics).toEqual({ token, listen: { host: '127.0.0.1', port: 9464 } });
		expect(config.trustedProxies.trusts('10.9.9.9')).toBe(true);
		expect(config.connections).toEqual({ maxConnections: 5000, maxPerAddress: 32 });
	});

	it.each([
		['TRIBUNE_EMBED_ORIGINS', 'https://blog.example/path'],
		['TRIBUNE_EMBED_ORIGINS', 'blog.example'],
		['TRIBUNE_EMBED_ORIGINS', "https://a.example 'unsafe-inline'"],
		['TRIBUNE_EMBED_ORIGINS', 'https://*.example'],
		['TRIBUNE_EMBED_ORIGINS', 'javascript:alert(1)'],
		['TRIBUNE_TRUSTED_PROXIES', '10.0.0.0/40'],
		['TRIBUNE_TRUSTED_PROXIES', 'proxy.internal'],
		['HTTP_MAX_CONNECTIONS', '0'],
		['HTTP_MAX_CONNECTIONS_PER_ADDRESS', 'many'],
		['METRICS_PORT', '8080'],
	])('names an invalid %s (%j)', (name, value) => {
		expect(() => loadApiConfig({ ...base, [name]: value })).toThrow(new RegExp(`${name}=`));
	});

	it('refuses a short or spaced metrics token without echoing it', () => {
		for (const token of ['short-metrics-token', `${'x'.repeat(20)} ${'y'.repeat(20)}`]) {
			const load = () => loadApiConfig({ ...base, TRIBUNE_METRICS_TOKEN: token });
			expect(load).toThrow(/TRIBUNE_METRICS_TOKEN=\(hidden\): expected at least 32 characters/);
			expect(load).not.toThrow(/short-metrics|xxxx/);
		}
	});
});

describe('loadLauncherConfig()', () => {
	it('runs a private Redis and one transcoder unless told otherwise', () => {
		expect(loadLauncherConfig({})).toMatchObject({ redisUrl: undefined, transcoderProcesses: 1, redisServerPath: 'redis-server' });
	});

	it('rejects a transcoder count of zero', () => {
		expect(() => loadLauncherConfig({ TRANSCODER_PROCESSES: '0' })).toThrow(/TRANSCODER_PROCESSES="0"/);
	});
});

describe('loadApiConfig(): HTTPS and TURN', () => {
	const base = { REDIS_URL: 'redis://h' };

	it('serves plain HTTP with no TURN unless told otherwise', () => {
		expect(loadApiConfig(base)).toMatchObject({ tls: undefined, turn: undefined });
	});

	it('takes a certificate and key together, a reload interval and a redirect port', () => {
		const config = loadApiConfig({ ...base, PORT: '443', TLS_CERT_FILE: '/etc/tribune/fullchain.pem', TLS_KEY_FILE: '/etc/tribune/privkey.pem', HTTP_REDIRECT_PORT: '80' });
		expect(config.tls).toEqual({ certFile: '/etc/tribune/fullchain.pem', keyFile: '/etc/tribune/privkey.pem', reloadCheckS: 30, redirectPort: 80 });
		expect(() => loadApiConfig({ ...base, TLS_CERT_FILE: '/c.pem' })).toThrow(/TLS_KEY_FILE.*go together/);
		expect(() => loadApiConfig({ ...base, HTTP_REDIRECT_PORT: '80' })).toThrow(/HTTP_REDIRECT_PORT.*needs TLS_CERT_FILE/);
		expect(() => loadApiConfig({ ...base, PORT: '443', TLS_CERT_FILE: '/c', TLS_KEY_FILE: '/k', HTTP_REDIRECT_PORT: '443' })).toThrow(/HTTP_REDIRECT_PORT.*must differ from PORT/);
	});

	it('takes TURN URIs with their secret, never echoing the secret', () => {
		const config = loadApiConfig({ ...base, TURN_URLS: 'turn:turn.example.com:3478?transport=udp,turns:turn.example.com:443?transport=tcp', TURN_SECRET: 's'.repeat(40) });
		expect(config.turn).toEqual({ urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp'], secret: 's'.repeat(40), credentialTtlS: 43_200 });
		expect(() => loadApiConfig({ ...base, TURN_URLS: 'turn:t.example.com' })).toThrow(/TURN_SECRET.*go together/);
		expect(() => loadApiConfig({ ...base, TURN_URLS: 'http://t.example.com', TURN_SECRET: 's'.repeat(40) })).toThrow(/TURN_URLS="http:\/\/t.example.com": "http:\/\/t.example.com" is not a TURN URI/);
		const short = () => loadApiConfig({ ...base, TURN_URLS: 'turn:t.example.com', TURN_SECRET: 'too-short-secret' });
		expect(short).toThrow(/TURN_SECRET=\(hidden\): expected at least 32/);
		expect(short).not.toThrow(/too-short-secret/);
	});
});

describe('loadLauncherConfig(): the embedded TURN server', () => {
	it('runs none unless TURN_EMBEDDED, and then coturn on 3478 relaying from 50000-59999 (clear of mediasoup)', () => {
		expect(loadLauncherConfig({}).turnServer).toBeUndefined();
		expect(loadLauncherConfig({ TURN_EMBEDDED: 'true' }).turnServer).toMatchObject({ serverPath: 'turnserver', port: 3478, tls: undefined, relayMinPort: 50_000, relayMaxPort: 59_999, peerIps: undefined, userQuota: 12 });
	});

	it('listens with TLS on TURN_TLS_PORT with the HTTPS certificate unless given its own', () => {
		expect(loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_TLS_PORT: '443', TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' }).turnServer?.tls).toEqual({ port: 443, certFile: '/c.pem', keyFile: '/k.pem' });
		expect(loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_TLS_PORT: '5349', TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem', TURN_TLS_CERT_FILE: '/t.pem', TURN_TLS_KEY_FILE: '/tk.pem' }).turnServer?.tls).toEqual({ port: 5349, certFile: '/t.pem', keyFile: '/tk.pem' });
		expect(() => loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_TLS_PORT: '443' })).toThrow(/TURN_TLS_PORT.*needs a certificate/);
	});

	it('names bad peer addresses and port ranges', () => {
		expect(loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_PEER_IPS: '192.0.2.10, 2001:db8::10' }).turnServer?.peerIps).toEqual(['192.0.2.10', '2001:db8::10']);
		expect(() => loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_PEER_IPS: '192.0.2.0/24' })).toThrow(/"192.0.2.0\/24" is not an IP address/);
		expect(() => loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_RELAY_MIN_PORT: '60000', TURN_RELAY_MAX_PORT: '50000' })).toThrow(/TURN_RELAY_MIN_PORT must be below/);
	});
});
