import { describe, expect, it } from 'vitest';
import { loadLauncherConfig } from '../config.js';
import { coturnConfigFile } from './Coturn.js';

describe('coturnConfigFile()', () => {
	const turn = loadLauncherConfig({ TURN_EMBEDDED: 'true', TURN_TLS_PORT: '443', TLS_CERT_FILE: '/etc/tribune/fullchain.pem', TLS_KEY_FILE: '/etc/tribune/privkey.pem', TURN_EXTERNAL_IP: '203.0.113.5' }).turnServer!;

	it('checks REST API credentials from the shared secret, relays only to the media servers and bounds every allocation', () => {
		const file = coturnConfigFile({ config: turn, secret: 'k'.repeat(40), mediaIps: ['203.0.113.5', '10.0.0.5'], dir: '/var/lib/tribune/turn' });
		expect(file.split('\n')).toEqual(expect.arrayContaining([
			'listening-port=3478',
			'tls-listening-port=443',
			'cert=/etc/tribune/fullchain.pem',
			'pkey=/etc/tribune/privkey.pem',
			'external-ip=203.0.113.5',
			'use-auth-secret',
			`static-auth-secret=${'k'.repeat(40)}`,
			'min-port=50000',
			'max-port=59999',
			'denied-peer-ip=0.0.0.0-255.255.255.255',
			'allowed-peer-ip=203.0.113.5',
			'allowed-peer-ip=10.0.0.5',
			'user-quota=12',
			'no-dtls',
			'no-cli',
		]));
		expect(file).not.toContain('no-tls\n');
	});

	it('relays to TURN_PEER_IPS when set, and refuses to start with nothing to relay to', () => {
		const own = { ...turn, peerIps: ['192.0.2.9'] };
		expect(coturnConfigFile({ config: own, secret: 'k'.repeat(40), mediaIps: ['10.0.0.5'], dir: '/d' })).toMatch(/allowed-peer-ip=192\.0\.2\.9\n(?![\s\S]*allowed-peer-ip=10\.0\.0\.5)/);
		expect(() => coturnConfigFile({ config: turn, secret: 'k'.repeat(40), mediaIps: [], dir: '/d' })).toThrow(/no peer to relay to/);
	});

	it('has no TLS listener without a TLS port', () => {
		const plain = loadLauncherConfig({ TURN_EMBEDDED: 'true' }).turnServer!;
		expect(coturnConfigFile({ config: plain, secret: 'k'.repeat(40), mediaIps: ['10.0.0.5'], dir: '/d' })).toContain('\nno-tls\n');
	});
});
