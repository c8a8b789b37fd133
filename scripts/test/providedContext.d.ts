import 'vitest';

declare module 'vitest' {
	export interface ProvidedContext {
		/** Redis for integration tests: REDIS_URL when set, else a private redis-server for this run. */
		redisUrl: string;
	}
}
