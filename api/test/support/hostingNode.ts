import type { Redis } from 'ioredis';
import pino from 'pino';
import { AdminSessions } from '../../src/auth/AdminSessions.js';
import { HostIdentities } from '../../src/auth/HostIdentities.js';
import { HostInvites } from '../../src/auth/HostInvites.js';
import { clientAddressTag } from '../../src/auth/clientAddressTag.js';
import { FailedAuthThrottle } from '../../src/server/FailedAuthThrottle.js';
import type { HostingRouterDeps } from '../../src/server/hostingRouter.js';
import { ListenerTally } from '../../src/signaling/ListenerTally.js';
import type { Spaces } from '../../src/spaces/createSpaces.js';

/** The operator's key test nodes use when a test asks for hosting (`startTestNode(…, { adminKey })`). */
export const testAdminKey = 'test-admin-key-0123456789abcdefghijklmnop';

/** Hosting as main.ts wires it (admin sessions, invites, host identities, the server API), on a test node's Redis. */
export function hostingFor(redis: Redis, prefix: string, tokenKey: Uint8Array, adminKey: string): { hosts: HostIdentities; deps: (spaces: Spaces) => HostingRouterDeps } {
	const hosts = new HostIdentities({ redis, prefix, tokenKey });
	const sessions = new AdminSessions({ redis, prefix, operatorKey: { key: adminKey, fromDataDir: false } });
	const invites = new HostInvites({ redis, prefix, hostTtlS: 90 * 24 * 3600 });
	const tally = new ListenerTally(redis, prefix, 'test-operator-reads', 15_000);
	const authThrottle = new FailedAuthThrottle({ redis, prefix, tag: (address) => clientAddressTag(tokenKey, address), logger: pino({ level: 'silent' }) });
	return {
		hosts,
		deps: (spaces) => ({
			spaces: spaces.service,
			sessions,
			invites,
			hosts,
			authThrottle,
			participantCount: (spaceId) => spaces.store.countParticipants(spaceId),
			listenerCount: async (spaceId) => (await tally.read(spaceId)).listeners,
		}),
	};
}
