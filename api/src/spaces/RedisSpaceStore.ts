import type { Redis } from 'ioredis';
import type { CaptionMode, MuteState, Participant, ParticipantId, Space, SpaceId, SpaceState } from './Space.js';
import { type AddParticipantResult, type AuthRecord, type PinResult, type RaiseHandResult, type RoleChange, type RoleChangeResult, type SpaceStore } from './SpaceStore.js';

/**
 * Keys of one space. The `{spaceId}` hash tag puts them in one Redis Cluster slot, so the Lua scripts below may touch
 * them all.
 *
 *   <prefix>:space:{id}               string  the Space as JSON
 *   <prefix>:space:{id}:participants  hash    participantId → Participant JSON (role, mute, name)
 *   <prefix>:space:{id}:stage         zset    participantId → seq: who is on stage, in the order they came on
 *   <prefix>:space:{id}:hands         zset    participantId → seq: raised hands, FIFO
 *   <prefix>:space:{id}:seq           string  counter that orders the stage and hands
 *   <prefix>:space:{id}:bans          set     banned participant ids
 *   <prefix>:space:{id}:pinned        list    pinned speakers, in display order
 *   <prefix>:space:{id}:tokens:<pid>  string  the participant's token generation (once revoked or rotated); each
 *                                             expires on its own, after the maximum session age and a margin
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
		pinned: `${base}:pinned`,
		/** One key per participant: no shared record a flood of rotations could fill or keep alive. */
		tokens: (participantId: ParticipantId) => `${base}:tokens:${participantId}`,
	};
}

/** How long an ended space's keys stay readable (for its page and replay) before Redis drops them. */
const endedSpaceTtlS = 7 * 24 * 3600;

/**
 * The first line of every script: ARGV[1] is a deadline in Redis's time (ms since the epoch, 0: none), taken off ARGV
 * so each script reads its own arguments from ARGV[1]. A script that runs after its deadline changes nothing and
 * fails with `TRIBUNE_DEADLINE`: its caller timed out and was told 503 (a frozen Redis that thawed), and a join or a
 * new space applied then would leave a record no token names.
 */
const deadlinePrelude = `
local deadline = tonumber(table.remove(ARGV, 1))
if deadline > 0 then
	local t = redis.call('TIME')
	if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then
		return redis.error_reply('TRIBUNE_DEADLINE the command reached Redis after its caller gave up')
	end
end`;

/*
 * Lua scripts: each one checks its preconditions and applies its change in one atomic step, so two API processes
 * (or two moderators) acting on one space at once cannot, say, both fill the last stage seat. Each starts with
 * `deadlinePrelude`.
 */
const scripts = {
	/** KEYS: space, participants, stage, seq. ARGV: spaceJson, hostId, hostJson. Creates a space with its host. */
	tribuneCreateSpace: {
		keys: 4,
		lua: `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[2])
return 1`,
	},
	/**
	 * KEYS: space, then every other key of the space. ARGV: to, atMs, ttlS, from… Moves the state if it is one of
	 * `from`, stamps startedAt/endedAt, and gives an ended space's keys a TTL. Returns the new Space JSON or false.
	 */
	tribuneTransition: {
		keys: 7,
		lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local space = cjson.decode(raw)
local allowed = false
for i = 4, #ARGV do if ARGV[i] == space.state then allowed = true end end
if not allowed then return false end
space.state = ARGV[1]
if ARGV[1] == 'live' then space.startedAt = tonumber(ARGV[2]) end
if ARGV[1] == 'ended' then space.endedAt = tonumber(ARGV[2]) end
local out = cjson.encode(space)
redis.call('SET', KEYS[1], out)
if ARGV[1] == 'ended' then
	for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3])) end
