import fs from 'node:fs/promises';
import { parseFragment } from '../hls/FragmentInfo.js';
import { parseInitSection, type TrackInfo } from '../hls/InitSection.js';
import { childBoxes } from '../hls/mp4Boxes.js';

/** Where a stretch of fMP4 segments lies on its encoder run's timeline, seconds. */
export interface MediaSpan {
	/** The earliest first sample of any track. */
	startS: number;
	/** The latest end of the last sample of any track. */
	endS: number;
}

/**
 * Reads the span of the segments `first`…`last` (behind the init section `init`) from their fragments' `tfdt` and
 * `trun` boxes: only the first and the last segment are read. The export needs it because ffmpeg's concat demuxer
 * would otherwise take a stretch's length from the mp4 demuxer, which measures from 0 rather than from the
 * stretch's first sample (a stretch that starts mid-run would leave a gap as long as everything before it).
 */
export async function measureMediaSpan(init: string, first: string, last: string): Promise<MediaSpan> {
	const boxes = childBoxes(await fs.readFile(init));
	const ftyp = boxes.find((b) => b.type === 'ftyp');
	const moov = boxes.find((b) => b.type === 'moov');
	if (!ftyp || !moov) throw new Error(`${init}: not an fMP4 init section`);
	const { tracks } = parseInitSection(ftyp.box, moov.box);
	const starts = await trackTimes(first, tracks, 'start');
	const ends = await trackTimes(last, tracks, 'end');
	if (starts.length === 0 || ends.length === 0) throw new Error(`${first}…${last}: no media fragments`);
	return { startS: Math.min(...starts), endS: Math.max(...ends) };
}

/** Per track, in seconds: the first fragment's start, or the last fragment's end. */
async function trackTimes(segment: string, tracks: readonly TrackInfo[], which: 'start' | 'end'): Promise<number[]> {
	const byTrack = new Map<number, number>();
	for (const box of childBoxes(await fs.readFile(segment))) {
		if (box.type !== 'moof') continue;
		for (const fragment of parseFragment(box.box, tracks).tracks) {
			if (fragment.sampleCount === 0) continue;
			const timescale = tracks.find((t) => t.trackId === fragment.trackId)?.timescale ?? 0;
			if (timescale <= 0) continue;
			if (which === 'start' && !byTrack.has(fragment.trackId)) byTrack.set(fragment.trackId, fragment.baseTime / timescale);
			if (which === 'end') byTrack.set(fragment.trackId, (fragment.baseTime + fragment.duration) / timescale);
		}
	}
	return [...byTrack.values()];
}
