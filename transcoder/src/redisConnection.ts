import { Redis, type RedisOptions } from 'ioredis';

/**
 * Turns a Tribune REDIS_URL into ioredis options. Besides ioredis' own `redis://` and `rediss://` URLs, Tribune
 * accepts `unix:///path/to/redis.sock`, which the one-machine launcher uses for its private Redis.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
	if (url.startsWith('unix://')) return { path: decodeURIComponent(url.slice('unix://'.length)) };
	const parsed = new URL(url);
	if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
		throw new Error(`unsupported Redis URL scheme ${parsed.protocol} (expected redis:, rediss: or unix:)`);
	}
	return {
		host: parsed.hostname.replace(/^\[|\]$/g, ''),
		port: parsed.port ? Number(parsed.port) : 6379,
		username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
		password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
		db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
		tls: parsed.protocol === 'rediss:' ? {} : undefined,
	};
}

/** True when `url` is a Redis URL Tribune can use; used by config schemas. */
export function isRedisUrl(url: string): boolean {
	try {
		const options = redisOptionsFromUrl(url);
		return options.path !== undefined ? options.path.length > 0 : Number.isInteger(options.db) && (options.db ?? 0) >= 0;
	} catch {
		return false;
	}
}

/**
 * Opens a Redis connection. `maxRetriesPerRequest: null` is what BullMQ requires of the connections it uses, and it
 * suits every other Tribune use too: while Redis restarts, commands wait for it instead of failing.
 */
export function connectRedis(url: string, name: string): Redis {
	return new Redis({ ...redisOptionsFromUrl(url), connectionName: name, maxRetriesPerRequest: null, lazyConnect: false });
}
