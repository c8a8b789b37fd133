import { Redis, type RedisOptions } from 'ioredis';

/** Port of a sentinel named without one (Redis's default for redis-sentinel). */
const defaultSentinelPort = 26379;
/** A Sentinel master name: what `sentinel monitor <name> …` accepts and Tribune puts in a URL path. */
const masterNamePattern = /^[A-Za-z0-9._-]{1,64}$/;
/** Query parameters a Sentinel URL may carry; anything else is refused rather than ignored. */
const sentinelQueryKeys = new Set(['sentinelUsername', 'sentinelPassword']);

/**
 * Turns a Tribune REDIS_URL into ioredis options. Besides ioredis' own `redis://` and `rediss://` URLs, Tribune
 * accepts `unix:///path/to/redis.sock`, which the one-machine launcher uses for its private Redis, and a Redis
 * Sentinel deployment:
 *
 * `redis+sentinel://[user:password@]host[:port][,host[:port]…]/<master name>[/<db>][?sentinelUsername=…&sentinelPassword=…]`
 *
 * (`rediss+sentinel://`: TLS to the sentinels and to Redis). The hosts are sentinels (port 26379 when not given;
 * IPv6 in brackets); the credentials before `@` are Redis's, the query's are the sentinels' (percent-encoded).
 * ioredis asks the sentinels for the primary, checks the role of what it reached, and follows a failover: on
 * `+switch-master` (`failoverDetector`) or when the connection drops.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
	if (url.startsWith('unix://')) return { path: decodeURIComponent(url.slice('unix://'.length)) };
	if (url.startsWith('redis+sentinel://') || url.startsWith('rediss+sentinel://')) return sentinelOptionsFromUrl(url);
	const parsed = new URL(url);
	if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
		throw new Error(`unsupported Redis URL scheme ${parsed.protocol} (expected redis:, rediss:, redis+sentinel:, rediss+sentinel: or unix:)`);
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

/**
 * The sentinel form, parsed by hand: WHATWG URLs have one host, and a sentinel list is several. Every part is
 * checked (host characters, port range, master name, database number, known query keys): a typo fails at startup,
 * not as a connection that never comes up.
 */
function sentinelOptionsFromUrl(url: string): RedisOptions {
	const tls = url.startsWith('rediss+');
	const rest = url.slice(url.indexOf('://') + 3);
	const queryAt = rest.indexOf('?');
	const beforeQuery = queryAt === -1 ? rest : rest.slice(0, queryAt);
	const query = new URLSearchParams(queryAt === -1 ? '' : rest.slice(queryAt + 1));
	const slash = beforeQuery.indexOf('/');
	if (slash === -1) throw new Error('a Sentinel URL names its master after the hosts: redis+sentinel://host:26379,…/<master name>');
	const authority = beforeQuery.slice(0, slash);
	const pathParts = beforeQuery.slice(slash + 1).split('/');
	const at = authority.lastIndexOf('@');
	const userInfo = at === -1 ? undefined : authority.slice(0, at);
	const hostList = at === -1 ? authority : authority.slice(at + 1);

	const sentinels = hostList.split(',').map(parseHostPort);
	if (sentinels.length === 0 || sentinels.length > 16) throw new Error('a Sentinel URL lists 1 to 16 sentinels');
	const name = decodeURIComponent(pathParts[0] ?? '');
	if (!masterNamePattern.test(name)) throw new Error(`Sentinel master name ${JSON.stringify(name)}: expected 1-64 of [A-Za-z0-9._-]`);
	if (pathParts.length > 2) throw new Error('a Sentinel URL path is /<master name>[/<db>]');
	const dbText = pathParts[1] ?? '';
	if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) throw new Error(`Redis database ${JSON.stringify(dbText)}: expected a number`);
	const db = dbText === '' ? 0 : Number(dbText);
	for (const key of query.keys()) if (!sentinelQueryKeys.has(key)) throw new Error(`unknown Sentinel URL parameter ${JSON.stringify(key)} (expected sentinelUsername, sentinelPassword)`);

	let username: string | undefined;
	let password: string | undefined;
	if (userInfo !== undefined) {
		const colon = userInfo.indexOf(':');
		username = decodeURIComponent(colon === -1 ? userInfo : userInfo.slice(0, colon)) || undefined;
		password = colon === -1 ? undefined : decodeURIComponent(userInfo.slice(colon + 1)) || undefined;
	}
	return {
		sentinels,
		name,
		role: 'master',
		db,
		username,
		password,
		sentinelUsername: query.get('sentinelUsername') ?? undefined,
		sentinelPassword: query.get('sentinelPassword') ?? undefined,
		// Reconnect as soon as a sentinel announces a new primary, not only once the old one's connection drops (a
		// primary cut off by the network keeps its connections open while the others elect a replacement).
		failoverDetector: true,
		// Sentinels that are down are tried again within a second, for as long as it takes.
		sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
		...(tls && { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} }),
	};
}

/** `host`, `host:port`, `[v6]` or `[v6]:port` of one sentinel. */
function parseHostPort(text: string): { host: string; port: number } {
	const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(text);
	if (!match) throw new Error(`sentinel address ${JSON.stringify(text)}: expected host[:port] or [IPv6][:port]`);
	const port = match[3] === undefined ? defaultSentinelPort : Number(match[3]);
	if (port < 1 || port > 65535) throw new Error(`sentinel address ${JSON.stringify(text)}: port out of range`);
	return { host: (match[1] ?? match[2])!, port };
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
 * suits every other Tribune use too: while Redis restarts (or Sentinel fails over), commands wait for it instead of
 * failing.
 */
export function connectRedis(url: string, name: string): Redis {
	return new Redis({
		...redisOptionsFromUrl(url),
		connectionName: name,
		maxRetriesPerRequest: null,
		// A primary demoted by a Sentinel failover answers writes READONLY: reconnect (the sentinels name the new
		// primary) and resend the command there (2), as commands wait through any other Redis outage.
		reconnectOnError: (error) => (error.message.startsWith('READONLY ') ? 2 : false),
		lazyConnect: false,
	});
}
