import { describe, expect, it } from 'vitest';
import { isRedisUrl, redisOptionsFromUrl } from './redisConnection.js';

describe('redisOptionsFromUrl()', () => {
	it('reads host, port, credentials and database from a redis:// URL', () => {
		expect(redisOptionsFromUrl('redis://user:p%40ss@cache.internal:6380/2')).toMatchObject({
			host: 'cache.internal', port: 6380, username: 'user', password: 'p@ss', db: 2, tls: undefined,
		});
	});

	it('defaults to port 6379 and database 0', () => {
		expect(redisOptionsFromUrl('redis://127.0.0.1')).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0 });
	});

	it('enables TLS for rediss:// and strips IPv6 brackets', () => {
		expect(redisOptionsFromUrl('rediss://[::1]:7000')).toMatchObject({ host: '::1', port: 7000, tls: {} });
	});

	it('turns unix:// URLs into a socket path', () => {
		expect(redisOptionsFromUrl('unix:///var/lib/tribune/redis%20data/redis.sock')).toEqual({ path: '/var/lib/tribune/redis data/redis.sock' });
	});

	it('rejects other schemes', () => {
		expect(() => redisOptionsFromUrl('http://127.0.0.1:6379')).toThrow(/unsupported Redis URL scheme http:/);
	});
});

describe('isRedisUrl()', () => {
	it.each(['redis://localhost:6379', 'rediss://h/1', 'unix:///tmp/r.sock'])('accepts %s', (url) => {
		expect(isRedisUrl(url)).toBe(true);
	});

	it.each(['localhost:6379', 'unix://', 'redis://h/x', 'ftp://h', ''])('rejects %j', (url) => {
		expect(isRedisUrl(url)).toBe(false);
	});
});
