import type { Redis } from 'ioredis';
import { takeRedisTokenBucket } from '../redis/RedisTokenBucket.js';
import type { RateLimit } from '../signaling/TokenBucket.js';
import { deadlinePrelude, spaceScripts as scripts } from './redisSpaceScripts.js';
import type { CaptionMode, MuteState, Participant, ParticipantId, Space, SpaceId, SpaceState } from './Space.js';
import {
	type AddParticipantResult,
	type AuthRecord,
	type HandStatus,
	type LiveLimits,
	type Page,
	type PinResult,
	type RaiseHandResult,
	type RoleChange,
	type RoleChangeResult,
	type SpaceStore,
	type StartResult,
} from './SpaceStore.js';

/**
 * Keys of one space, under a `{spaceId}` hash tag. The store needs one Redis (a primary with replicas, or Sentinel),
 * not Redis Cluster: the transition script also changes the live-space sets shared by all spaces, and the create and
 * prune scripts read keys named in their arguments, which a cluster would refuse across slots.
 *
 *   <prefix>:space:{id}               string  the Space as JSON
 *   <prefix>:space:{id}:participants  hash    participantId → Participant JSON (role, mute, name)
 *   <prefix>:space:{id}:stage         zset    participantId → seq: who is on stage, in the order they came on
 *   <prefix>:space:{id}:hands         zset    participantId → seq: raised hands, FIFO
 *   <prefix>:space:{id}:seq           string  counter that orders the stage and hands
 *   <prefix>:space:{id}:bans          set     banned participant ids
 *   <prefix>:space:{id}:bans:addr     hash    banned address tag → the participant banned with it
 *   <prefix>:space:{id}:pinned        list    pinned speakers, in display order
 *   <prefix>:space:{id}:tokens:<pid>  string  the participant's token generation (once revoked or rotated); each
 *                                             expires on its own, after the maximum session age and a margin,
 *                                             even in a space that expires sooner: a revocation must outlive
 *                                             every token it revoked, should the space go live
 *   <prefix>:space:{id}:seen          zset    participantId → when last connected (presence, below); expires
 *                                             with the space's keys while they expire
 *
 * A space never started expires whole `unstartedTtlS` after creation: its keys get that TTL at create, every script
 * that may create another of its keys gives it the space key's TTL (`keepWithSpace`), and going live PERSISTs them.
 * Ending gives them all `endedSpaceTtlS`. Besides the space's keys, shared by all spaces:
 *
 *   <prefix>:spaces                   zset    spaceId → createdAt: every space, for listing; expired ones pruned
 *   <prefix>:spaces:pruned            string  the createdAt where the last create's pruning of the index stopped
 *   <prefix>:live                     set     live space ids (LIVE_SPACES_MAX)
 *   <prefix>:live:owner:<identity>    set     the owner's live space ids (LIVE_SPACES_PER_HOST)
 *   <prefix>:rate:<bucket>            hash    a token bucket (creations per identity and per address)
 */
function spaceKeys(prefix: string, id: SpaceId) {
	const base = `${prefix}:space:{${id}}`;
	return {
		space: base,
		participants: `${base}:participants`,
		stage: `${base}:stage`,
		hands: `${base}:hands`,
		seq: `${base}:seq`,
		bans: `${base}:bans`,
		addrBans: `${base}:bans:addr`,
		pinned: `${base}:pinned`,
		/** One key per participant: no shared record a flood of rotations could fill or keep alive. */
		tokens: (participantId: ParticipantId) => `${base}:tokens:${participantId}`,
	};
}

/** How long an ended space's keys stay readable (for its page and replay) before Redis drops them. */
const endedSpaceTtlS = 7 * 24 * 3600;

/** Index entries looked at (and dropped if their space expired) on each create: the index prunes itself as it grows. */
const indexPrunePerCreate = 8;

type ScriptName = keyof typeof scripts;
type Reply = string | number | null | Reply[];
type Runner = (...args: (string | number)[]) => Promise<Reply>;

export interface RedisSpaceStoreOptions {
	/**
	 * The deadline each change carries, in Redis's time (ms since the epoch; 0: none): a script Redis runs later
	 * changes nothing (`RedisClock.deadlineMs`, a margin inside the request path's command timeout). Default: none.
	 */
	deadlineMs?: () => number;
	/**
	 * Called when a script refused a change for its deadline although Redis answered: the deadline clock is off
	 * (`RedisClock.measure` again). The caller still gets the error (503 `unavailable`).
	 */
	onDeadlineRefused?: () => void;
}

