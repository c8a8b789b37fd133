import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CaptionerCueFields, CaptionerPush, CaptionerUtteranceStore } from './CaptionerUtterances.js';

/**
 * KEYS: the captioner's open utterance. ARGV: a fresh cue id, now (ms), '1' for a final push, idle time (ms).
 * Continues the open utterance (its id and start) or opens one with the fresh id; a partial keeps it open for the
 * idle time from now, a final closes it. Returns { id, startMs }.
 */
const continueUtteranceLua = `
local raw = redis.call('GET', KEYS[1])
local id = ARGV[1]
local start = ARGV[2]
if raw then
	local sep = string.find(raw, ' ', 1, true)
	if sep then
		id = string.sub(raw, 1, sep - 1)
		start = string.sub(raw, sep + 1)
	end
end
if ARGV[3] == '1' then
	redis.call('DEL', KEYS[1])
else
	redis.call('SET', KEYS[1], id .. ' ' .. start, 'PX', ARGV[4])
end
return { id, start }`;

const scriptName = 'tribuneContinueUtterance';
type Runner = (key: string, id: string, nowMs: number, final: string, idleMs: number) => Promise<[string, string]>;

/** The Redis key of a captioner's open utterance. */
export const captionerUtteranceKey = (prefix: string, captionerId: string): string => `${prefix}:captioner:${captionerId}:utterance`;

/**
 * `CaptionerUtterances` on the shared Redis, so a partial and its final get one cue id whichever API node each
 * reaches (a load balancer may spread one captioner's pushes, and a WebSocket reconnect may land elsewhere). One
 * atomic script per push; an utterance is a small string that expires after the idle time, so nothing needs
 * pruning. Redis errors reach the caller (the push fails with `internal`; the captioner retries).
 */
export class RedisCaptionerUtterances implements CaptionerUtteranceStore {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #idleMs: number;
	readonly #now: () => number;

	/** `idleMs`: a partial left this long without a follow-up starts a new utterance, ms (default 30 000). */
	constructor(options: { redis: Redis; prefix: string; idleMs?: number; now?: () => number }) {
		this.#redis = options.redis;
		this.#prefix = options.prefix;
		this.#idleMs = options.idleMs ?? 30_000;
		this.#now = options.now ?? Date.now;
		if (!(scriptName in this.#redis)) this.#redis.defineCommand(scriptName, { numberOfKeys: 1, lua: continueUtteranceLua });
	}

	async cueOf(push: CaptionerPush): Promise<CaptionerCueFields> {
		const now = this.#now();
		const run = (this.#redis as unknown as Record<typeof scriptName, Runner>)[scriptName];
		const key = captionerUtteranceKey(this.#prefix, push.captionerId);
		const fresh = `cap-${randomBytes(9).toString('base64url')}`;
		const [id, start] = await run.call(this.#redis, key, fresh, now, push.final ? '1' : '0', this.#idleMs);
		const startMs = Number(start);
		return { id, speakerName: push.speakerName, text: push.text, final: push.final, startMs, endMs: Math.max(now, startMs) };
	}
}
