import { redisOptionsFromUrl } from '@tribune/transcoder';
import { Redis } from 'ioredis';
import { TribuneError } from '../errors.js';

/** How long one request-path command may take before the request is answered 503 (Redis frozen, not closed). */
export const requestRedisCommandTimeoutMs = 1500;

/**
 * The Redis connection REST requests and captioner pushes use. Unlike `connectRedis` (BullMQ's rule:
 * `maxRetriesPerRequest: null`, commands wait for Redis to come back), a request must not hang during an outage and
 * then be applied late, long after its caller gave up: with no offline queue a command fails at once while Redis is
 * disconnected, a command in flight when the connection drops is failed rather than resent after the reconnect, and
 * a command Redis does not answer fails after `requestRedisCommandTimeoutMs`. The connection itself keeps retrying.
 */
export function connectRequestRedis(url: string, name: string): Redis {
	return new Redis({
		...redisOptionsFromUrl(url),
		connectionName: name,
		enableOfflineQueue: false,
		maxRetriesPerRequest: 0,
		autoResendUnfulfilledCommands: false,
		commandTimeout: requestRedisCommandTimeoutMs,
		// A primary demoted by a Sentinel failover answers writes READONLY: reconnect (through the sentinels, to the new
		// primary) without resending; the request that got it is answered 503.
		reconnectOnError: (error) => isReadOnly(error),
		lazyConnect: false,
	});
}

/**
 * Errors ioredis raises when it could not reach Redis for a command (as opposed to a Redis error reply), and the
 * store's `TRIBUNE_DEADLINE` reply: Redis ran the command too late to apply it (it froze meanwhile).
 */
export function isRedisUnavailable(error: unknown): boolean {
	if (!(error instanceof Error)) return false;
	if (error.name === 'MaxRetriesPerRequestError') return true;
	// READONLY: a demoted primary; LOADING: a Redis reading its data after a restart; MASTERDOWN: a replica whose
	// primary is away; all pass (a failover, a restart).
	return /enableOfflineQueue|Command timed out|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|^TRIBUNE_DEADLINE|^(READONLY|LOADING|MASTERDOWN) /.test(error.message);
}

/** Redis's answer to a write sent to a replica (a primary demoted by a failover). */
const isReadOnly = (error: Error): boolean => error.message.startsWith('READONLY ');

/** The client-facing form of an outage: 503 `unavailable`, never a 500 with Redis's words in it. */
export function redisUnavailable(): TribuneError {
	return new TribuneError('unavailable', 'storage unavailable; retry shortly');
}
