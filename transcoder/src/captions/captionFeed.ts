import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';

/*
 * The caption cue contract, shared by everything that makes captions (the transcoder's speech recognition, the api's
 * captioner endpoint) and everything that shows them (signaling WebSocket, the LL-HLS subtitle track, burned-in text,
 * transcripts). A cue travels as JSON on one Redis pub/sub channel per space; finals are also appended to a capped
 * Redis stream, the durable log that transcripts and a transcoder taking the job over read back.
 */

/** Same rule as the stage link's ids (stageLinkProtocol.ts), repeated here so neither module imports the other. */
const spaceIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 of [A-Za-z0-9_-]');

/** How a space shows captions: nowhere, as the HLS WebVTT rendition, drawn onto the picture, or both. */
export const captionModeSchema = z.enum(['off', 'sidecar', 'burned-in', 'both']);
export type CaptionMode = z.output<typeof captionModeSchema>;

/** True when cues go into the LL-HLS subtitle rendition. */
export const captionModeHasSidecar = (mode: CaptionMode): boolean => mode === 'sidecar' || mode === 'both';
/** True when cues are drawn onto the composite (video spaces only: an audio-only space has no picture). */
export const captionModeHasBurnedIn = (mode: CaptionMode): boolean => mode === 'burned-in' || mode === 'both';

export const captionCueSchema = z
	.object({
		spaceId: spaceIdSchema,
		/** Stable per utterance: a partial and the final that replaces it share it. */
		id: z.string().min(1).max(64),
		/** Participant id of the speaker; absent for a captioner who does not name one. */
		speakerId: z.string().min(1).max(64).optional(),
		speakerName: z.string().max(200),
		text: z.string().trim().min(1).max(500),
		final: z.boolean(),
		/** Wall-clock epoch milliseconds when the speech began. */
		startMs: z.number().finite().nonnegative(),
		/** Wall-clock epoch milliseconds when the speech ended (so far, for a partial); ≥ startMs. */
		endMs: z.number().finite().nonnegative(),
		source: z.enum(['asr', 'captioner']),
	})
	.strict()
	.refine((cue) => cue.endMs >= cue.startMs, { message: 'endMs must be ≥ startMs', path: ['endMs'] });
export type CaptionCue = z.output<typeof captionCueSchema>;

/** Pub/sub channel carrying a space's cues, partials and finals, as JSON. */
export const captionChannel = (prefix: string, spaceId: string): string => `${prefix}:captions:${spaceId}`;

/**
 * Redis stream holding a space's final cues. It carries the space's `{spaceId}` hash tag, like the space's other keys
 * (api RedisSpaceStore), so the api can expire it with them in one script.
 */
export const captionLogKey = (prefix: string, spaceId: string): string => `${prefix}:space:{${spaceId}}:captions`;

/** Finals the log keeps, approximately (XADD MAXLEN ~): hours of speech. */
export const captionLogMaxLength = 20_000;
/**
 * Seconds the log outlives its last final: an ended space's keys live a week (api RedisSpaceStore `endedSpaceTtlS`),
 * so the transcript can still be rendered and served during that week.
 */
export const captionLogTtlS = 7 * 24 * 3600;

/** Validates `cue`, publishes it to the space's channel and, if final, appends it to the log. Throws on a bad cue. */
export async function publishCaption(redis: Redis, prefix: string, cue: z.input<typeof captionCueSchema>): Promise<CaptionCue> {
	const valid = captionCueSchema.parse(cue);
	const json = JSON.stringify(valid);
	const multi = redis.multi().publish(captionChannel(prefix, valid.spaceId), json);
	if (valid.final) {
		const log = captionLogKey(prefix, valid.spaceId);
		multi.xadd(log, 'MAXLEN', '~', captionLogMaxLength, '*', 'cue', json).expire(log, captionLogTtlS);
	}
	const results = await multi.exec();
	const failed = results?.find(([error]) => error);
	if (failed?.[0]) throw failed[0];
	return valid;
}

/** Parses one message; undefined when it is not a valid cue of `spaceId`. */
export function parseCaptionCue(json: string, spaceId: string): CaptionCue | undefined {
	let raw: unknown;
	try {
		raw = JSON.parse(json);
	} catch {
		return undefined;
	}
	const parsed = captionCueSchema.safeParse(raw);
	return parsed.success && parsed.data.spaceId === spaceId ? parsed.data : undefined;
}

/**
 * Calls `onCue` with every valid cue published to `spaceId` from now on. `subscriber` is a connection dedicated to
 * pub/sub (it may carry other subscriptions). Bad messages are dropped with a debug log. Returns the unsubscribe.
 */
export async function subscribeCaptions(
	subscriber: Redis,
	prefix: string,
	spaceId: string,
	onCue: (cue: CaptionCue) => void,
	logger?: Logger,
): Promise<() => Promise<void>> {
	const channel = captionChannel(prefix, spaceId);
	const listener = (from: string, message: string) => {
		if (from !== channel) return;
		const cue = parseCaptionCue(message, spaceId);
		if (!cue) {
			logger?.debug({ spaceId, bytes: message.length }, 'caption message dropped: not a valid cue');
			return;
		}
		onCue(cue);
	};
	subscriber.on('message', listener);
	await subscriber.subscribe(channel);
	let subscribed = true;
	return async () => {
		if (!subscribed) return;
		subscribed = false;
		subscriber.off('message', listener);
		await subscriber.unsubscribe(channel);
	};
}

/** Every final cue in the space's log, oldest first (invalid entries are skipped). */
export async function readCaptionLog(redis: Redis, prefix: string, spaceId: string): Promise<CaptionCue[]> {
	const cues: CaptionCue[] = [];
	const key = captionLogKey(prefix, spaceId);
	let start = '-';
	// Pages of 1000 so a long space's log never arrives as one huge reply; bounded by the log's cap.
	for (let page = 0; page < Math.ceil((captionLogMaxLength * 2) / 1000); page++) {
		const entries = await redis.xrange(key, start, '+', 'COUNT', 1000);
		for (const [, fields] of entries) {
			const at = fields.indexOf('cue');
			const cue = at >= 0 && at % 2 === 0 ? parseCaptionCue(fields[at + 1] ?? '', spaceId) : undefined;
			if (cue) cues.push(cue);
		}
		if (entries.length < 1000) break;
		start = `(${entries[entries.length - 1]![0]}`;
	}
	return cues;
}
