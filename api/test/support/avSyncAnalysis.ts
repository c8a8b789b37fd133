import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { parseFragment, parseInitSection, type TrackInfo } from '@tribune/transcoder';
import { get } from '../origin/support/fetchText.js';
import { parseMediaPlaylist } from '../origin/support/parsePlaylist.js';
import { flashBeepSchedule } from './flashBeepSender.js';

const execFileAsync = promisify(execFile);

/**
 * Reading flashes and beeps (see `flashBeepSender`) back out of a broadcast's LL-HLS renditions: each rendition's
 * newest encoder run, fetched from an origin as its init section plus complete segments, decoded with ffmpeg; event
 * onsets on the rendition's media timeline, and their wall-clock time from EXT-X-PROGRAM-DATE-TIME.
 */

/** A rendition's newest run as fetched: the file (init + segments) and how its media time maps to the wall clock. */
export interface FetchedRun {
	rendition: string;
	file: string;
	map: string;
	segments: { msn: number; pdtMs: number; mediaStartS: number; durationS: number }[];
	tracks: (TrackInfo & { editList: { segmentDuration: number; mediaTime: number }[]; movieTimescale: number })[];
	/** First `tfdt` of each track kind in the run's first fetched segment, s (the packager dates by the main track's). */
	firstTfdtS: Partial<Record<'video' | 'audio', number>>;
}

/** Top-level boxes of an MP4 byte string. */
function boxes(bytes: Buffer): { type: string; box: Buffer; payload: Buffer }[] {
	const found: { type: string; box: Buffer; payload: Buffer }[] = [];
	for (let offset = 0; offset + 8 <= bytes.length && found.length < 100_000; ) {
		const size = bytes.readUInt32BE(offset);
		const header = size === 1 ? 16 : 8;
		const length = size === 1 ? Number(bytes.readBigUInt64BE(offset + 8)) : size === 0 ? bytes.length - offset : size;
		if (length < header || offset + length > bytes.length) break;
		const box = bytes.subarray(offset, offset + length);
		found.push({ type: box.toString('latin1', 4, 8), box, payload: box.subarray(header) });
		offset += length;
	}
	return found;
}

function child(payload: Buffer, path: string[]): Buffer | undefined {
	let current: Buffer | undefined = payload;
	for (const type of path) current = current && boxes(current).find((b) => b.type === type)?.payload;
	return current;
}

/** Each track's edit list (elst entries) and the movie timescale, for the report. */
function editLists(moov: Buffer): { trackId: number; movieTimescale: number; editList: { segmentDuration: number; mediaTime: number }[] }[] {
	const payload = boxes(moov)[0]!.payload;
	const mvhd = child(payload, ['mvhd'])!;
	const movieTimescale = mvhd[0] === 1 ? mvhd.readUInt32BE(20) : mvhd.readUInt32BE(12);
	return boxes(payload)
		.filter((b) => b.type === 'trak')
		.map((trak) => {
			const tkhd = child(trak.payload, ['tkhd'])!;
			const trackId = tkhd[0] === 1 ? tkhd.readUInt32BE(20) : tkhd.readUInt32BE(12);
			const elst = child(trak.payload, ['edts', 'elst']);
			const editList: { segmentDuration: number; mediaTime: number }[] = [];
			if (elst) {
				const v1 = elst[0] === 1;
				const count = elst.readUInt32BE(4);
				for (let i = 0, o = 8; i < count && i < 16; i++, o += v1 ? 20 : 12) {
					editList.push(
						v1
							? { segmentDuration: Number(elst.readBigUInt64BE(o)), mediaTime: Number(elst.readBigInt64BE(o + 8)) }
							: { segmentDuration: elst.readUInt32BE(o), mediaTime: elst.readInt32BE(o + 4) },
					);
				}
			}
			return { trackId, movieTimescale, editList };
		});
}

/**
 * The newest run of `rendition` at the origin (`base` = `…/hls/<stream>`): every complete segment of the newest
 * EXT-X-MAP, written after its init section to `file`.
 */
