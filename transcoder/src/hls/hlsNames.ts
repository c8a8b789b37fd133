/**
 * Tribune's HLS naming rules, shared by the packager (which writes these names) and the origin (which serves only
 * these names: anything else is a 404, so no request can name a path outside a stream's directory).
 *
 * ```
 * <streamId>/master.m3u8            multivariant playlist (live; the replay after the end)
 * <streamId>/vod.m3u8               multivariant playlist of the replay
 * <streamId>/<rendition>/index.m3u8 live media playlist
 * <streamId>/<rendition>/vod.m3u8   replay media playlist
 * <streamId>/<rendition>/init-<n>.mp4   init section of encoder run n
 * <streamId>/<rendition>/part-<seq>.m4s part (seq counts parts across the stream)
 * <streamId>/<rendition>/seg-<msn>.m4s  segment
 * <streamId>/subs/index.m3u8, vod.m3u8, seg-<msn>.vtt   WebVTT subtitles
 * ```
 */

const streamIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
/** As broadcast/ladder validates rendition names. */
const renditionPattern = /^[a-z0-9_-]{1,32}$/;
/** Subtitles rendition directory. */
export const subtitlesRendition = 'subs';

export type HlsFile =
	| { kind: 'multivariant'; streamId: string; vod: boolean }
	| { kind: 'media-playlist'; streamId: string; rendition: string; vod: boolean }
	| { kind: 'init'; streamId: string; rendition: string; index: number }
	| { kind: 'part'; streamId: string; rendition: string; seq: number }
	| { kind: 'segment'; streamId: string; rendition: string; msn: number }
	| { kind: 'vtt'; streamId: string; msn: number };

export const isStreamId = (id: string): boolean => streamIdPattern.test(id);
export const isRenditionName = (name: string): boolean => renditionPattern.test(name) && name !== subtitlesRendition;

export const initName = (index: number): string => `init-${index}.mp4`;
export const partName = (seq: number): string => `part-${seq}.m4s`;
export const segmentName = (msn: number): string => `seg-${msn}.m4s`;
export const vttName = (msn: number): string => `seg-${msn}.vtt`;
/** Per-rendition journal of the replay's completed segments; on disk only, never served. */
export const replayJournalName = 'segments.jsonl';

/** Decimal without sign or leading zeros, up to 2^53 (the only number form Tribune writes in names). */
const counter = '(0|[1-9][0-9]{0,15})';
const fileRules: [RegExp, (n: number) => Partial<HlsFile>][] = [
	[new RegExp(`^init-${counter}\\.mp4$`), (index) => ({ kind: 'init', index })],
	[new RegExp(`^part-${counter}\\.m4s$`), (seq) => ({ kind: 'part', seq })],
	[new RegExp(`^seg-${counter}\\.m4s$`), (msn) => ({ kind: 'segment', msn })],
];

/** Parses a path below the HLS root (`<streamId>/…`), or undefined when it is not one of Tribune's names. */
export function parseHlsPath(relative: string): HlsFile | undefined {
	const parts = relative.split('/');
	const streamId = parts[0] ?? '';
	if (!isStreamId(streamId)) return undefined;
	if (parts.length === 2) {
		if (parts[1] === 'master.m3u8' || parts[1] === 'vod.m3u8') return { kind: 'multivariant', streamId, vod: parts[1] === 'vod.m3u8' };
		return undefined;
	}
	if (parts.length !== 3) return undefined;
	const dir = parts[1] ?? '';
	const file = parts[2] ?? '';
	if (dir === subtitlesRendition) {
		if (file === 'index.m3u8' || file === 'vod.m3u8') return { kind: 'media-playlist', streamId, rendition: dir, vod: file === 'vod.m3u8' };
		const vtt = new RegExp(`^seg-${counter}\\.vtt$`).exec(file);
		return vtt ? { kind: 'vtt', streamId, msn: Number(vtt[1]) } : undefined;
	}
	if (!isRenditionName(dir)) return undefined;
	if (file === 'index.m3u8' || file === 'vod.m3u8') return { kind: 'media-playlist', streamId, rendition: dir, vod: file === 'vod.m3u8' };
	for (const [pattern, build] of fileRules) {
		const match = pattern.exec(file);
		if (match) return { streamId, rendition: dir, ...build(Number(match[1])) } as HlsFile;
	}
	return undefined;
}
