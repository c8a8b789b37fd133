/** One output of the broadcast encode: a video rendition (with its audio) or an audio-only one. */
export interface Rendition {
	/** Name in URLs and playlists; `[a-z0-9_-]`, unique within a ladder. */
	name: string;
	/**
	 * Video size in pixels (even) and bit rate; absent for audio-only renditions. `preset`: x264's preset (default
	 * `veryfast`; `ultrafast` when the broadcast sheds work, see `planEncodeLevels`). `text`: tuned for a shared
	 * screen's text (x264's `stillimage` tune), for the whole encode since a tune cannot change while it runs.
	 */
	video?: { width: number; height: number; kbps: number; preset?: X264Preset; text?: boolean };
	/** AAC bit rate, kbit/s. */
	audioKbps: number;
}

/** The x264 presets a broadcast encodes with. */
export type X264Preset = 'veryfast' | 'ultrafast';

/**
 * Tribune's default ABR ladder: 720p and 360p for video spaces, and an audio-only rendition every space has (the
 * Spaces case, and listeners on poor networks or with the screen off).
 */
export const defaultLadder: readonly Rendition[] = Object.freeze([
	// 720p is the rendition that keeps a shared slide's small text readable; 360p stays tuned for faces.
	{ name: '720p', video: { width: 1280, height: 720, kbps: 2500, text: true }, audioKbps: 128 },
	{ name: '360p', video: { width: 640, height: 360, kbps: 700 }, audioKbps: 96 },
	{ name: 'audio', audioKbps: 64 },
]);

/** Timing the encoder must honour for the LL-HLS packager. */
export interface LatencyProfile {
	/** Video frame rate of the composite. Default 25. */
	fps: number;
	/** LL-HLS part target, ms (200–333). Each fMP4 fragment becomes one part. */
	partTargetMs: number;
	/** Segment length, ms; a keyframe starts every segment. Must be a whole number of frames. */
	segmentTargetMs: number;
}

export const defaultLatency: Readonly<LatencyProfile> = Object.freeze({ fps: 25, partTargetMs: 200, segmentTargetMs: 1000 });

/** Throws a clear error for a ladder or latency profile the encoder cannot honour. */
export function validateLadder(ladder: readonly Rendition[], latency: LatencyProfile): void {
	if (ladder.length === 0) throw new RangeError('ladder: at least one rendition is needed');
	const names = new Set<string>();
	for (const r of ladder) {
		if (!/^[a-z0-9_-]{1,32}$/.test(r.name)) throw new RangeError(`ladder: rendition name ${JSON.stringify(r.name)} must match [a-z0-9_-]{1,32}`);
		if (names.has(r.name)) throw new RangeError(`ladder: rendition name ${r.name} is used twice`);
		names.add(r.name);
		if (!Number.isInteger(r.audioKbps) || r.audioKbps < 16 || r.audioKbps > 320) throw new RangeError(`ladder: ${r.name} audioKbps must be 16-320`);
		if (r.video) {
			const { width, height, kbps } = r.video;
			if (![width, height].every((v) => Number.isInteger(v) && v >= 16 && v <= 3840 && v % 2 === 0)) {
				throw new RangeError(`ladder: ${r.name} size ${width}x${height} must be even, 16-3840`);
			}
			if (!Number.isInteger(kbps) || kbps < 50 || kbps > 20_000) throw new RangeError(`ladder: ${r.name} video kbps must be 50-20000`);
			if (r.video.text !== undefined && typeof r.video.text !== 'boolean') throw new RangeError(`ladder: ${r.name} text must be a boolean`);
			if (r.video.preset !== undefined && !['veryfast', 'ultrafast'].includes(r.video.preset)) throw new RangeError(`ladder: ${r.name} preset must be veryfast or ultrafast`);
		}
	}
	const { fps, partTargetMs, segmentTargetMs } = latency;
	if (!Number.isInteger(fps) || fps < 1 || fps > 60) throw new RangeError('latency: fps must be 1-60');
	if (!(partTargetMs >= 200 && partTargetMs <= 333)) throw new RangeError('latency: partTargetMs must be 200-333');
	if (segmentTargetMs < 2 * partTargetMs || segmentTargetMs > 6000) throw new RangeError('latency: segmentTargetMs must be 2 parts to 6000 ms');
	if (!Number.isInteger((segmentTargetMs * fps) / 1000)) throw new RangeError(`latency: segmentTargetMs ${segmentTargetMs} is not a whole number of frames at ${fps} fps`);
}