/** The `SpaceStore` the app uses: one Redis (not a cluster), every compound change in a Lua script. */
export class RedisSpaceStore implements SpaceStore {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #deadlineMs: () => number;
	readonly #onDeadlineRefused: (() => void) | undefined;

	/** `prefix` separates Tribune's keys from others' on a shared Redis (tests use a fresh one each). */
	constructor(redis: Redis, prefix: string, options: RedisSpaceStoreOptions = {}) {
		this.#redis = redis;
		this.#prefix = prefix;
		this.#deadlineMs = options.deadlineMs ?? (() => 0);
		this.#onDeadlineRefused = options.onDeadlineRefused;
		for (const [name, script] of Object.entries(scripts)) {
			if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: script.keys, lua: deadlinePrelude + script.lua });
		}
	}

	#run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<Reply> {
		const runner = (this.#redis as unknown as Record<ScriptName, Runner>)[name];
		return runner.call(this.#redis, ...keys, this.#deadlineMs(), ...args).catch((error: unknown) => {
			if (error instanceof Error && error.message.startsWith('TRIBUNE_DEADLINE')) this.#onDeadlineRefused?.();
			throw error;
		});
	}

	#keys(id: SpaceId) {
		return spaceKeys(this.#prefix, id);
	}

	async createSpace(space: Space, host: Participant, options: { unstartedTtlS: number }): Promise<void> {
		const k = this.#keys(space.id);
		const created = await this.#run(
			'tribuneCreateSpace',
			[k.space, k.participants, k.stage, k.seq, this.#spacesIndex, `${this.#spacesIndex}:pruned`],
			[JSON.stringify(space), host.id, JSON.stringify(host), Math.ceil(options.unstartedTtlS), space.id, space.createdAt, this.#prefix, indexPrunePerCreate],
		);
		if (created !== 1) throw new Error(`space ${space.id} exists`);
	}

	get #spacesIndex(): string {
		return `${this.#prefix}:spaces`;
	}

	async getSpace(spaceId: SpaceId): Promise<Space | undefined> {
		const raw = await this.#redis.get(this.#keys(spaceId).space);
		return raw === null ? undefined : (JSON.parse(raw) as Space);
	}

	async transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number, options: { unlessModeratorsConnected?: boolean } = {}): Promise<Space | undefined> {
		const result = await this.#transition(spaceId, from, to, atMs, { maxLive: -1, maxLivePerOwner: -1 }, options.unlessModeratorsConnected === true);
		return result.ok ? result.space : undefined;
	}

	async startSpace(spaceId: SpaceId, atMs: number, limits: LiveLimits): Promise<StartResult> {
		return this.#transition(spaceId, ['created'], 'live', atMs, limits);
	}

	async #transition(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number, limits: LiveLimits, unlessModerators = false): Promise<StartResult> {
		// The owner names a key the script touches, so it is read first; it never changes once the space exists.
		const before = await this.getSpace(spaceId);
		if (!before) return { ok: false, reason: 'not_found' };
		const k = this.#keys(spaceId);
		const reply = (await this.#run(
			'tribuneTransition',
			// The connection tally is `ListenerTally`'s (signaling writes it; the idle end reads it in the same step).
			[k.space, k.participants, k.stage, k.hands, k.seq, k.bans, k.pinned, k.addrBans, `${this.#prefix}:live`, `${this.#prefix}:live:owner:${before.owner}`, this.#seenKey(spaceId), `${k.space}:listeners`],
			[to, atMs, endedSpaceTtlS, limits.maxLive, limits.maxLivePerOwner, this.#prefix, spaceId, unlessModerators ? '1' : '0', ...from],
		)) as string[];
		if (reply[0] === 'ok') return { ok: true, space: JSON.parse(reply[1]!) as Space };
		return { ok: false, reason: reply[0] as Exclude<StartResult, { ok: true }>['reason'] };
	}

	async listSpaces(options: { state?: SpaceState; limit: number; cursor?: string }): Promise<Page<Space>> {
		// The cursor is an offset into the index, newest first; a page is filled from batches of the index, at most
		// a few pages' worth read per call whatever the state filter leaves.
		let offset = Number(options.cursor ?? 0);
		if (!Number.isSafeInteger(offset) || offset < 0) offset = 0;
		const items: Space[] = [];
		const batch = Math.max(options.limit, 50);
		for (let read = 0; items.length < options.limit && read < batch * 4; read += batch) {
			const ids = await this.#redis.zrevrange(this.#spacesIndex, offset, offset + batch - 1);
			if (ids.length === 0) return { items, nextCursor: null };
			const raws = await this.#redis.mget(...ids.map((id) => this.#keys(id as SpaceId).space));
			const gone = ids.filter((_, i) => raws[i] === null);
			if (gone.length > 0) await this.#redis.zrem(this.#spacesIndex, ...gone);
			let consumed = 0;
			let kept = 0;
			for (const raw of raws) {
				if (items.length === options.limit) break;
				consumed++;
				if (raw === null) continue;
				kept++;
				const space = JSON.parse(raw) as Space;
				if (options.state === undefined || space.state === options.state) items.push(space);
			}
			// With the expired entries dropped, what this call read of the index ends `kept` places further on.
			offset += kept;
			if (consumed === ids.length && ids.length < batch) return { items, nextCursor: null };
		}
		return { items, nextCursor: String(offset) };
	}

	async takeRate(bucket: string, limit: RateLimit): Promise<number> {
		return takeRedisTokenBucket(this.#redis, `${this.#prefix}:rate:${bucket}`, limit);
	}

	async setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined> {
		const raw = await this.#run('tribuneSetCaptionMode', [this.#keys(spaceId).space], [mode]);
		return typeof raw === 'string' ? (JSON.parse(raw) as Space) : undefined;
	}

	async addParticipant(spaceId: SpaceId, participant: Participant, limits: { maxParticipants?: number } = {}): Promise<AddParticipantResult> {
		const k = this.#keys(spaceId);
		return (await this.#run(
			'tribuneAddParticipant',
			[k.space, k.participants, k.bans, k.addrBans],
			[participant.id, JSON.stringify(participant), participant.addr ?? '', limits.maxParticipants ?? -1],
		)) as AddParticipantResult;
	}

	async getParticipant(spaceId: SpaceId, participantId: ParticipantId): Promise<Participant | undefined> {
		const raw = await this.#redis.hget(this.#keys(spaceId).participants, participantId);
		return raw === null ? undefined : (JSON.parse(raw) as Participant);
	}

	async listStage(spaceId: SpaceId): Promise<Participant[]> {
		const k = this.#keys(spaceId);
		return this.#participantsIn(k.stage, k.participants);
	}

	async countParticipants(spaceId: SpaceId): Promise<number> {
		return this.#redis.hlen(this.#keys(spaceId).participants);
	}

	async listParticipants(spaceId: SpaceId, options: { limit: number; cursor?: string }): Promise<Page<Participant>> {
		const cursor = /^\d{1,20}$/.test(options.cursor ?? '') ? options.cursor! : '0';
		const [next, flat] = await this.#redis.hscan(this.#keys(spaceId).participants, cursor, 'COUNT', options.limit);
		const items: Participant[] = [];
		for (let i = 1; i < flat.length; i += 2) items.push(JSON.parse(flat[i]!) as Participant);
		return { items, nextCursor: next === '0' ? null : next };
	}

	async removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean, banAddress = false): Promise<Participant | undefined> {
		const k = this.#keys(spaceId);
		const raw = await this.#run(
			'tribuneRemoveParticipant',
			[k.participants, k.stage, k.hands, k.pinned, k.bans, k.addrBans, k.space],
			[participantId, ban ? '1' : '0', ban && banAddress ? '1' : '0'],
		);
		return typeof raw === 'string' ? (JSON.parse(raw) as Participant) : undefined;
	}

	async unban(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		const k = this.#keys(spaceId);
		return Number(await this.#run('tribuneUnban', [k.bans, k.addrBans], [participantId])) > 0;
	}

	async isBanned(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return (await this.#redis.sismember(this.#keys(spaceId).bans, participantId)) === 1;
	}

	async readAuth(spaceId: SpaceId, participantId: ParticipantId): Promise<AuthRecord> {
		const k = this.#keys(spaceId);
		// One round trip (MULTI is atomic too): a REST request or a WebSocket upgrade costs Redis one read.
		const results = await this.#redis.multi().get(k.space).hget(k.participants, participantId).sismember(k.bans, participantId).get(k.tokens(participantId)).exec();
		const failed = results?.find(([error]) => error);
		if (failed?.[0]) throw failed[0];
		const [space, participant, banned, generation] = (results ?? []).map(([, value]) => value) as [string | null, string | null, number, string | null];
		return {
			space: space ? (JSON.parse(space) as Space) : undefined,
			participant: participant ? (JSON.parse(participant) as Participant) : undefined,
			banned: banned === 1,
			tokenGeneration: Number(generation ?? 0),
		};
	}

	async revokeTokens(spaceId: SpaceId, participantId: ParticipantId, keepS: number, ifGeneration?: number): Promise<number | undefined> {
		const generation = Number(await this.#run('tribuneRevokeTokens', [this.#keys(spaceId).tokens(participantId)], [Math.ceil(keepS), ifGeneration ?? -1]));
		return generation > 0 ? generation : undefined;
	}

	async tokenGenerations(spaceId: SpaceId, participantIds: readonly ParticipantId[]): Promise<number[]> {
		if (participantIds.length === 0) return [];
		const k = this.#keys(spaceId);
		// One MGET: the keys share the space's hash tag, so they are in one cluster slot.
		return (await this.#redis.mget(...participantIds.map((id) => k.tokens(id)))).map((value) => Number(value ?? 0));
	}

	async changeRole(spaceId: SpaceId, change: RoleChange): Promise<RoleChangeResult> {
		const k = this.#keys(spaceId);
		const reply = (await this.#run(
			'tribuneChangeRole',
			[k.participants, k.stage, k.hands, k.pinned, k.seq, k.space],
			[change.participantId, change.to, change.requireHand ? '1' : '0', change.maxStage ?? -1, change.maxCoHosts ?? -1, ...change.from],
		)) as string[];
		if (reply[0] === 'ok') return { ok: true, participant: JSON.parse(reply[1]!) as Participant, previousRole: reply[2] as Participant['role'] };
		return { ok: false, reason: reply[0] as Exclude<RoleChangeResult, { ok: true }>['reason'] };
	}

	async setMute(spaceId: SpaceId, participantId: ParticipantId, from: readonly MuteState[], to: MuteState): Promise<Participant | undefined> {
		const k = this.#keys(spaceId);
		const raw = await this.#run('tribuneSetMute', [k.participants, k.stage], [participantId, to, ...from]);
		return typeof raw === 'string' ? (JSON.parse(raw) as Participant) : undefined;
	}

	async raiseHand(spaceId: SpaceId, participantId: ParticipantId, limits: { maxHands?: number } = {}): Promise<RaiseHandResult> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribuneRaiseHand', [k.participants, k.hands, k.seq, k.space], [participantId, limits.maxHands ?? -1])) as RaiseHandResult;
	}

	async lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return (await this.#redis.zrem(this.#keys(spaceId).hands, participantId)) === 1;
	}

	async pin(spaceId: SpaceId, participantId: ParticipantId): Promise<PinResult> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribunePin', [k.stage, k.pinned, k.space], [participantId])) as PinResult;
	}

	async unpin(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return (await this.#redis.lrem(this.#keys(spaceId).pinned, 0, participantId)) > 0;
	}

	async reorderPins(spaceId: SpaceId, order: readonly ParticipantId[]): Promise<boolean> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribuneReorderPins', [k.pinned, k.space], [...order])) === 1;
	}

	async pinned(spaceId: SpaceId): Promise<ParticipantId[]> {
		return (await this.#redis.lrange(this.#keys(spaceId).pinned, 0, -1)) as ParticipantId[];
	}

	// Hands at scale and presence (see SpaceStore). Scripts in `presenceScripts`, below the class.

	async lowerHandCounted(spaceId: SpaceId, participantId: ParticipantId): Promise<{ lowered: boolean; length: number }> {
		const [lowered, length] = (await this.#runPresence('tribuneLowerHandCounted', [this.#keys(spaceId).hands], [participantId])) as number[];
		return { lowered: lowered === 1, length: Number(length) };
	}

	async handStatus(spaceId: SpaceId, participantId: ParticipantId): Promise<HandStatus> {
		const k = this.#keys(spaceId);
		const results = await this.#redis.multi().zrank(k.hands, participantId).zcard(k.hands).hget(k.participants, participantId).exec();
		const failed = results?.find(([error]) => error);
		if (failed?.[0]) throw failed[0];
		const [rank, length, raw] = (results ?? []).map(([, value]) => value) as [number | null, number, string | null];
		return { position: rank === null ? null : rank + 1, length: Number(length), participant: raw === null ? undefined : (JSON.parse(raw) as Participant) };
	}

	async handPage(spaceId: SpaceId, after: ParticipantId | undefined, limit: number): Promise<{ hands: Participant[]; length: number; more: boolean } | undefined> {
		const k = this.#keys(spaceId);
		const reply = (await this.#runPresence('tribuneHandPage', [k.hands, k.participants], [after ?? '', limit])) as (number | string)[] | null;
		if (!reply) return undefined;
		const [length, more, ...raws] = reply;
		return { hands: raws.map((raw) => JSON.parse(String(raw)) as Participant), length: Number(length), more: Number(more) === 1 };
	}

	async touchParticipants(spaceId: SpaceId, participantIds: readonly ParticipantId[], keepS: number, agoMs = 0): Promise<void> {
		const seen = this.#seenKey(spaceId);
		for (let i = 0; i < participantIds.length; i += presenceBatch) {
			await this.#runPresence('tribuneTouch', [seen, this.#keys(spaceId).space], [Math.ceil(keepS), Math.round(agoMs), ...participantIds.slice(i, i + presenceBatch)]);
		}
	}

	async oldestPresenceAgeMs(spaceId: SpaceId): Promise<number | undefined> {
		const results = await this.#redis.multi().time().zrange(this.#seenKey(spaceId), 0, 0, 'WITHSCORES').exec();
		const failed = results?.find(([error]) => error);
		if (failed?.[0]) throw failed[0];
		const [[seconds, micros], oldest] = (results ?? []).map(([, value]) => value) as [[string, string], string[]];
		if (oldest.length < 2) return undefined;
		return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Number(oldest[1]);
	}

	async lowerAwayHands(spaceId: SpaceId, awayMs: number, max: number): Promise<{ lowered: ParticipantId[]; length: number }> {
		const k = this.#keys(spaceId);
		const [length, ...lowered] = (await this.#runPresence('tribuneLowerAwayHands', [k.hands, this.#seenKey(spaceId)], [Math.round(awayMs), max])) as (number | string)[];
		return { lowered: lowered.map(String) as ParticipantId[], length: Number(length) };
	}

	async expireIdleListeners(spaceId: SpaceId, idleMs: number, max: number): Promise<{ removed: ParticipantId[]; lowered: ParticipantId[]; length: number }> {
		const k = this.#keys(spaceId);
		const seen = this.#seenKey(spaceId);
		// Candidates first (a read); the script checks each again, atomically with its removal.
		const [seconds, micros] = await this.#redis.time();
		const cutoff = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - idleMs;
		const candidates = await this.#redis.zrangebyscore(seen, '-inf', `(${cutoff}`, 'LIMIT', 0, max);
		if (candidates.length === 0) return { removed: [], lowered: [], length: await this.#redis.zcard(k.hands) };
		const [length, removedCount, ...ids] = (await this.#runPresence('tribuneExpireIdle', [k.participants, k.hands, seen], [Math.round(idleMs), ...candidates])) as (number | string)[];
		const gone = ids.map(String) as ParticipantId[];
		return { removed: gone.slice(0, Number(removedCount)), lowered: gone.slice(Number(removedCount)), length: Number(length) };
	}

	#seenKey(spaceId: SpaceId): string {
		return `${this.#keys(spaceId).space}:seen`;
	}

	#runPresence(name: keyof typeof presenceScripts, keys: string[], args: (string | number)[]): Promise<Reply> {
		const redis = this.#redis as unknown as Record<string, Runner>;
		if (!(name in redis)) this.#redis.defineCommand(name, { numberOfKeys: presenceScripts[name].keys, lua: deadlinePrelude + presenceScripts[name].lua });
		return redis[name]!.call(this.#redis, ...keys, this.#deadlineMs(), ...args).catch((error: unknown) => {
			if (error instanceof Error && error.message.startsWith('TRIBUNE_DEADLINE')) this.#onDeadlineRefused?.();
			throw error;
		});
	}

	async #participantsIn(zsetKey: string, participantsKey: string): Promise<Participant[]> {
		const ids = await this.#redis.zrange(zsetKey, 0, -1);
		if (ids.length === 0) return [];
		const raws = await this.#redis.hmget(participantsKey, ...ids);
		return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as Participant]));
	}
}