end
return out`,
	},
	/** KEYS: space. ARGV: captionMode. Sets the caption mode unless the space ended. Returns the Space JSON or false. */
	tribuneSetCaptionMode: {
		keys: 1,
		lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local space = cjson.decode(raw)
if space.state == 'ended' then return false end
space.settings.captionMode = ARGV[1]
local out = cjson.encode(space)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return out`,
	},
	/** KEYS: space, participants, bans. ARGV: participantId, participantJson. Adds a listener unless banned/ended. */
	tribuneAddParticipant: {
		keys: 3,
		lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'no_space' end
if cjson.decode(raw).state == 'ended' then return 'ended' end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 'banned' end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 'rejoined' end
return 'added'`,
	},
	/**
	 * KEYS: participants, stage, hands, pinned, seq. ARGV: participantId, to, requireHand (1/0), maxStage (-1: none),
	 * maxCoHosts (-1: none), from… Changes a role if every condition holds; coming on stage lowers the hand, leaving
	 * it unpins and unmutes. Returns {'ok', participantJson, previousRole} or {reason}.
	 */
	tribuneChangeRole: {
		keys: 5,
		lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'not_found'} end
local p = cjson.decode(raw)
local fromOk = false
for i = 6, #ARGV do if ARGV[i] == p.role then fromOk = true end end
if not fromOk then return {'wrong_role'} end
if ARGV[3] == '1' and not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'no_hand'} end
local to = ARGV[2]
local wasOn = p.role ~= 'listener'
local willBeOn = to ~= 'listener'
local maxStage = tonumber(ARGV[4])
if (not wasOn) and willBeOn and maxStage >= 0 and redis.call('ZCARD', KEYS[2]) + 1 > maxStage then return {'stage_full'} end
local maxCo = tonumber(ARGV[5])
if to == 'cohost' and p.role ~= 'cohost' and maxCo >= 0 then
	local n = 0
	for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
		local q = redis.call('HGET', KEYS[1], id)
		if q and cjson.decode(q).role == 'cohost' then n = n + 1 end
	end
	if n + 1 > maxCo then return {'cohosts_full'} end
end
local previous = p.role
p.role = to
if willBeOn then
	if not wasOn then redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), ARGV[1]) end
	redis.call('ZREM', KEYS[3], ARGV[1])
else
	redis.call('ZREM', KEYS[2], ARGV[1])
	redis.call('LREM', KEYS[4], 0, ARGV[1])
	p.mute = 'none'
end
local out = cjson.encode(p)
redis.call('HSET', KEYS[1], ARGV[1], out)
return {'ok', out, previous}`,
	},
	/** KEYS: participants, stage. ARGV: participantId, to, from… Sets mute for someone on stage. JSON or false. */
	tribuneSetMute: {
		keys: 2,
		lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return false end
local p = cjson.decode(raw)
local fromOk = false
for i = 3, #ARGV do if ARGV[i] == p.mute then fromOk = true end end
if not fromOk then return false end
p.mute = ARGV[2]
local out = cjson.encode(p)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out`,
	},
	/** KEYS: participants, hands, seq. ARGV: participantId. Queues a listener's hand once. */
	tribuneRaiseHand: {
		keys: 3,
		lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'not_found' end
if cjson.decode(raw).role ~= 'listener' then return 'not_listener' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'already_raised' end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return 'raised'`,
	},
	/**
	 * KEYS: the participant's tokens key. ARGV: keepS, ifGeneration (-1: any). Moves the generation on, if it is
	 * ifGeneration now, and keeps the key at least keepS longer. Returns the new generation, or -1 when it was not.
	 */
	tribuneRevokeTokens: {
		keys: 1,
		lua: `
local expected = tonumber(ARGV[2])
if expected >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') ~= expected then return -1 end
local generation = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]), 'NX')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]), 'GT')
return generation`,
	},
	/** KEYS: participants, stage, hands, pinned, bans. ARGV: participantId, ban (1/0). Returns the removed JSON. */
	tribuneRemoveParticipant: {
		keys: 5,
		lua: `
if ARGV[2] == '1' then redis.call('SADD', KEYS[5], ARGV[1]) end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LREM', KEYS[4], 0, ARGV[1])
return raw`,
	},
	/** KEYS: stage, pinned. ARGV: participantId. Pins someone on stage, at the end. */
	tribunePin: {
		keys: 2,
		lua: `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'not_on_stage' end
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
	if id == ARGV[1] then return 'already_pinned' end
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 'pinned'`,
	},
	/** KEYS: pinned. ARGV: the new order. Applies it only if it is a permutation of the current list. */
	tribuneReorderPins: {
		keys: 1,
		lua: `
local current = redis.call('LRANGE', KEYS[1], 0, -1)
if #current ~= #ARGV then return 0 end
local seen = {}
for _, id in ipairs(current) do seen[id] = true end
for _, id in ipairs(ARGV) do
	if not seen[id] then return 0 end
	seen[id] = nil
end
if #ARGV == 0 then return 1 end
redis.call('DEL', KEYS[1])
redis.call('RPUSH', KEYS[1], unpack(ARGV))
return 1`,
	},
} as const;

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

