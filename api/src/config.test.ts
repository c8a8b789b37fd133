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

describe('loadApiConfig(): admission', () => {
	it('takes 10 000 listeners and 2000 joins a second per node unless told otherwise', () => {
		expect(loadApiConfig({ REDIS_URL: 'redis://h' }).admission).toEqual({ maxAudience: 10_000, maxJoinsPerS: 2000, retryAfterS: 10 });
		expect(loadApiConfig({ REDIS_URL: 'redis://h', NODE_MAX_AUDIENCE: '500', NODE_FULL_RETRY_AFTER_S: '3' }).admission).toMatchObject({ maxAudience: 500, retryAfterS: 3 });
	});

	it('names an invalid capacity', () => {
		expect(() => loadApiConfig({ REDIS_URL: 'redis://h', NODE_MAX_AUDIENCE: '0', NODE_FULL_RETRY_AFTER_S: 'soon' })).toThrow(/NODE_MAX_AUDIENCE="0"[\s\S]*NODE_FULL_RETRY_AFTER_S="soon"/);
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
