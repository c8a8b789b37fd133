import type { Rendition } from '../broadcast/ladder.js';

export interface HlsEncodeOptions {
	/** ffmpeg input arguments (`-re -f lavfi -i testsrc2…`, or an SDP input). */
	inputArgs: readonly string[];
	/** Stream specifiers of the picture and the sound, e.g. `0:v` and `1:a`. */
	videoInput: string;
	audioInput: string;
	/** The ABR ladder (see broadcast/ladder: `defaultLadder`). */
	ladder: readonly Rendition[];
	partTargetMs: number;
	segmentTargetMs: number;
	frameRate: number;
	/** AAC sample rate, Hz (default 48000). */
	audioSampleRate?: number;
	/** Filters applied to the picture before scaling (e.g. a burnt-in clock), ffmpeg filtergraph syntax. */
	videoFilter?: string;
	/** x264 preset (default `veryfast`). */
	x264Preset?: string;
}

export interface HlsEncodePlan {
	args: string[];
	/** Rendition written to file descriptor 3 + index (ffmpeg `pipe:N`). */
	outputs: { rendition: string; fd: number }[];
	/**
	 * The timing the encode really has (whole frames): video parts of `partMs`, a keyframe every `segmentMs`. Give
	 * `segmentMs` to the Packager as its segment target so its segment grid matches the keyframes.
	 */
	timing: { partMs: number; segmentMs: number };
}

const aacFrameSamples = 1024;

/**
 * ffmpeg arguments for one encode of any input (test sources, benchmarks, a recording) that writes every rendition as fragmented MP4 to its own pipe. Parts are cut by
 * ffmpeg's fragmenter (`-frag_duration`) at a whole number of frames, keyframes fall on a fixed grid so every
 * segment can start on an independent part, and the packager does the rest.
 */
export function buildHlsEncodePlan(options: HlsEncodeOptions): HlsEncodePlan {
	// Parts are whole frames, at most PART-TARGET and at least 85% of it (RFC 8216bis §4.4.4.9); a GOP is whole parts.
	const partFrames = Math.max(1, Math.floor((options.partTargetMs / 1000) * options.frameRate + 1e-9));
	const partMs = (partFrames / options.frameRate) * 1000;
	if (partMs < 0.85 * options.partTargetMs) {
		throw new RangeError(`no whole number of frames at ${options.frameRate} fps fits ${options.partTargetMs} ms parts within [0.85, 1] × PART-TARGET`);
	}
	const gopFrames = partFrames * Math.max(1, Math.round(options.segmentTargetMs / partMs));
	const sampleRate = options.audioSampleRate ?? 48_000;
	const videoRungs = options.ladder.filter((rung) => rung.video !== undefined);
	const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...options.inputArgs];
	if (videoRungs.length > 0) {
		// Constant frame rate first: part and GOP lengths are counted in frames.
		const labels = videoRungs.map((_, i) => `[v${i}]`).join('');
		const scales = videoRungs.map((rung, i) => `;[v${i}]scale=${rung.video?.width}:${rung.video?.height},setsar=1[o${i}]`).join('');
		const pre = options.videoFilter ? `${options.videoFilter},` : '';
		args.push('-filter_complex', `[${options.videoInput}]${pre}fps=${options.frameRate},split=${videoRungs.length}${labels}${scales}`);
	}
	const outputs: HlsEncodePlan['outputs'] = [];
	let videoIndex = 0;
	for (const rung of options.ladder) {
		const fd = 3 + outputs.length;
		if (rung.video) {
			args.push('-map', `[o${videoIndex++}]`, ...videoCodecArgs(rung, gopFrames, options.x264Preset ?? 'veryfast'));
		}
		args.push('-map', options.audioInput, '-c:a', 'aac', '-b:a', `${rung.audioKbps}k`, '-ar', String(sampleRate), '-ac', '2');
		const fragmentUs = rung.video ? Math.round((partFrames / options.frameRate) * 1e6) : audioFragmentUs(options.partTargetMs, sampleRate);
		args.push(...fmp4MuxerArgs(fragmentUs), `pipe:${fd}`);
		outputs.push({ rendition: rung.name, fd });
	}
	return { args, outputs, timing: { partMs, segmentMs: (gopFrames / options.frameRate) * 1000 } };
}

function videoCodecArgs(rung: Rendition, gopFrames: number, preset: string): string[] {
	const kbps = rung.video?.kbps ?? 1000;
	return [
		'-c:v', 'libx264', '-preset', preset,
		// No lookahead or B-frames: each frame leaves the encoder as soon as it is coded, so a part can close on time.
		'-tune', 'zerolatency', '-bf', '0',
		// Fixed GOP, no scene-cut keyframes: keyframes land exactly on the segment grid.
		'-g', String(gopFrames), '-keyint_min', String(gopFrames), '-sc_threshold', '0',
		'-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-pix_fmt', 'yuv420p',
	];
}

/** Audio-only parts hold whole AAC frames, as many as fit in the part target. */
export function audioFragmentUs(partTargetMs: number, sampleRate = 48_000): number {
	return Math.floor(Math.floor(((partTargetMs / 1000) * sampleRate) / aacFrameSamples) * ((aacFrameSamples / sampleRate) * 1e6));
}

/** Muxer arguments that make ffmpeg write fragmented MP4 the packager cuts into parts: one fragment per part. */
export function fmp4MuxerArgs(fragmentUs: number): string[] {
	return [
		'-f', 'mp4',
		// empty_moov: the init section leaves first; default_base_moof: parts are self-contained (CMAF);
		// skip_trailer: no mfra on a pipe.
		'-movflags', '+empty_moov+default_base_moof+skip_trailer',
		'-frag_duration', String(fragmentUs),
		// The edit list absorbs AAC priming; without it the first video sample is 1024 audio samples longer.
		'-use_editlist', '1',
		// Hand each fragment to the pipe as soon as it is written.
		'-flush_packets', '1',
	];
}
