import { z } from 'zod';
import { isRenditionName } from '../hls/hlsNames.js';

/** One segment of a replay media playlist; `uri` is the file name inside the rendition's directory. */
export interface ReplayPlaylistSegment {
	uri: string;
	durationS: number;
}

/** Segments that one encoder run wrote: they share an init section and follow each other without a discontinuity. */
export interface ReplayRun {
	initUri: string;
	segments: ReplayPlaylistSegment[];
	/**
	 * Time of the gap placeholders (EXT-X-GAP) after the run's media, s: numbers this rendition skipped when the run
	 * ended (it was behind the others). They have no file, but the replay's timeline, and so its transcript, counts
	 * them. Absent when none follow.
	 */
	gapAfterS?: number;
}

const initUri = /^init-(0|[1-9][0-9]{0,15})\.mp4$/;
const segmentUri = /^seg-(0|[1-9][0-9]{0,15})\.m4s$/;

/**
 * Splits a replay media playlist (`<rendition>/vod.m3u8`, as PlaylistWriter renders it) into encoder runs: a new
 * run starts at every `EXT-X-DISCONTINUITY` or `EXT-X-MAP` change, and after gap placeholders (`EXT-X-GAP`: no file
 * was written for them, their time goes to {@link ReplayRun.gapAfterS}; the packager writes them only after some
 * media of the rendition, so a leading one has no run to follow and is not counted). Only Tribune's own file names
 * are accepted (they end up in an ffmpeg input list), and only a finished playlist (`EXT-X-ENDLIST`). Throws
 * otherwise.
 */
export function parseReplayPlaylist(text: string): ReplayRun[] {
	const lines = text.split(/\r?\n/).map((line) => line.trim());
	if (lines[0] !== '#EXTM3U') throw new Error('not an HLS playlist');
	if (!lines.includes('#EXT-X-ENDLIST')) throw new Error('the replay playlist is not finished (no EXT-X-ENDLIST)');
	const runs: ReplayRun[] = [];
	let map: string | undefined;
	let current: ReplayRun | undefined;
	let discontinuity = false;
	let durationS: number | undefined;
	let gap = false;
	for (const line of lines) {
		if (line.startsWith('#EXT-X-MAP:')) {
			const uri = /URI="([^"]*)"/.exec(line)?.[1] ?? '';
			if (!initUri.test(uri)) throw new Error(`unexpected init section name ${JSON.stringify(uri.slice(0, 80))}`);
			if (uri !== map) discontinuity = true;
			map = uri;
		} else if (line === '#EXT-X-DISCONTINUITY') {
			discontinuity = true;
		} else if (line === '#EXT-X-GAP') {
			gap = true;
		} else if (line.startsWith('#EXTINF:')) {
			durationS = Number(/^#EXTINF:([0-9.]+)/.exec(line)?.[1]);
			if (!Number.isFinite(durationS)) throw new Error(`malformed ${line.slice(0, 80)}`);
		} else if (line !== '' && !line.startsWith('#')) {
			if (!segmentUri.test(line)) throw new Error(`unexpected segment name ${JSON.stringify(line.slice(0, 80))}`);
			if (map === undefined || durationS === undefined) throw new Error(`segment ${line} without EXT-X-MAP or EXTINF`);
			if (gap) {
				if (current) current.gapAfterS = (current.gapAfterS ?? 0) + durationS;
				// The media after a gap does not continue the run's timeline where its files stop.
				discontinuity = true;
				gap = false;
				durationS = undefined;
				continue;
			}
			if (!current || discontinuity) {
				current = { initUri: map, segments: [] };
				runs.push(current);
				discontinuity = false;
			}
			current.segments.push({ uri: line, durationS });
			durationS = undefined;
		}
	}
	return runs;
}

/** What an export needs of `stream.json` (written by the packager when the broadcast ends, after everything else). */
export const replayStreamSchema = z.looseObject({
	descriptor: z.looseObject({
		renditions: z.array(
			z.looseObject({
				name: z.string().refine(isRenditionName, 'not a rendition name'),
				kind: z.enum(['video', 'audio']),
				bandwidth: z.number(),
				width: z.number().optional(),
				height: z.number().optional(),
			}),
		),
	}),
	endedAtMs: z.number(),
});

export type ReplayStream = z.output<typeof replayStreamSchema>;
export type ReplayRendition = ReplayStream['descriptor']['renditions'][number];

/** The rendition an MP4 download is made from: the tallest video rendition, else the audio one. */
export function chooseExportRendition(stream: ReplayStream): ReplayRendition | undefined {
	const renditions = stream.descriptor.renditions;
	const videos = renditions.filter((r) => r.kind === 'video').sort((a, b) => (b.height ?? 0) - (a.height ?? 0) || b.bandwidth - a.bandwidth);
	return videos[0] ?? renditions.find((r) => r.kind === 'audio');
}
