import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TribuneError } from '../errors.js';
import type { ListenerTally } from '../signaling/ListenerTally.js';
import { asSpaceId, type SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import { planLifecycle, type EndReason, type LifecycleState } from './planLifecycle.js';

/** How live spaces end on their own and what idle participants leave behind (`SPACE_IDLE_END_S`, …). */
export interface LifecycleLimits {
	/** A live space with no host or co-host connected on any node for this long ends, s. Default 600. */
	idleEndS: number;
	/** A space live this long ends, s. Default 43 200 (12 h). */
	maxLiveS: number;
	/** A listener's record goes this long after their last connection, s. Default 3600. */
	participantIdleTtlS: number;
	/** A raised hand is lowered when its owner has been disconnected this long, s. Default 60. */
	handDisconnectLowerS: number;
}

export const defaultLifecycleLimits: Readonly<LifecycleLimits> = Object.freeze({ idleEndS: 600, maxLiveS: 43_200, participantIdleTtlS: 3600, handDisconnectLowerS: 60 });

/** The stage is warned this long before a space ends on its own (at once when the end is nearer), ms. */
const warnMs = 60_000;
/** Hands lowered and listener records removed per space per sweep: a sweep's work stays bounded under churn. */
const removalsPerSweep = 500;

/**
 * How often presence is refreshed and spaces are swept, ms: a third of the shortest time that counts, so nobody
 * connected looks away and no end comes more than a third late; between 250 ms (tests) and 5 s (sweeps) or 30 s
 * (presence).
 */
export function lifecycleTimings(limits: LifecycleLimits): { sweepMs: number; presenceRefreshMs: number; presenceKeepS: number } {
	const shortestMs = Math.min(limits.idleEndS, limits.handDisconnectLowerS, limits.participantIdleTtlS) * 1000;
	const presenceMs = Math.min(limits.handDisconnectLowerS, limits.participantIdleTtlS) * 1000;
	return {
		sweepMs: Math.max(250, Math.min(5000, Math.round(shortestMs / 3))),
		presenceRefreshMs: Math.max(250, Math.min(30_000, Math.round(presenceMs / 3))),
		// Presence outlives every record it times: a live space's life and an idle listener's TTL, and an hour.
		presenceKeepS: limits.maxLiveS + limits.participantIdleTtlS + 3600,
	};
}

export interface SpaceLifecycleOptions {
	service: SpaceService;
	/** For the live-space index, the sweep lock and each space's lifecycle state. */
	redis: Redis;
	prefix: string;
	nodeId: string;
	/** Hosts and co-hosts connected over every node. */
	tally: ListenerTally;
	logger: Logger;
	limits: LifecycleLimits;
}

/**
 * Ends live spaces nobody is running any more and clears what idle participants leave behind, on a cluster of API
 * nodes sharing one Redis. Every node runs a sweep timer; a Redis lock with an expiry lets one node sweep at a time
 * (renewed before each space, so a slow sweep keeps it; a node that dies mid-sweep frees it when it expires, and every
 * step is idempotent, so a sweep cut short is finished by the next), and is kept after the sweep until the next period,
 * so the cluster sweeps once a period. Per live space, a sweep:
 *  - ends it, through `SpaceService` like a host's end (the broadcast stops, the replay stays), when no host or
 *    co-host has been connected on any node (`ListenerTally`) for `idleEndS`, or it has been live `maxLiveS`;
 *    warns the stage a minute before (`spaceEnding`), and says when a host's return calls it off;
 *  - lowers hands whose owner has been away `handDisconnectLowerS` (presence, in the store: the owner may be back on
 *    another node);
 *  - removes listener records not connected for `participantIdleTtlS`.
 *
 * Keys: `<prefix>:live` (the store's set of live spaces) read, `<prefix>:lifecycle:live` (zset: space → start; a
 * space stays there until a sweep finds it ended), `<prefix>:lifecycle:lock`, and per space
 * `<prefix>:space:{id}:lifecycle` (hash: idleSince, warnedReason, warnedEndsAt; deleted when the space ends).
 */
export class SpaceLifecycle {
	readonly #service: SpaceService;
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #nodeId: string;
	readonly #tally: ListenerTally;
	readonly #logger: Logger;
	readonly #limits: LifecycleLimits;
	readonly #timer: NodeJS.Timeout;
	readonly #sweepMs: number;
	readonly #onSpaceState: (e: { space: { id: SpaceId; state: string; startedAt: number | null } }) => void;
	#sweeping: Promise<void> | undefined;
	#closed = false;

	constructor(options: SpaceLifecycleOptions) {
		this.#service = options.service;
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#nodeId = options.nodeId;
		this.#tally = options.tally;
		this.#logger = options.logger;
		this.#limits = options.limits;
		this.#sweepMs = lifecycleTimings(options.limits).sweepMs;
		// The node where a space goes live indexes it, and the node where it ends, having said so, takes it out; one
		// still indexed once ended (the end's reply or its node was lost) is said to have ended by the sweep.
		this.#onSpaceState = ({ space }) => {
			const indexed = space.state === 'live' ? this.#redis.zadd(this.#liveKey, space.startedAt ?? Date.now(), space.id) : space.state === 'ended' ? this.#redis.zrem(this.#liveKey, space.id) : undefined;
			indexed?.catch((error: unknown) => this.#logger.warn({ err: error, spaceId: space.id }, 'lifecycle: could not update the live-space index'));
		};
		this.#service.on('spaceState', this.#onSpaceState);
		this.#timer = setInterval(() => void this.sweep(), this.#sweepMs).unref();
	}

	/**
	 * Indexes a live space if it is not yet (a node opening its first connection there says so): a space that went
	 * live where the index was not written (Redis away then, or before this index existed) is swept all the same.
	 */
	track(spaceId: SpaceId, startedAt: number): void {
		this.#redis.zadd(this.#liveKey, 'NX', startedAt, spaceId).catch((error: unknown) => this.#logger.warn({ err: error, spaceId }, 'lifecycle: could not index a live space'));
	}

	/** One sweep, if this node takes the lock (tests call it directly). Resolves when done; never rejects. */
	sweep(): Promise<void> {
		if (this.#closed) return Promise.resolve();
		this.#sweeping ??= this.#sweepLocked().finally(() => (this.#sweeping = undefined));
		return this.#sweeping;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		this.#service.off('spaceState', this.#onSpaceState);
	}

	get #liveKey(): string {
		return `${this.#prefix}:lifecycle:live`;
	}

	#stateKey(spaceId: SpaceId): string {
		return `${this.#prefix}:space:{${spaceId}}:lifecycle`;
	}

	async #sweepLocked(): Promise<void> {
		const startedAt = performance.now();
		// Held at most three sweep periods between two spaces: a node that dies holding it stops nobody for long.
		const holdMs = this.#sweepMs * 3;
		try {
			if ((await this.#redis.set(this.#lockKey, this.#nodeId, 'PX', holdMs, 'NX')) !== 'OK') return;
		} catch (error) {
			this.#logger.warn({ err: error }, 'lifecycle: could not take the sweep lock');
			return;
		}
		try {
			// Every live space (the store's set, bounded by `LIVE_SPACES_MAX`: what the index missed is swept all the same),
			// and what the index still holds (a space that ended, to be forgotten).
			const [live, indexed, [seconds, micros]] = await Promise.all([this.#redis.smembers(`${this.#prefix}:live`), this.#redis.zrange(this.#liveKey, 0, -1), this.#redis.time()]);
			// Time is Redis's, like presence's and the tally's: whichever node sweeps, its clock does not matter.
			const redisOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - performance.now();
			for (const id of new Set([...indexed, ...live])) {
				// Renewed before each space; lost (expired while Redis was slow, and taken): another node sweeps now.
				if (this.#closed || !(await this.#holdLock(holdMs))) return;
				await this.#sweepSpace(asSpaceId(id), Math.round(redisOffsetMs + performance.now())).catch((error: unknown) => this.#logger.warn({ err: error, spaceId: id }, 'lifecycle: sweeping a space failed'));
			}
		} catch (error) {
			this.#logger.warn({ err: error }, 'lifecycle: sweep failed');
		} finally {
			// Not given back: kept until about a period after this sweep began, so the cluster sweeps about once a period
			// whatever its number of nodes (a failure leaves it to expire by itself).
			await this.#holdLock(Math.max(1, Math.round(startedAt + this.#sweepMs * 0.9 - performance.now()))).catch(() => false);
		}
	}

	get #lockKey(): string {
		return `${this.#prefix}:lifecycle:lock`;
	}

	/** Sets the sweep lock to expire in `ms` if this node still holds it; false if it does not. */
	async #holdLock(ms: number): Promise<boolean> {
		return (await this.#redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0", 1, this.#lockKey, this.#nodeId, ms)) === 1;
	}

	async #sweepSpace(spaceId: SpaceId, nowMs: number): Promise<void> {
		// Only a space that is gone or no longer live is forgotten: any other failure (Redis slow or away) throws, and
		// the next sweep tries again with its presence and idle clock intact.
		const space = await this.#service.getSpace(spaceId).catch((error: unknown) => {
			if (error instanceof TribuneError && error.code === 'not_found') return undefined;
			throw error;
		});
		if (!space || space.state !== 'live') {
			if (space?.state === 'ended') this.#service.announceEnded(space);
			await this.#forget(spaceId);
			return;
		}
		const { idleEndS, maxLiveS, participantIdleTtlS, handDisconnectLowerS } = this.#limits;
		const [{ moderators }, raw] = await Promise.all([this.#tally.read(spaceId), this.#redis.hgetall(this.#stateKey(spaceId))]);
		const before = readState(raw);
		const plan = planLifecycle({
			startedAt: space.startedAt ?? nowMs,
			nowMs,
			moderatorsConnected: moderators > 0,
			state: before,
			times: { idleEndMs: idleEndS * 1000, maxLiveMs: maxLiveS * 1000, warnMs },
		});
		if (plan.end) {
			// Not ended (a host came back since the tally was read, or it ended otherwise): the next sweep sees which.
			const ended = await this.#service.endOnItsOwn(spaceId, plan.end);
			if (!ended) return;
			this.#logger.info({ spaceId, reason: plan.end }, 'space ended on its own');
			await this.#forget(spaceId);
			return;
		}
		await this.#saveState(spaceId, before, plan.state);
		if (plan.announce === 'cancel') this.#service.cancelEnding(spaceId);
		else if (plan.announce) this.#service.announceEnding(spaceId, plan.announce.reason, plan.announce.endsAt);
		await this.#service.lowerAwayHands(spaceId, handDisconnectLowerS * 1000, removalsPerSweep);
		const removed = await this.#service.expireIdleListeners(spaceId, participantIdleTtlS * 1000, removalsPerSweep);
		if (removed > 0) this.#logger.debug({ spaceId, removed }, 'idle listener records removed');
	}

	async #saveState(spaceId: SpaceId, before: LifecycleState, after: LifecycleState): Promise<void> {
		if (before.idleSince === after.idleSince && before.warned?.reason === after.warned?.reason && before.warned?.endsAt === after.warned?.endsAt) return;
		const key = this.#stateKey(spaceId);
		const fields: Record<string, string> = {};
		if (after.idleSince !== null) fields.idleSince = String(after.idleSince);
		if (after.warned) Object.assign(fields, { warnedReason: after.warned.reason, warnedEndsAt: String(after.warned.endsAt) });
		const multi = this.#redis.multi().del(key);
		if (Object.keys(fields).length > 0) multi.hset(key, fields).expire(key, this.#limits.maxLiveS + 3600);
		await multi.exec();
	}

	/** A space that is no longer live leaves the index, with its lifecycle state and its presence. */
	async #forget(spaceId: SpaceId): Promise<void> {
		// `…:seen` is the presence zset of `RedisSpaceStore` (touchParticipants): nothing is timed by it once ended.
		await this.#redis.multi().zrem(this.#liveKey, spaceId).del(this.#stateKey(spaceId), `${this.#prefix}:space:{${spaceId}}:seen`).exec();
	}

	/** The end the stage of a space was warned of and that still stands, for those who connect after the warning. */
	async ending(spaceId: SpaceId): Promise<{ reason: EndReason; endsAt: number } | null> {
		return readState(await this.#redis.hgetall(this.#stateKey(spaceId))).warned;
	}
}

function readState(raw: Record<string, string>): LifecycleState {
	const idleSince = raw.idleSince === undefined ? null : Number(raw.idleSince);
	const reason = raw.warnedReason;
	const endsAt = Number(raw.warnedEndsAt);
	const warned = (reason === 'idle' || reason === 'max_duration') && Number.isFinite(endsAt) ? { reason: reason as EndReason, endsAt } : null;
	return { idleSince: Number.isFinite(idleSince) ? idleSince : null, warned };
}
