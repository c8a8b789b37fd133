import path from 'node:path';
import type { Layout, Tile } from './computeLayout.js';
import { audioFragmentUs, fmp4MuxerArgs } from '../hls/buildHlsEncodePlan.js';
import { validateLadder, type LatencyProfile, type Rendition } from './ladder.js';
import { burnedInCaptionFilter } from '../captions/burnedInCaptionFilter.js';

/** Where the stage comes from and where the renditions go. */
export interface PlanIo {
	/** Draw the video composite (video spaces, even when no camera is on); false: audio renditions only. */
	composite: boolean;
	/**
	 * SDP file describing every consumed stream (see `buildConsumerSdp`); its m= lines are ffmpeg's stream indices.
	 * Unused when `streams` is empty: an empty stage is broadcast as silence (and the canvas) from lavfi.
	 */
	sdpPath: string;
	/** Each speaker's stream indices in the SDP input. A speaker without audio here is left out of the mix. */
	streams: ReadonlyMap<string, { audio?: number; video?: number }>;
	/** Directory for the text files drawtext reads (names, initials). Tribune-made path: `[A-Za-z0-9_./-]` only. */
	workDir: string;
	/** TrueType font for names and initials. Same character rule as workDir. */
	fontFile: string;
	/** Output URL per rendition name (a pipe, file or `unix:` socket the packager reads fMP4 from). */
	outputs: Readonly<Record<string, string>>;
	/** TCP port on 127.0.0.1 where ffmpeg takes live filter commands (zmq/azmq). Absent: none. */
	controlPort?: number;
	/**
	 * Text file of the burned-in captions (see `BurnedInCaptions`), drawn at the bottom of the composite; empty, it
	 * draws nothing. Absent: no caption filter. Tribune-made path, same character rule as workDir.
	 */
	captionsFile?: string;
}

/** A text file drawtext reads; the runner writes these before starting ffmpeg. */
export interface TextFile {
	path: string;
	content: string;
}

/** One ffmpeg output: a rendition's fMP4 stream. */
export interface PlanOutput {
	rendition: string;
	url: string;
	options: string[];
}

export interface FfmpegPlan {
	/** The SDP input and its options (ffmpeg's global options lead them). */
	input: { url: string; options: string[] };
	/** The -filter_complex graph. */
	filterGraph: string;
	outputs: PlanOutput[];
	/** The whole argv (without the program name), in the order fluent-ffmpeg writes it. */
	args: string[];
	textFiles: TextFile[];
	/** The renditions the plan encodes: an audio-only stage drops the video ones. */
	renditions: Rendition[];
}

const colours = { background: '0x15171c', tile: '0x262a33', text: 'white', label: 'black@0.55', active: '0x6ee7a8' };

/**
 * Plans the broadcast encode of one stage: every speaker's audio normalised, panned to their tile's position and
 * mixed; for video spaces the composite (pinned row, grid, names, initials for speakers without video, active
 * speaker highlight) encoded once per video rendition; each rendition written as fragmented MP4 whose fragments are
 * LL-HLS parts. Pure: returns argv arrays, never a shell string, and keeps user text (names) out of the filter graph
 * by handing it to drawtext through files (`textfile`, `expansion=none`).
 */
export function buildFfmpegPlan(layout: Layout, ladder: readonly Rendition[], latency: LatencyProfile, io: PlanIo): FfmpegPlan {
	validateLadder(ladder, latency);
	assertSafePath(io.workDir, 'workDir');
	assertSafePath(io.fontFile, 'fontFile');
	const renditions = ladder.filter((r) => io.composite || !r.video);
	if (renditions.length === 0) throw new RangeError('buildFfmpegPlan: no rendition fits an audio-only stage');
	for (const r of renditions) if (!io.outputs[r.name]) throw new Error(`buildFfmpegPlan: no output for rendition ${r.name}`);

	const textFiles: TextFile[] = [];
	const chains: string[] = [];
	const videoRenditions = renditions.filter((r) => r.video);
	if (videoRenditions.length > 0) chains.push(...videoChains(layout, latency, io, textFiles, videoRenditions));
	chains.push(...audioChains(layout, io, renditions));
	const filterGraph = chains.join(';');

	const gop = String((latency.segmentTargetMs * latency.fps) / 1000);
	// Info level for the once-a-second stats line the runner reads for progress and stall detection.
	const globalOptions = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-stats_period', '1'];
	const input = io.streams.size > 0
		? {
				url: io.sdpPath,
				// Live RTP: start fast and do not buffer; the SDP lists only local udp/rtp sockets. Timestamps are the
				// packets' arrival times: RTP timestamps jump when the first RTCP sender report re-bases them, and
				// aresample cannot bridge a jump of hours (the audio would stop). A short probe (0.1 s, 32 KiB): the SDP
				// already names every codec, and cameras' sizes come from their first decoded frame (the canvas sets the
				// output rate), so a long probe only delayed a replacement run's first picture (~1 s at 0.5 s/500 KiB).
				options: [
					...globalOptions,
					'-protocol_whitelist', 'file,udp,rtp', '-fflags', '+nobuffer+genpts', '-flags', 'low_delay',
					'-use_wallclock_as_timestamps', '1', '-analyzeduration', '100000', '-probesize', '32768', '-f', 'sdp',
				],
			}
		: // An empty stage: silence read at real time (-re) keeps the broadcast's clock.
			{ url: 'anullsrc=r=48000:cl=stereo', options: [...globalOptions, '-re', '-f', 'lavfi'] };
	const outputs = renditions.map((r): PlanOutput => ({ rendition: r.name, url: io.outputs[r.name]!, options: outputOptions(r, latency, gop) }));
	const args = [...input.options, '-i', input.url, '-filter_complex', filterGraph, ...outputs.flatMap((o) => [...o.options, o.url])];
	return { input, filterGraph, outputs, args, textFiles, renditions };
}