/** Participants touched in one script call. */
const presenceBatch = 1000;

/** Lua: Redis's time in ms (scripts compare presence in Redis's clock, so node clocks do not matter). */
const nowMs = `
local function nowMs()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/**
 * Hands at scale and presence. `<prefix>:space:{id}:seen` is a zset: participantId → when they were last connected
 * (Redis ms; every API node refreshes those it holds while they are). Redis 7.0 has no per-field TTL on the
 * participants hash, so idle listener records are found in it and removed by the lifecycle sweep.
 */
const presenceScripts = {
	/** KEYS: hands. ARGV: participantId. Returns {1 if it was raised, the length after}. */
	tribuneLowerHandCounted: {
		keys: 1,
		lua: `
local n = redis.call('ZREM', KEYS[1], ARGV[1])
return {n, redis.call('ZCARD', KEYS[1])}`,
	},
	/**
	 * KEYS: hands, participants. ARGV: after (a participant id, '' for the start), limit. Returns {length, more (1/0),
	 * participant JSON…}, or false when `after` has no raised hand.
	 */
	tribuneHandPage: {
		keys: 2,
		lua: `
local start = 0
if ARGV[1] ~= '' then
	local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
	if not rank then return false end
	start = rank + 1
end
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGE', KEYS[1], start, start + limit)
local more = 0
if #ids > limit then
	more = 1
	table.remove(ids)