/** The `SpaceStore` the app uses: one Redis (or cluster slot) per space, every compound change in a Lua script. */
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

	async createSpace(space: Space, host: Participant): Promise<void> {
		const k = this.#keys(space.id);
		const created = await this.#run('tribuneCreateSpace', [k.space, k.participants, k.stage, k.seq], [JSON.stringify(space), host.id, JSON.stringify(host)]);
		if (created !== 1) throw new Error(`space ${space.id} exists`);
	}

	async getSpace(spaceId: SpaceId): Promise<Space | undefined> {
		const raw = await this.#redis.get(this.#keys(spaceId).space);
		return raw === null ? undefined : (JSON.parse(raw) as Space);
	}

	async transitionState(spaceId: SpaceId, from: readonly SpaceState[], to: SpaceState, atMs: number): Promise<Space | undefined> {
		const k = this.#keys(spaceId);
		const raw = await this.#run('tribuneTransition', [k.space, k.participants, k.stage, k.hands, k.seq, k.bans, k.pinned], [to, atMs, endedSpaceTtlS, ...from]);
		return typeof raw === 'string' ? (JSON.parse(raw) as Space) : undefined;
	}

	async setCaptionMode(spaceId: SpaceId, mode: CaptionMode): Promise<Space | undefined> {
		const raw = await this.#run('tribuneSetCaptionMode', [this.#keys(spaceId).space], [mode]);
		return typeof raw === 'string' ? (JSON.parse(raw) as Space) : undefined;
	}

	async addParticipant(spaceId: SpaceId, participant: Participant): Promise<AddParticipantResult> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribuneAddParticipant', [k.space, k.participants, k.bans], [participant.id, JSON.stringify(participant)])) as AddParticipantResult;
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

	async removeParticipant(spaceId: SpaceId, participantId: ParticipantId, ban: boolean): Promise<Participant | undefined> {
		const k = this.#keys(spaceId);
		const raw = await this.#run('tribuneRemoveParticipant', [k.participants, k.stage, k.hands, k.pinned, k.bans], [participantId, ban ? '1' : '0']);
		return typeof raw === 'string' ? (JSON.parse(raw) as Participant) : undefined;
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
			[k.participants, k.stage, k.hands, k.pinned, k.seq],
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

	async raiseHand(spaceId: SpaceId, participantId: ParticipantId): Promise<RaiseHandResult> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribuneRaiseHand', [k.participants, k.hands, k.seq], [participantId])) as RaiseHandResult;
	}

	async lowerHand(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return (await this.#redis.zrem(this.#keys(spaceId).hands, participantId)) === 1;
	}

	async handQueue(spaceId: SpaceId): Promise<Participant[]> {
		const k = this.#keys(spaceId);
		return this.#participantsIn(k.hands, k.participants);
	}

	async pin(spaceId: SpaceId, participantId: ParticipantId): Promise<PinResult> {
		const k = this.#keys(spaceId);
		return (await this.#run('tribunePin', [k.stage, k.pinned], [participantId])) as PinResult;
	}

	async unpin(spaceId: SpaceId, participantId: ParticipantId): Promise<boolean> {
		return (await this.#redis.lrem(this.#keys(spaceId).pinned, 0, participantId)) > 0;
	}

	async reorderPins(spaceId: SpaceId, order: readonly ParticipantId[]): Promise<boolean> {
		return (await this.#run('tribuneReorderPins', [this.#keys(spaceId).pinned], [...order])) === 1;
	}

	async pinned(spaceId: SpaceId): Promise<ParticipantId[]> {
		return (await this.#redis.lrange(this.#keys(spaceId).pinned, 0, -1)) as ParticipantId[];
	}

	async #participantsIn(zsetKey: string, participantsKey: string): Promise<Participant[]> {
		const ids = await this.#redis.zrange(zsetKey, 0, -1);
		if (ids.length === 0) return [];
		const raws = await this.#redis.hmget(participantsKey, ...ids);
		return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as Participant]));
	}
}