function videoChains(layout: Layout, latency: LatencyProfile, io: PlanIo, textFiles: TextFile[], renditions: Rendition[]): string[] {
	const { width, height, tiles } = layout;
	const chains: string[] = [];
	let canvas = 'bg';
	// The canvas is a generated source. ffmpeg asks for its frames only when the video output is behind the others,
	// so live inputs pace it. Only an empty stage (no RTP at all) needs `realtime`; with live inputs it would
	// block ffmpeg's one thread while it sleeps, and the RTP audio would stall behind it.
	const pace = io.streams.size === 0 ? ',realtime' : '';
	chains.push(`color=c=${colours.background}:s=${width}x${height}:r=${latency.fps}${pace},format=yuv420p[${canvas}]`);
	for (const [i, tile] of tiles.entries()) {
		const stream = io.streams.get(tile.speakerId)?.video;
		const next = `c${i}`;
		if (tile.video && stream !== undefined) {
			// Fit the camera in the tile without distortion; letterbox the rest.
			chains.push(
				`[0:${stream}]scale=${tile.width}:${tile.height}:force_original_aspect_ratio=decrease,pad=${tile.width}:${tile.height}:-1:-1:color=${colours.tile},setsar=1,fps=${latency.fps}[v${i}]`,
				`[${canvas}][v${i}]overlay=x=${tile.x}:y=${tile.y}:eof_action=repeat[${next}]`,
			);
		} else {
			const initials = textFile(io.workDir, `initials-${i}.txt`, tile.initials, textFiles);
			chains.push(
				`[${canvas}]drawbox=x=${tile.x}:y=${tile.y}:w=${tile.width}:h=${tile.height}:color=${colours.tile}:t=fill,` +
					`${drawtext(io.fontFile, initials, Math.round(tile.height / 3))}:x=${tile.x}+(${tile.width}-tw)/2:y=${tile.y}+(${tile.height}-th)/2[${next}]`,
			);
		}
		canvas = next;
	}
	const labels = tiles.map((tile, i) => nameLabel(tile, textFile(io.workDir, `name-${i}.txt`, displayName(tile.name, tile.muted), textFiles), io.fontFile));
	const active = tiles.find((t) => t.active);
	// A named drawbox the control socket can move when the active speaker changes; parked off-canvas when nobody talks.
	const highlight = active
		? `drawbox@active=x=${active.x}:y=${active.y}:w=${active.width}:h=${active.height}:color=${colours.active}:t=6`
		: `drawbox@active=x=-100:y=-100:w=2:h=2:color=${colours.active}:t=6`;
	const captions = io.captionsFile !== undefined ? [burnedInCaptionFilter(io.fontFile, io.captionsFile, layout)] : [];
	const control = io.controlPort !== undefined ? [`zmq=bind_address=tcp\\\\://127.0.0.1\\\\:${io.controlPort}`] : [];
	const outs = renditions.map((r) => `[vo_${r.name}]`).join('');
	chains.push(`[${canvas}]${[...labels, ...captions, highlight, ...control, `split=${renditions.length}`].join(',')}${outs.replace(/vo_/g, 'vs_')}`);
	for (const r of renditions) {
		const { width: w, height: h } = r.video!;
		chains.push(w === width && h === height ? `[vs_${r.name}]null[vo_${r.name}]` : `[vs_${r.name}]scale=${w}:${h}[vo_${r.name}]`);
	}
	return chains;
}

