import { z } from 'zod';

/** BullMQ queue that carries one job per live space: "broadcast this stage". */
export const broadcastQueueName = 'broadcast';

/** Redis pub/sub channel on which the API asks the transcoder running a space's job to stop (message: spaceId). */
export const broadcastStopChannel = (prefix: string): string => `${prefix}:broadcast:stop`;

/** Set when a space's broadcast must stop, so a job that starts after the stop message still sees it. */
export const broadcastStoppedKey = (prefix: string, spaceId: string): string => `${prefix}:broadcast:stopped:${spaceId}`;

const spaceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'spaceId must be 1-64 of [A-Za-z0-9_-]');

/** The data of a broadcast job, validated by the API before it is queued and by the transcoder before it runs. */
export const broadcastJobDataSchema = z
	.object({
		spaceId,
		/** Draw the video composite (video spaces); false: audio renditions only. */
		composite: z.boolean(),
		/** Keep every segment for the replay and offer an MP4 export. */
		recording: z.boolean(),
		/** When the space went live, ms since the epoch. */
		requestedAt: z.number().int().positive(),
		/**
		 * Whose share of the transcoders the job takes (broadcasts are scheduled fairly between owners): the space's owner
		 * identity, or `addr:<tag>` for an anonymous one. Absent: an owner of its own.
		 */
		owner: z.string().min(1).max(200).optional(),
	})
	.strict();

export type BroadcastJobData = z.output<typeof broadcastJobDataSchema>;

/** What a running broadcast reports as BullMQ job progress (visible through the API). */
export const broadcastProgressSchema = z
	.object({
		/** Transcoder process running the job, `<host>-<pid>`. */
		transcoder: z.string(),
		state: z.enum(['starting', 'live', 'restarting', 'stopping']),
		/** Frames the encoder wrote per second over its last few seconds (see `EncoderPace`). */
		fps: z.number().optional(),
		/** Media time the encoder wrote per wall-clock second over its last few seconds (1 = real time). */
		speed: z.number().optional(),
		/**
		 * The encoder as its watchdog sees it: `starting` (no output yet), `ok`, `slow` (behind real time, or quiet but
		 * working; never killed for it) or `stuck` (no output and no CPU time: killed after the stall timeout).
		 */
		health: z.enum(['starting', 'ok', 'slow', 'stuck']).optional(),
		/** Degradation level on air: 0 everything, each level above sheds one more piece of work (see `planEncodeLevels`). */
		level: z.number().int().nonnegative().optional(),
		/** What is shed now, in shed order: the top video rendition's name (`720p`), `fps`, `preset`, `fps-low`. */
		shed: z.array(z.string().max(32)).max(8).optional(),
		bitrateKbps: z.number().optional(),
		speakers: z.number().int().nonnegative(),
		/** ffmpeg restarts in this job so far. */
		restarts: z.number().int().nonnegative(),
		/** Why the replay on disk is incomplete (e.g. `ENOSPC: …`), once a write failed; live goes on. */
		replayError: z.string().max(300).optional(),
		updatedAt: z.number().int(),
	})
	.strict();

export type BroadcastProgress = z.output<typeof broadcastProgressSchema>;

/** One job id per space: BullMQ refuses a second job with the same id while the first exists. */
export function broadcastJobId(id: string): string {
	return `broadcast-${spaceId.parse(id)}`;
}
