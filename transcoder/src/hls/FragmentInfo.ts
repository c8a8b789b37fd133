import type { TrackInfo } from './InitSection.js';
import { boxPayload, findBox, findBoxes } from './mp4Boxes.js';

/** What one track contributes to a fragment. */
export interface TrackFragment {
	trackId: number;
	/** `tfdt` baseMediaDecodeTime, in the track's timescale. */
	baseTime: number;
	/** Sum of the sample durations, in the track's timescale. */
	duration: number;
	sampleCount: number;
	/** The first sample is a sync sample (IDR): a decoder can start here. */
	startsWithSync: boolean;
}

/** Timing of one `moof`, read from its `tfhd`/`tfdt`/`trun` boxes (ISO 14496-12 §8.8). */
export interface FragmentInfo {
	tracks: TrackFragment[];
}

// tfhd flags (§8.8.7)
const tfhdBaseDataOffset = 0x1;
const tfhdSampleDescriptionIndex = 0x2;
const tfhdDefaultDuration = 0x8;
const tfhdDefaultSize = 0x10;
const tfhdDefaultFlags = 0x20;
// trun flags (§8.8.8)
const trunDataOffset = 0x1;
const trunFirstSampleFlags = 0x4;
const trunDuration = 0x100;
const trunSize = 0x200;
const trunFlags = 0x400;
const trunCompositionOffset = 0x800;
/** sample_is_non_sync_sample in sample flags (§8.8.3.1). */
const nonSyncSample = 0x10000;

/** Reads the timing of every track in a `moof`. Tracks the init section did not declare are skipped. */
export function parseFragment(moof: Buffer, tracks: readonly TrackInfo[]): FragmentInfo {
	const result: TrackFragment[] = [];
	for (const traf of findBoxes(boxPayload(moof), 'traf')) {
		const tfhd = findBox(traf, ['tfhd']);
		if (!tfhd) continue;
		const track = tracks.find((t) => t.trackId === tfhd.readUInt32BE(4));
		if (!track) continue;
		const tfdt = findBox(traf, ['tfdt']);
		const baseTime = tfdt ? (tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4)) : 0;
		const defaults = readTfhdDefaults(tfhd, track);
		let duration = 0;
		let sampleCount = 0;
		let firstFlags: number | undefined;
		for (const trun of findBoxes(traf, 'trun')) {
			const run = readTrun(trun, defaults);
			duration += run.duration;
			if (sampleCount === 0 && run.sampleCount > 0) firstFlags = run.firstFlags;
			sampleCount += run.sampleCount;
		}
		const startsWithSync = track.kind !== 'video' || (firstFlags !== undefined && (firstFlags & nonSyncSample) === 0);
		result.push({ trackId: track.trackId, baseTime, duration, sampleCount, startsWithSync });
	}
	return { tracks: result };
}

function readTfhdDefaults(tfhd: Buffer, track: TrackInfo): { duration: number; flags: number } {
	const flags = tfhd.readUInt32BE(0) & 0xffffff;
	let offset = 8;
	if (flags & tfhdBaseDataOffset) offset += 8;
	if (flags & tfhdSampleDescriptionIndex) offset += 4;
	let duration = track.defaultSampleDuration;
	let sampleFlags = track.defaultSampleFlags;
	if (flags & tfhdDefaultDuration) {
		duration = tfhd.readUInt32BE(offset);
		offset += 4;
	}
	if (flags & tfhdDefaultSize) offset += 4;
	if (flags & tfhdDefaultFlags) sampleFlags = tfhd.readUInt32BE(offset);
	return { duration, flags: sampleFlags };
}

function readTrun(trun: Buffer, defaults: { duration: number; flags: number }): { duration: number; sampleCount: number; firstFlags: number } {
	const flags = trun.readUInt32BE(0) & 0xffffff;
	const sampleCount = trun.readUInt32BE(4);
	let offset = 8;
	if (flags & trunDataOffset) offset += 4;
	let firstFlags = defaults.flags;
	if (flags & trunFirstSampleFlags) {
		firstFlags = trun.readUInt32BE(offset);
		offset += 4;
	}
	let duration = 0;
	for (let i = 0; i < sampleCount; i++) {
		if (flags & trunDuration) {
			duration += trun.readUInt32BE(offset);
			offset += 4;
		} else {
			duration += defaults.duration;
		}
		if (flags & trunSize) offset += 4;
		if (flags & trunFlags) {
			if (i === 0 && !(flags & trunFirstSampleFlags)) firstFlags = trun.readUInt32BE(offset);
			offset += 4;
		}
		if (flags & trunCompositionOffset) offset += 4;
	}
	return { duration, sampleCount, firstFlags };
}
