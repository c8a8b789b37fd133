import fs from 'node:fs';
import path from 'node:path';
import { parseMediaPlaylist } from '../origin/support/parsePlaylist.js';

/** One rendition of a replay as its VOD playlist (`<hlsRoot>/<streamId>/<rendition>/vod.m3u8`) lists it. */
export interface ReplayRendition {
	/** Sum of the segments' EXTINF, s. */
	durationS: number;
	segments: number;
	/** EXT-X-DISCONTINUITY tags (encoder runs after the first). */
	discontinuities: number;
	/** EXT-X-GAP segments (placeholders without media). */
	gaps: number;
	/** Their EXTINF, s: time in {@link durationS} that no media covers (capture time never on air). */
	gapS: number;
	/** The playlist says EXT-X-ENDLIST (the packager finished it). */
	ended: boolean;
	/** Program date-time of the first segment, ms since the epoch; null without one. */
	firstPdtMs: number | null;
}

/** Every rendition directory of a replay holding a `vod.m3u8` (video, audio and subtitles alike), read now. */
export function readReplay(hlsRoot: string, streamId: string): Record<string, ReplayRendition> {
	const dir = path.join(hlsRoot, streamId);
	const out: Record<string, ReplayRendition> = {};
	if (!fs.existsSync(dir)) return out;
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const file = path.join(dir, entry.name, 'vod.m3u8');
		if (!entry.isDirectory() || !fs.existsSync(file)) continue;
		const playlist = parseMediaPlaylist(fs.readFileSync(file, 'utf8'));
		const segments = playlist.segments.filter((s) => s.uri !== undefined);
		const firstPdt = segments[0]?.pdt;
		out[entry.name] = {
			durationS: Number(segments.reduce((sum, s) => sum + (s.durationS ?? 0), 0).toFixed(3)),
			segments: segments.length,
			discontinuities: segments.filter((s) => s.discontinuity).length,
			gaps: segments.filter((s) => s.gap).length,
			gapS: Number(segments.filter((s) => s.gap).reduce((sum, s) => sum + (s.durationS ?? 0), 0).toFixed(3)),
			ended: playlist.endList,
			firstPdtMs: firstPdt === undefined ? null : Date.parse(firstPdt),
		};
	}
	return out;
}

/**
 * Waits (at most `timeoutMs`) until every rendition of `renditions` has a finished replay playlist (EXT-X-ENDLIST)
 * and returns what the replay holds then; renditions not finished by then are returned as they are (or missing).
 */
export async function finishedReplay(hlsRoot: string, streamId: string, renditions: readonly string[], timeoutMs: number): Promise<Record<string, ReplayRendition>> {
	const deadline = Date.now() + timeoutMs;
	let replay = readReplay(hlsRoot, streamId);
	for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
		if (renditions.every((r) => replay[r]?.ended)) break;
		await new Promise((resolve) => setTimeout(resolve, 250));
		replay = readReplay(hlsRoot, streamId);
	}
	return replay;
}
