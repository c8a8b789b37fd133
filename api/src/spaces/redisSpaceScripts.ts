/**
 * Lua: gives keys just made for a space the TTL its space key has (an unstarted or ended space's keys expire
 * together; a live space's have none).
 */
const keepWithSpace = `
local function keepWithSpace(spaceKey, ...)
	local ttl = redis.call('PTTL', spaceKey)
	if ttl > 0 then
		for _, key in ipairs({...}) do redis.call('PEXPIRE', key, ttl) end
	end
end`;

/**
 * Lua: drops from a set of live space ids those whose space is gone or no longer live (a set is only pruned when it
 * is at its limit, so a space that left it by a path this store does not see cannot hold a seat for ever).
 */
const pruneLive = `
local function pruneLive(setKey, prefix)
	for _, id in ipairs(redis.call('SMEMBERS', setKey)) do
		local raw = redis.call('GET', prefix .. ':space:{' .. id .. '}')
		if not raw or cjson.decode(raw).state ~= 'live' then redis.call('SREM', setKey, id) end
	end
	return redis.call('SCARD', setKey)
end`;

/**
 * The first line of every script: ARGV[1] is a deadline in Redis's time (ms since the epoch, 0: none), taken off ARGV
 * so each script reads its own arguments from ARGV[1]. A script that runs after its deadline changes nothing and
 * fails with `TRIBUNE_DEADLINE`: its caller timed out and was told 503 (a frozen Redis that thawed), and a join or a
 * new space applied then would leave a record no token names.
 */
export const deadlinePrelude = `
local deadline = tonumber(table.remove(ARGV, 1))
if deadline > 0 then
	local t = redis.call('TIME')
	if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then
		return redis.error_reply('TRIBUNE_DEADLINE the command reached Redis after its caller gave up')
	end
end`;

/**
 * The Lua scripts of `RedisSpaceStore` (its key layout is described there): each one checks its preconditions and
 * applies its change in one atomic step, so two API processes (or two moderators) acting on one space at once cannot,
 * say, both fill the last stage seat. Each starts with `deadlinePrelude`.
 */
