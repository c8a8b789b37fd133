import { ConfigError } from '@tribune/ingest';
import { describe, expect, it } from 'vitest';
import { loadTranscoderConfig } from './config.js';

describe('loadTranscoderConfig: how a broadcast degrades', () => {
	const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

	it('starts with everything on a machine with a free core and may shed every level, by default', () => {
		const config = loadTranscoderConfig(base);
		expect(config.broadcastStartIdleCores).toBe(1);
		expect(config.broadcastMaxShed).toBe(4);
	});

	it('takes an operator\'s values', () => {
		const config = loadTranscoderConfig({ ...base, TRIBUNE_BROADCAST_START_IDLE_CORES: '0.5', TRIBUNE_BROADCAST_MAX_SHED: '0' });
		expect(config.broadcastStartIdleCores).toBe(0.5);
		expect(config.broadcastMaxShed).toBe(0);
	});

	it('refuses anything else, naming the variable', () => {
		for (const value of ['-1', '5', '1.5', 'all', '4; rm -rf /']) {
			expect(() => loadTranscoderConfig({ ...base, TRIBUNE_BROADCAST_MAX_SHED: value })).toThrow(ConfigError);
			expect(() => loadTranscoderConfig({ ...base, TRIBUNE_BROADCAST_MAX_SHED: value })).toThrow(/TRIBUNE_BROADCAST_MAX_SHED/);
		}
		for (const value of ['-0.5', 'lots', '2000']) expect(() => loadTranscoderConfig({ ...base, TRIBUNE_BROADCAST_START_IDLE_CORES: value })).toThrow(/TRIBUNE_BROADCAST_START_IDLE_CORES/);
	});
});