export async function fetchNewestRun(base: string, rendition: string, file: string): Promise<FetchedRun> {
	const reply = await get(`${base}/${rendition}/index.m3u8`);
	if (reply.status !== 200) throw new Error(`${rendition} playlist: ${reply.status}`);
	const listed = parseMediaPlaylist(reply.text).segments.filter((s) => s.uri !== undefined && !s.gap && s.pdt !== undefined);
	const map = listed.at(-1)?.map;
	if (!map) throw new Error(`${rendition}: no complete segment`);
	const run = listed.filter((s) => s.map === map);
	const init = await get(`${base}/${rendition}/${map}`);
	if (init.status !== 200) throw new Error(`${rendition} ${map}: ${init.status}`);
	const top = boxes(init.body);
	const ftyp = top.find((b) => b.type === 'ftyp')!.box;
	const moov = top.find((b) => b.type === 'moov')!.box;
	const elsts = editLists(moov);
	const tracks = parseInitSection(ftyp, moov).tracks.map((t) => ({ ...t, ...elsts.find((e) => e.trackId === t.trackId)! }));
	const main = tracks.find((t) => t.kind === 'video') ?? tracks.find((t) => t.kind === 'audio')!;
	const bodies: Buffer[] = [];
	const segments: FetchedRun['segments'] = [];
	const firstTfdtS: FetchedRun['firstTfdtS'] = {};
	for (const s of run) {
		const media = await get(`${base}/${rendition}/${s.uri}`);
		if (media.status !== 200) throw new Error(`${rendition} ${s.uri}: ${media.status}`);
		const moof = boxes(media.body).find((b) => b.type === 'moof');
		if (!moof) throw new Error(`${rendition} ${s.uri}: no moof`);
		const fragment = parseFragment(moof.box, tracks);
		const mainFragment = fragment.tracks.find((t) => t.trackId === main.trackId)!;
		if (segments.length === 0) {
			for (const t of fragment.tracks) {
				const track = tracks.find((k) => k.trackId === t.trackId)!;
				if (track.kind !== 'other') firstTfdtS[track.kind] = t.baseTime / track.timescale;
			}
		}
		segments.push({ msn: s.msn, pdtMs: Date.parse(s.pdt!), mediaStartS: mainFragment.baseTime / main.timescale, durationS: s.durationS ?? 0 });
		bodies.push(media.body);
	}
	fs.writeFileSync(file, Buffer.concat([init.body, ...bodies]));
	return { rendition, file, map, segments, tracks, firstTfdtS };
}

/**
 * Wall clock (epoch ms) of media time `mediaS` (the packager's timeline: `tfdt`, no edit list) of a fetched run: its
 * segment's PROGRAM-DATE-TIME plus the time into it.
 */
export function wallOf(run: FetchedRun, mediaS: number): number {
	let segment = run.segments[0]!;
	for (const s of run.segments) if (s.mediaStartS <= mediaS) segment = s;
	return segment.pdtMs + (mediaS - segment.mediaStartS) * 1000;
}

async function probeFrames(file: string, stream: 'v' | 'a', editList: boolean): Promise<{ ptsS: number; samples: number }[]> {
	const { stdout } = await execFileAsync(
		'ffprobe',
		['-v', 'error', ...(editList ? [] : ['-ignore_editlist', '1']), '-select_streams', `${stream}:0`, '-show_entries', 'frame=best_effort_timestamp_time,nb_samples', '-of', 'csv=p=0', file],
		{ maxBuffer: 1 << 24, timeout: 60_000 },
	);
	return stdout
		.trim()
		.split('\n')
		.filter((line) => line !== '')
		.map((line) => {
			const [pts, samples] = line.split(',');
			return { ptsS: Number(pts), samples: Number(samples ?? 0) };
		});
}

/** Flash onsets on the media timeline of the video track of `file` (s): frames whose mean luma jumps to the flash's. */
export async function flashOnsets(file: string, options: { editList: boolean }): Promise<{ onsetsS: number[]; frames: number; lumaRange: [number, number] }> {
	const frames = await probeFrames(file, 'v', options.editList);
	const width = 32;
	const height = 18;
	const { stdout } = await execFileAsync(
		'ffmpeg',
		['-v', 'error', ...(options.editList ? [] : ['-ignore_editlist', '1']), '-i', file, '-map', '0:v:0', '-vsync', 'passthrough', '-vf', `scale=${width}:${height}`, '-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:1'],
		{ encoding: 'buffer', maxBuffer: 1 << 26, timeout: 60_000 },
	);
	const count = stdout.length / (width * height);
	if (count !== frames.length) throw new Error(`${file}: ffmpeg decoded ${count} frames, ffprobe listed ${frames.length}`);
	const luma = frames.map((_, i) => {
		let sum = 0;
		for (let p = i * width * height; p < (i + 1) * width * height; p++) sum += stdout[p]!;
		return sum / (width * height);
	});
	const sorted = [...luma].sort((a, b) => a - b);
	const low = sorted[Math.floor(sorted.length / 2)] ?? 0;
	const high = sorted.at(-1) ?? 0;
	const onsetsS: number[] = [];
	// No flash at all (the camera never showed): nothing found, rather than noise.
	if (high - low > 40) {
		const threshold = (low + high) / 2;
		for (let i = 1; i < luma.length; i++) {
			if (luma[i]! >= threshold && luma[i - 1]! < threshold && (onsetsS.length === 0 || frames[i]!.ptsS - onsetsS.at(-1)! > 0.5)) onsetsS.push(frames[i]!.ptsS);
		}
	}
	return { onsetsS, frames: frames.length, lumaRange: [Math.round(low), Math.round(high)] };
}