export const spaceScripts = {
	/**
	 * KEYS: space, participants, stage, seq, the spaces index, the index's prune cursor. ARGV: spaceJson, hostId,
	 * hostJson, unstartedTtlS, spaceId, createdAt, prefix, indexPrune. Creates a space with its host, every key
	 * expiring after unstartedTtlS, and indexes it. Then looks at up to indexPrune index entries, from the cursor on,
	 * created more than unstartedTtlS before this one (younger ones cannot have expired unstarted), and drops those
	 * whose space is gone: the cursor moves on past entries that stay (live and ended spaces), and starts over once it
	 * reaches the window's end, so every create does bounded work and every expired entry is reached in turn.
	 */
	tribuneCreateSpace: {
		keys: 6,
		lua: `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[4])) == false then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[2])
for i = 2, 4 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4])) end
local horizon = tonumber(ARGV[6]) - tonumber(ARGV[4]) * 1000
local from = redis.call('GET', KEYS[6]) or '-inf'
local entries = redis.call('ZRANGEBYSCORE', KEYS[5], from, '(' .. horizon, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[8]))
for i = 1, #entries, 2 do
	if redis.call('EXISTS', ARGV[7] .. ':space:{' .. entries[i] .. '}') == 0 then redis.call('ZREM', KEYS[5], entries[i]) end
end
if #entries / 2 < tonumber(ARGV[8]) then
	redis.call('DEL', KEYS[6])
else
	redis.call('SET', KEYS[6], entries[#entries], 'EX', tonumber(ARGV[4]))
end
redis.call('ZADD', KEYS[5], tonumber(ARGV[6]), ARGV[5])
return 1`,
	},
	/**
	 * KEYS: space, then the 7 other keys of the space, the live set, the owner's live set, the space's presence, its
	 * connection tally (`ListenerTally`'s hash). ARGV: to, atMs, ttlS, maxLive (-1: none), maxLivePerOwner (-1: none),
	 * prefix, spaceId, unlessModerators ('1': refused while the tally counts a host or co-host on a live node), from…
	 * Moves the state if it is one of `from` and, going live, if neither live set is at its limit; stamps startedAt/endedAt. Going live
	 * PERSISTs the space's keys and adds it to the live sets; ending gives its keys and presence ttlS (a space never
	 * started keeps what remains of its own, if shorter) and takes it out of them. Returns {'ok', Space JSON} or {reason}.
	 */
	tribuneTransition: {
		keys: 12,
		lua: `${pruneLive}
local raw = redis.call('GET', KEYS[1])
if not raw then return {'not_found'} end
local remainingMs = redis.call('PTTL', KEYS[1])
local space = cjson.decode(raw)
local allowed = false
for i = 9, #ARGV do if ARGV[i] == space.state then allowed = true end end
if not allowed then return {'wrong_state'} end
if ARGV[8] == '1' then
	local t = redis.call('TIME')
	local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	local tally = redis.call('HGETALL', KEYS[12])
	for i = 2, #tally, 2 do
		local expires, moderators = string.match(tally[i], '^%d+:(%d+):?(%d*)$')
		if expires and tonumber(expires) > now and (tonumber(moderators) or 0) > 0 then return {'moderators_connected'} end
	end
end
local to = ARGV[1]
if to == 'live' then
	local maxLive, maxOwner = tonumber(ARGV[4]), tonumber(ARGV[5])
	if maxLive >= 0 and redis.call('SCARD', KEYS[9]) >= maxLive and pruneLive(KEYS[9], ARGV[6]) >= maxLive then return {'capacity'} end
	if maxOwner >= 0 and redis.call('SCARD', KEYS[10]) >= maxOwner and pruneLive(KEYS[10], ARGV[6]) >= maxOwner then return {'limit_reached'} end
end
space.state = to
if to == 'live' then space.startedAt = tonumber(ARGV[2]) end
if to == 'ended' then space.endedAt = tonumber(ARGV[2]) end
local out = cjson.encode(space)
-- SET without KEEPTTL: the space key loses an unstarted space's TTL here (ending sets the ended one below).
redis.call('SET', KEYS[1], out)
if to == 'live' then
	for i = 2, 8 do redis.call('PERSIST', KEYS[i]) end
	redis.call('SADD', KEYS[9], ARGV[7])
	redis.call('SADD', KEYS[10], ARGV[7])
elseif to == 'ended' then
	local ms = tonumber(ARGV[3]) * 1000
	if remainingMs > 0 and remainingMs < ms then ms = remainingMs end
	for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], ms) end
	redis.call('PEXPIRE', KEYS[11], ms)
	redis.call('SREM', KEYS[9], ARGV[7])
	redis.call('SREM', KEYS[10], ARGV[7])
end
return {'ok', out}`,
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
	/**
	 * KEYS: space, participants, bans, address bans. ARGV: participantId, participantJson, address tag ('': none),
	 * maxParticipants (-1: none). Adds a listener unless the id is banned, the space ended, or (for a new record) the
	 * address is banned or the space holds maxParticipants records; someone already there is found again
	 * (`rejoined`, whatever their address: an address ban keeps newcomers out, never those already in or on stage)
	 * and takes the new address tag.
	 */
	tribuneAddParticipant: {
		keys: 4,
		lua: `${keepWithSpace}
local raw = redis.call('GET', KEYS[1])
if not raw then return 'no_space' end
if cjson.decode(raw).state == 'ended' then return 'ended' end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 'banned' end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then
	local p = cjson.decode(existing)
	if ARGV[3] ~= '' and p.addr ~= ARGV[3] then
		p.addr = ARGV[3]
		redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(p))
	end
	return 'rejoined'
end
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 then return 'banned' end
local max = tonumber(ARGV[4])
if max >= 0 and redis.call('HLEN', KEYS[2]) >= max then return 'full' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
keepWithSpace(KEYS[1], KEYS[2])
return 'added'`,
	},
	/**
	 * KEYS: participants, stage, hands, pinned, seq, space. ARGV: participantId, to, requireHand (1/0), maxStage
	 * (-1: none), maxCoHosts (-1: none), from… Changes a role if every condition holds; coming on stage lowers the
	 * hand, leaving it unpins and unmutes. Returns {'ok', participantJson, previousRole} or {reason}.
	 */
	tribuneChangeRole: {
		keys: 6,
		lua: `${keepWithSpace}
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
	if not wasOn then
		redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), ARGV[1])
		keepWithSpace(KEYS[6], KEYS[2], KEYS[5])
	end
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
	/**
	 * KEYS: participants, hands, seq, space. ARGV: participantId, maxHands (-1: none). Queues a listener's hand
	 * once, unless the queue holds maxHands.
	 */
	tribuneRaiseHand: {
		keys: 4,
		lua: `${keepWithSpace}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'not_found' end
if cjson.decode(raw).role ~= 'listener' then return 'not_listener' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'already_raised' end
local max = tonumber(ARGV[2])
if max >= 0 and redis.call('ZCARD', KEYS[2]) >= max then return 'queue_full' end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
keepWithSpace(KEYS[4], KEYS[2], KEYS[3])
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
	/**
	 * KEYS: participants, stage, hands, pinned, bans, address bans, space. ARGV: participantId, ban (1/0),
	 * banAddress (1/0). Returns the removed JSON.
	 */
	tribuneRemoveParticipant: {
		keys: 7,
		lua: `${keepWithSpace}
if ARGV[2] == '1' then
	redis.call('SADD', KEYS[5], ARGV[1])
	keepWithSpace(KEYS[7], KEYS[5])
end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
if ARGV[3] == '1' then
	local addr = cjson.decode(raw).addr
	if type(addr) == 'string' and addr ~= '' then
		redis.call('HSET', KEYS[6], addr, ARGV[1])
		keepWithSpace(KEYS[7], KEYS[6])
	end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LREM', KEYS[4], 0, ARGV[1])
return raw`,
	},
	/** KEYS: bans, address bans. ARGV: participantId. Lifts the id's ban and the address bans made with it. */
	tribuneUnban: {
		keys: 2,
		lua: `
local n = redis.call('SREM', KEYS[1], ARGV[1])
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
	if entries[i + 1] == ARGV[1] then n = n + redis.call('HDEL', KEYS[2], entries[i]) end
end
return n`,
	},
	/** KEYS: stage, pinned, space. ARGV: participantId. Pins someone on stage, at the end. */
	tribunePin: {
		keys: 3,
		lua: `${keepWithSpace}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'not_on_stage' end
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
	if id == ARGV[1] then return 'already_pinned' end
end
redis.call('RPUSH', KEYS[2], ARGV[1])
keepWithSpace(KEYS[3], KEYS[2])
return 'pinned'`,
	},
	/** KEYS: pinned, space. ARGV: the new order. Applies it only if it is a permutation of the current list. */
	tribuneReorderPins: {
		keys: 2,
		lua: `${keepWithSpace}
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
keepWithSpace(KEYS[2], KEYS[1])
return 1`,
	},
} as const;