function audioChains(layout: Layout, io: PlanIo, renditions: Rendition[]): string[] {
	const chains: string[] = [];
	const mixed: string[] = [];
	for (const [i, tile] of layout.tiles.entries()) {
		const stream = io.streams.get(tile.speakerId)?.audio;
		if (stream === undefined) continue;
		// Constant-power pan law: equal loudness anywhere in the stereo field.
		const angle = ((tile.pan + 1) * Math.PI) / 4;
		const [left, right] = [Math.cos(angle), Math.sin(angle)].map((g) => g.toFixed(4));
		chains.push(
			`[0:${stream}]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=mono,` +
				// speechnorm levels each voice with no look-ahead (loudnorm and dynaudnorm buffer seconds).
				`speechnorm=e=6.25:r=0.00001:l=1,pan=stereo|c0=${left}*c0|c1=${right}*c0,volume@mute${i}=${tile.muted ? 0 : 1}[a${i}]`,
		);
		mixed.push(`[a${i}]`);
	}
	const splits = renditions.map((r) => `[ao_${r.name}]`).join('');
	const control = io.controlPort !== undefined ? `,azmq=bind_address=tcp\\\\://127.0.0.1\\\\:${io.controlPort + 1}` : '';
	const limiter = `alimiter=limit=0.89:level=disabled${control},asplit=${renditions.length}${splits}`;
	if (io.streams.size === 0) {
		// Nobody on stage: the silent lavfi input keeps the timeline (and the listeners' players) going.
		chains.push(`[0:a]${limiter}`);
	} else if (mixed.length === 0) {
		// Speakers on camera but none with a microphone: generated silence, held to real time.
		chains.push(`anullsrc=r=48000:cl=stereo,arealtime,${limiter}`);
	} else {
		chains.push(`${mixed.join('')}amix=inputs=${mixed.length}:normalize=0:dropout_transition=0,${limiter}`);
	}
	return chains;
}

function outputOptions(r: Rendition, latency: LatencyProfile, gop: string): string[] {
	const args: string[] = [];
	// One fMP4 fragment per LL-HLS part: whole video frames, or whole AAC frames for audio-only renditions.
	const partFrames = Math.max(1, Math.floor((latency.partTargetMs / 1000) * latency.fps + 1e-9));
	if (r.video) {
		const kbps = r.video.kbps;
		args.push(
			'-map', `[vo_${r.name}]`,
			// zerolatency + no B-frames: a frame leaves the encoder as soon as it is coded. A fixed GOP of one segment with
			// scene-cut detection off puts a keyframe exactly at every segment start (RFC 8216bis 4.4.4.9 INDEPENDENT).
			'-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
			'-bf', '0', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
			// Every part of a run's first segment starts independent, so a run replacing another (make before break)
			// can go on air at any part once warm, not a whole GOP later; the last forced one is the first segment's
			// end, so the GOP grid after it is unchanged.
			'-force_key_frames', `expr:lte(n,${gop})*not(mod(n,${partFrames}))`,
			'-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
		);
	}
	args.push('-map', `[ao_${r.name}]`, '-c:a', 'aac', '-b:a', `${r.audioKbps}k`, '-ar', '48000', '-ac', '2');
	args.push(...fmp4MuxerArgs(r.video ? Math.round((partFrames / latency.fps) * 1e6) : audioFragmentUs(latency.partTargetMs)));
	return args;
}

function nameLabel(tile: Tile, file: string, fontFile: string): string {
	const size = Math.max(12, Math.min(28, Math.round(tile.height / 10)));
	return `${drawtext(fontFile, file, size)}:box=1:boxcolor=${colours.label}:boxborderw=${Math.round(size / 3)}:x=${tile.x + size}:y=${tile.y + tile.height - size * 2}`;
}

function drawtext(fontFile: string, textFilePath: string, size: number): string {
	// reload=1: a renamed-in file changes the text on the next frame without restarting ffmpeg.
	return `drawtext=fontfile=${fontFile}:textfile=${textFilePath}:reload=1:expansion=none:fontsize=${size}:fontcolor=${colours.text}`;
}

function textFile(workDir: string, name: string, content: string, files: TextFile[]): string {
	const file = path.posix.join(workDir, name);
	files.push({ path: file, content });
	return file;
}

/**
 * A name as drawn: control characters and line breaks removed, at most 32 characters (with an ellipsis), and a
 * muted marker. Whatever the characters, it only ever reaches ffmpeg as file content.
 */
export function displayName(name: string, muted: boolean): string {
	// eslint-disable-next-line no-control-regex
	const clean = name.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim() || 'Speaker';
	const chars = [...clean];
	const short = chars.length > 32 ? `${chars.slice(0, 31).join('')}…` : clean;
	return muted ? `${short} (muted)` : short;
}

function assertSafePath(value: string, what: string): void {
	// Tribune makes these paths itself; anything else would need filter escaping, so refuse it.
	if (!/^[A-Za-z0-9_./-]+$/.test(value) || value.includes('..')) throw new Error(`buildFfmpegPlan: ${what} ${JSON.stringify(value)} has characters ffmpeg filters would need escaped`);
}