end
local out = {redis.call('ZCARD', KEYS[1]), more}
if #ids > 0 then
	local raws = redis.call('HMGET', KEYS[2], unpack(ids))
	for i = 1, #ids do if raws[i] then table.insert(out, raws[i]) end end
end
return out`,
	},
	/**
	 * KEYS: seen, space. ARGV: keepS, agoMs, participantId… Marks them connected agoMs ago (never moving a mark back),
	 * if the space exists. The zset expires with the space's keys while they expire (a space not live), else lives at
	 * least keepS more (never less).
	 */
	tribuneTouch: {
		keys: 2,
		lua: `${nowMs}
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -2 then return 0 end
local at = nowMs() - tonumber(ARGV[2])
local args = {}
for i = 3, #ARGV do
	table.insert(args, at)
	table.insert(args, ARGV[i])
end
if #args > 0 then redis.call('ZADD', KEYS[1], 'GT', unpack(args)) end
if ttl > 0 then
	redis.call('PEXPIRE', KEYS[1], ttl)
else
	redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]), 'NX')
	redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]), 'GT')
end
return #args / 2`,
	},
	/**
	 * KEYS: hands, seen. ARGV: awayMs, max. Lowers at most max hands whose owner was last connected more than awayMs
	 * ago (an owner with no presence yet is given it now: a hand raised just as its socket opened is not lowered; a
	 * presence zset made so expires in a day unless marks keep it). The queue is bounded (SPACE_MAX_HANDS), and so is
	 * this walk. Returns {length after, lowered id…}.
	 */
	tribuneLowerAwayHands: {
		keys: 2,
		lua: `${nowMs}
local now = nowMs()
local cutoff = now - tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local lowered = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, 4999)) do
	local seen = redis.call('ZSCORE', KEYS[2], id)
	if not seen then
		redis.call('ZADD', KEYS[2], now, id)
		redis.call('EXPIRE', KEYS[2], 86400, 'NX')
	elseif tonumber(seen) < cutoff then
		redis.call('ZREM', KEYS[1], id)
		table.insert(lowered, id)
		if #lowered >= max then break end
	end
end
return {redis.call('ZCARD', KEYS[1]), unpack(lowered)}`,
	},
	/**
	 * KEYS: participants, hands, seen. ARGV: idleMs, participantId… Removes each listener still last connected more
	 * than idleMs ago: record, hand, presence. Someone on stage is kept (their presence moves to now, so they do not
	 * come back first in every sweep). The token generation key stays: it expires on its own, and dropping it early
	 * would make tokens revoked before valid again. Returns {hand queue length, removed count, removed id…, lowered id…}.
	 */
	tribuneExpireIdle: {
		keys: 3,
		lua: `${nowMs}
local now = nowMs()
local cutoff = now - tonumber(ARGV[1])
local removed, lowered = {}, {}
for i = 2, #ARGV do
	local id = ARGV[i]
	local seen = redis.call('ZSCORE', KEYS[3], id)
	if seen and tonumber(seen) < cutoff then
		local raw = redis.call('HGET', KEYS[1], id)
		if raw and cjson.decode(raw).role ~= 'listener' then
			redis.call('ZADD', KEYS[3], now, id)
		else
			if raw then
				redis.call('HDEL', KEYS[1], id)
				table.insert(removed, id)
			end
			if redis.call('ZREM', KEYS[2], id) == 1 then table.insert(lowered, id) end
			redis.call('ZREM', KEYS[3], id)
		end
	end
end
local out = {redis.call('ZCARD', KEYS[2]), #removed}
for _, id in ipairs(removed) do table.insert(out, id) end
for _, id in ipairs(lowered) do table.insert(out, id) end
return out`,
	},
} as const;
