import type { IdentityCredentials } from '../auth/IdentityCredentials.js';
import { RetryLaterError, TribuneError } from '../errors.js';
import type { SpaceLimits } from './SpaceLimits.js';
import type { SpaceStore } from './SpaceStore.js';

/** What a verified host credential names (`HostIdentities.verify`). */
export type VerifyHostCredential = (credential: string) => Promise<{ identity: string }>;

export interface ClientIdentitiesOptions {
	/** Anonymous identity credentials. */
	identities: IdentityCredentials;
	/** Verifies a host credential (throws `unauthorized`); absent: host credentials are refused. */
	verifyHostCredential?: VerifyHostCredential;
	/** Anyone may create spaces, as an anonymous identity. */
	openHosting: boolean;
	/** The tag a client address is kept as; absent: addresses are not kept. */
	addressTag?: (address: string) => string;
	/** Where the creation buckets are. */
	store: Pick<SpaceStore, 'takeRate'>;
	limits: Pick<SpaceLimits, 'createsPerMinPerAddress' | 'createsPerMinPerIdentity' | 'joinsPerMinPerAddress' | 'joinsPerMinPerAddressInSpace'>;
}

/**
 * Who a request comes from, as `SpaceService` needs it: the identity a credential names, the tag its address is
 * kept as, and whether it may create a space now (hosting, and the creation rates).
 */
export class ClientIdentities {
	readonly #options: ClientIdentitiesOptions;

	constructor(options: ClientIdentitiesOptions) {
		this.#options = options;
	}

	/**
	 * Who may create a space from a REST request: the host a host credential names; without one, refused
	 * (`host_required`) unless hosting is open, where the creator is the anonymous identity `identity` names (a new
	 * one when it names none) and gets a fresh credential for it.
	 */
	async creatorFor(request: { hostCredential?: string; identity?: string }): Promise<{ identity: string; credential?: string }> {
		const { identities, verifyHostCredential, openHosting } = this.#options;
		if (request.hostCredential !== undefined) {
			if (!verifyHostCredential) throw new TribuneError('unauthorized', 'host credentials are not accepted here');
			return { identity: (await verifyHostCredential(request.hostCredential)).identity };
		}
		if (!openHosting) throw new TribuneError('host_required', "creating a space needs a host invite from this server's operator");
		const known = request.identity === undefined ? undefined : await identities.verify(request.identity).catch(namesNobody);
		return identities.issue(known);
	}

	/**
	 * Counts a creation against the address's and the identity's buckets (operator subjects are the operator's own:
	 * only their address, if any, is counted). Refused `rate_limited` with when to try again.
	 */
	async takeCreation(owner: string, address: string | undefined): Promise<void> {
		const { store, limits } = this.#options;
		const take = async (bucket: string, perMin: number): Promise<void> => {
			const waitMs = await store.takeRate(bucket, { burst: perMin, perSecond: perMin / 60 });
			if (waitMs > 0) throw new RetryLaterError('rate_limited', 'too many spaces created; try again later', waitMs / 1000);
		};
		const tag = this.addressTag(address);
		if (tag !== undefined) await take(`create:addr:${tag}`, limits.createsPerMinPerAddress);
		if (!owner.startsWith('op:')) await take(`create:identity:${owner}`, limits.createsPerMinPerIdentity);
	}

	/**
	 * Counts a join that adds a participant record against the address's buckets, in the space and over all spaces.
	 * Refused `rate_limited` with when to try again. An address that is not kept (none, or no tags) is not counted.
	 */
	async takeJoin(spaceId: string, address: string | undefined): Promise<void> {
		const { store, limits } = this.#options;
		const tag = this.addressTag(address);
		if (tag === undefined) return;
		for (const [bucket, perMin] of [
			[`join:space:${spaceId}:addr:${tag}`, limits.joinsPerMinPerAddressInSpace],
			[`join:addr:${tag}`, limits.joinsPerMinPerAddress],
		] as const) {
			const waitMs = await store.takeRate(bucket, { burst: perMin, perSecond: perMin / 60 });
			if (waitMs > 0) throw new RetryLaterError('rate_limited', 'too many joins from your network; try again later', waitMs / 1000);
		}
	}

	/** The tag an address is kept as (undefined: no address, or addresses are not kept). */
	addressTag(address: string | undefined): string | undefined {
		return address === undefined ? undefined : this.#options.addressTag?.(address);
	}

	/**
	 * The identity an identity credential (anonymous or host) names, or undefined when it names none (refused
	 * `unauthorized`: forged, expired, revoked). Anything else (Redis slow or away) reaches the caller: a host whose
	 * credential could not be checked must not be told it names nobody (the player would forget it).
	 */
	async identityOf(credential: string): Promise<string | undefined> {
		const { identities, verifyHostCredential } = this.#options;
		const anonymous = await identities.verify(credential).catch(namesNobody);
		if (anonymous !== undefined) return anonymous;
		if (!verifyHostCredential) return undefined;
		return (await verifyHostCredential(credential).catch(namesNobody))?.identity;
	}

	/** A fresh credential for an anonymous identity; undefined for others (hosts keep theirs, the operator names its own). */
	async credentialFor(identity: string): Promise<string | undefined> {
		return identity.startsWith('anon:') ? (await this.#options.identities.issue(identity)).credential : undefined;
	}
}

/** A credential refused `unauthorized` names nobody; any other failure is rethrown. */
function namesNobody(error: unknown): undefined {
	if (error instanceof TribuneError && error.code === 'unauthorized') return undefined;
	throw error;
}
