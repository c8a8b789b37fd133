import { describe, expect, it } from 'vitest';
import { loadIngestConfig } from './config.js';

describe('loadIngestConfig()', () => {
	it('defaults to loopback and the 40000-49999 port range', () => {
		const config = loadIngestConfig({});
		expect(config).toMatchObject({ rtcMinPort: 40000, rtcMaxPort: 49999, listenIp: '127.0.0.1', announcedIp: undefined });
		expect(config.numWorkers).toBeGreaterThanOrEqual(1);
	});

	it('rejects a port range whose minimum is not below its maximum', () => {
		expect(() => loadIngestConfig({ MEDIASOUP_MIN_PORT: '5000', MEDIASOUP_MAX_PORT: '4000' })).toThrow(/MEDIASOUP_MIN_PORT must be below MEDIASOUP_MAX_PORT/);
	});

	it('rejects a listen IP that is not an address', () => {
		expect(() => loadIngestConfig({ MEDIASOUP_LISTEN_IP: 'example.org' })).toThrow(/MEDIASOUP_LISTEN_IP="example.org"/);
	});

	it('accepts an announced host name for servers behind NAT', () => {
		expect(loadIngestConfig({ MEDIASOUP_LISTEN_IP: '0.0.0.0', MEDIASOUP_ANNOUNCED_IP: 'stage.example.org' }).announcedIp).toBe('stage.example.org');
	});
});
