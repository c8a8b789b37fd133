import { z } from 'zod';

/** BullMQ queue that carries one job per recorded space: "turn this replay into an MP4 download". */
export const exportQueueName = 'export';

/** The download's name inside the stream's replay directory (`<TRIBUNE_DATA_DIR>/hls/<spaceId>/replay.mp4`). */
export const replayMp4Name = 'replay.mp4';

const spaceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'spaceId must be 1-64 of [A-Za-z0-9_-]');

/** The data of an export job, validated by the API before it is queued and by the transcoder before it runs. */
export const exportJobDataSchema = z
	.object({
		spaceId,
		/** When the export was asked for (the space ended, or the host retried), ms since the epoch. */
		requestedAt: z.number().int().positive(),
	})
	.strict();

export type ExportJobData = z.output<typeof exportJobDataSchema>;

/** What a running export reports as BullMQ job progress (visible through the API). */
export const exportProgressSchema = z
	.object({
		/** Transcoder process running the job, `<host>-<pid>`. */
		transcoder: z.string(),
		/** `waiting`: for the broadcast to finish writing the replay; `running`: ffmpeg is writing the MP4. */
		state: z.enum(['waiting', 'running', 'ready']),
		/** 0–100, from ffmpeg's output time against the replay's duration. */
		percent: z.number().min(0).max(100),
		/** Rendition the MP4 is made from (`720p`, `audio`). */
		rendition: z.string().optional(),
		/** Length of the replay, seconds. */
		durationS: z.number().nonnegative().optional(),
		/** Size of the finished MP4. */
		bytes: z.number().int().nonnegative().optional(),
		updatedAt: z.number().int(),
	})
	.strict();

export type ExportProgress = z.output<typeof exportProgressSchema>;

/** One job id per space: BullMQ refuses a second job with the same id while the first exists. */
export function exportJobId(id: string): string {
	return `export-${spaceId.parse(id)}`;
}
