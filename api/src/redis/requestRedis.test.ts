import { describe, expect, it } from 'vitest';
import { isRedisUnavailable } from './requestRedis.js';

describe('isRedisUnavailable()', () => {
	it.each([
		'Connection is closed.',
		'Command timed out',
		"Stream isn't writeable and enableOfflineQueue options is false",
		"READONLY You can't write against a read only replica.",
		'LOADING Redis is loading the dataset in memory',
		'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.',
		'TRIBUNE_DEADLINE the command ran too late',
	])('counts %j as Redis being away (503)', (message) => {
		expect(isRedisUnavailable(new Error(message))).toBe(true);
	});

	it.each(['WRONGTYPE Operation against a key holding the wrong kind of value', 'ERR unknown command', 'NOSCRIPT No matching script', 'a READONLY word inside'])('does not count %j', (message) => {
		expect(isRedisUnavailable(new Error(message))).toBe(false);
	});

	it('does not count what is not an Error', () => {
		expect(isRedisUnavailable('READONLY x')).toBe(false);
	});
});