/**
 * Beep onsets on the media timeline of the audio track of `file` (s): the first sample above a quarter of the loudest
 * after ≥ 0.5 s below it, each sample timed by its decoded frame's timestamp (so gaps between frames count).
 */
export async function beepOnsets(file: string, options: { editList: boolean }): Promise<{ onsetsS: number[]; samples: number; firstPtsS: number }> {
	const frames = await probeFrames(file, 'a', options.editList);
	const { stdout } = await execFileAsync(
		'ffmpeg',
		['-v', 'error', ...(options.editList ? [] : ['-ignore_editlist', '1']), '-i', file, '-map', '0:a:0', '-ac', '1', '-f', 's16le', 'pipe:1'],
		{ encoding: 'buffer', maxBuffer: 1 << 27, timeout: 60_000 },
	);
	const samples = stdout.length / 2;
	const listed = frames.reduce((sum, f) => sum + f.samples, 0);
	if (samples !== listed) throw new Error(`${file}: ffmpeg decoded ${samples} samples, ffprobe listed ${listed}`);
	let peak = 0;
	for (let i = 0; i < samples; i++) peak = Math.max(peak, Math.abs(stdout.readInt16LE(i * 2)));
	const threshold = peak / 4;
	const onsetsS: number[] = [];
	if (peak > 1000) {
		let lastLoudS = -Infinity;
		let index = 0;
		for (const frame of frames) {
			for (let i = 0; i < frame.samples; i++, index++) {
				if (Math.abs(stdout.readInt16LE(index * 2)) < threshold) continue;
				const atS = frame.ptsS + i / 48000;
				if (atS - lastLoudS >= 0.5) onsetsS.push(atS);
				lastLoudS = atS;
			}
		}
	}
	return { onsetsS, samples, firstPtsS: frames[0]?.ptsS ?? NaN };
}

/**
 * Aligns detected onsets (media s) with the sender's schedule: the shift (media = sender time + shift, mod the
 * period) that matches most of them within `toleranceS`, and each matched detection's sender time, reduced to the
 * first period after the shift (the caller resolves whole periods, e.g. by the wall clock).
 */
export function alignToSchedule(onsetsS: readonly number[], toleranceS = 0.08): { shiftS: number; matched: { mediaS: number; senderS: number }[]; unmatched: number[] } {
	const { periodS, onsetsS: pattern } = flashBeepSchedule;
	const wrap = (x: number): number => ((x % periodS) + periodS) % periodS;
	const near = (x: number, o: number): number => Math.min(Math.abs(wrap(x) - o), periodS - Math.abs(wrap(x) - o));
	let best = { shiftS: 0, score: -1, error: Infinity };
	for (const d of onsetsS) {
		for (const o of pattern) {
			const shiftS = wrap(d - o);
			let score = 0;
			let error = 0;
			for (const e of onsetsS) {
				const miss = Math.min(...pattern.map((p) => near(e - shiftS, p)));
				if (miss <= toleranceS) {
					score++;
					error += miss;
				}
			}
			if (score > best.score || (score === best.score && error < best.error)) best = { shiftS, score, error };
		}
	}
	// Refine the shift to the median residual of the matches.
	const residuals: number[] = [];
	for (const e of onsetsS) {
		const t = wrap(e - best.shiftS);
		const o = pattern.reduce((a, b) => (near(t, b) < near(t, a) ? b : a));
		if (near(t, o) <= toleranceS) residuals.push(((t - o + periodS / 2) % periodS) - periodS / 2);
	}
	residuals.sort((a, b) => a - b);
	const shiftS = best.shiftS + (residuals[Math.floor(residuals.length / 2)] ?? 0);
	const matched: { mediaS: number; senderS: number }[] = [];
	const unmatched: number[] = [];
	for (const e of onsetsS) {
		const reduced = e - shiftS;
		const o = pattern.reduce((a, b) => (near(reduced, b) < near(reduced, a) ? b : a));
		if (near(reduced, o) > toleranceS) {
			unmatched.push(e);
			continue;
		}
		matched.push({ mediaS: e, senderS: Math.round((reduced - o) / periodS) * periodS + o });
	}
	return { shiftS, matched, unmatched };
}
