/** The transcript files the transcoder writes into a replay's directory when a recorded broadcast ends. */
export const transcriptFormats = {
	vtt: 'text/vtt; charset=utf-8',
	srt: 'application/x-subrip; charset=utf-8',
	txt: 'text/plain; charset=utf-8',
	json: 'application/json; charset=utf-8',
} as const;

export type TranscriptFormat = keyof typeof transcriptFormats;

/**
 * The file name and content type of a requested transcript name, or undefined for anything else. The name on disk
 * comes from this table, never from the request's text, so no request can reach another file.
 */
export function transcriptFile(requested: string): { name: string; format: TranscriptFormat; contentType: string } | undefined {
	const match = /^transcript\.([a-z]{3,4})$/.exec(requested);
	const format = match?.[1];
	if (format === undefined || !Object.hasOwn(transcriptFormats, format)) return undefined;
	const f = format as TranscriptFormat;
	return { name: `transcript.${f}`, format: f, contentType: transcriptFormats[f] };
}
