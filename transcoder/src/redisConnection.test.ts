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

	it('reads a Sentinel URL: sentinels (default port 26379, IPv6), master name, database, Redis and sentinel credentials', () => {
		const options = redisOptionsFromUrl('redis+sentinel://app:s%3Acret@10.0.0.1:26380,sentinel-b,[fd00::3]:26381/tribune-main/3?sentinelPassword=p%26q&sentinelUsername=watch');
		expect(options).toMatchObject({
			sentinels: [{ host: '10.0.0.1', port: 26380 }, { host: 'sentinel-b', port: 26379 }, { host: 'fd00::3', port: 26381 }],
			name: 'tribune-main',
			role: 'master',
			db: 3,
			username: 'app',
			password: 's:cret',
			sentinelUsername: 'watch',
			sentinelPassword: 'p&q',
			failoverDetector: true,
		});
		expect(options.tls).toBeUndefined();
		expect(options.host).toBeUndefined();
	});

	it('uses TLS to the sentinels and to Redis for rediss+sentinel://, database 0 by default', () => {
		expect(redisOptionsFromUrl('rediss+sentinel://s1:1,s2:2/m')).toMatchObject({ db: 0, tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {}, password: undefined });
	});

	it.each([
		['redis+sentinel://s1,s2', /names its master/],
		['redis+sentinel://s1/', /master name ""/],
		['redis+sentinel://s1/bad name', /master name/],
		['redis+sentinel://s1:99999/m', /port out of range/],
		['redis+sentinel://s1:1,,s2/m', /sentinel address ""/],
		['redis+sentinel://s1;rm/m', /sentinel address/],
		['redis+sentinel://s1/m/x', /database "x"/],
		['redis+sentinel://s1/m/1/2', /path is/],
		['redis+sentinel://s1/m?password=x', /unknown Sentinel URL parameter "password"/],
	])('refuses %s with a reason', (url, reason) => {
		expect(() => redisOptionsFromUrl(url)).toThrow(reason);
	});

	it('rejects other schemes', () => {
		expect(() => redisOptionsFromUrl('http://127.0.0.1:6379')).toThrow(/unsupported Redis URL scheme http:/);
	});
});

describe('isRedisUrl()', () => {
	it.each(['redis://localhost:6379', 'rediss://h/1', 'unix:///tmp/r.sock', 'redis+sentinel://a,b:26380,c/mymaster'])('accepts %s', (url) => {
		expect(isRedisUrl(url)).toBe(true);
	});

	it.each(['localhost:6379', 'unix://', 'redis://h/x', 'ftp://h', '', 'redis+sentinel://a,b', 'redis-sentinel://a/m'])('rejects %j', (url) => {
		expect(isRedisUrl(url)).toBe(false);
	});
});
