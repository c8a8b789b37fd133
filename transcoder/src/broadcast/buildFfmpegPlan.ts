import type { Layout } from './computeLayout.js';
import { audioFragmentUs, fmp4MuxerArgs } from '../hls/buildHlsEncodePlan.js';
import { validateLadder, type LatencyProfile, type Rendition } from './ladder.js';
import { burnedInCaptionFilter } from '../captions/burnedInCaptionFilter.js';
import {
	assignBySpeakerId, compositeColours, hiddenLabelOptions, highlightRect, initialsOptions, labelOptions, panGains, screenFilters, screenGeometry, showsCamera, slotFilters,
	slotGeometry, tilesBySlot, type SlotAssignment, type SlotStreams,
} from './liveLayout.js';

export { displayName } from './displayName.js';

/** Where the stage comes from and where the renditions go. */
export interface PlanIo {
	/** Draw the video composite (video spaces, even when no camera is on); false: audio renditions only. */
	composite: boolean;
	/**
	 * SDP file describing every consumed stream (see `buildConsumerSdp`); its m= lines are ffmpeg's stream indices.
	 * Unused when `streams` is empty: an empty stage is broadcast as silence (and the canvas) from lavfi.
	 */
	sdpPath: string;
	/**
	 * A standing encode's slots (see liveLayout): each slot's stream indices in the SDP input and who is in it now.
	 * Absent: one slot per speaker of `layout`, numbered by id, with `streams`.
	 */
	slots?: SlotAssignment;
	/** Without `slots`: each speaker's stream indices in the SDP input. A speaker without audio is left out of the mix. */
	streams?: SlotStreams;
	/** Directory for the text files drawtext reads (none of the composite's own). Tribune-made path: `[A-Za-z0-9_./-]` only. */
	workDir: string;
	/** TrueType font for names and initials. Same character rule as workDir. */
	fontFile: string;
	/** Output URL per rendition name (a pipe, file or `unix:` socket the packager reads fMP4 from). */
	outputs: Readonly<Record<string, string>>;
	/** TCP port on 127.0.0.1 where ffmpeg takes live filter commands (zmq/azmq). Absent: none (labels stay blank). */
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

const colours = compositeColours;

/**
 * Plans the broadcast encode of one stage: every speaker's audio normalised, panned to their tile's position and
 * mixed; for video spaces the composite (pinned row, grid, names, initials for speakers without video, active
 * speaker highlight) encoded once per video rendition; each rendition written as fragmented MP4 whose fragments are
 * LL-HLS parts. Pure: returns argv arrays, never a shell string, and keeps user text (names) out of the filter graph:
 * labels start empty and get their text by a drawtext reinit over the control socket (`layoutCommands`, quoted for
 * each parser on the way: `quoteFfmpegToken`). Every tile's filters are named per slot, so the runner can move the
 * tiles of a running encode to a new layout of the same speakers (a pin, a mute, the active speaker) without a
 * restart.
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
	const slots = io.slots ?? assignBySpeakerId(layout, io.streams ?? new Map());
	const hasInput = [...slots.streams, slots.screen ?? {}].some((s) => s.audio !== undefined || s.video !== undefined);
	const videoRenditions = renditions.filter((r) => r.video);
	if (videoRenditions.length > 0) chains.push(...videoChains(layout, latency, io, slots, hasInput, videoRenditions));
	chains.push(...audioChains(layout, io, slots, hasInput, renditions, videoRenditions.length > 0));
	const filterGraph = chains.join(';');

	// Info, for the input's dump: its `start:` is the wall-clock time of the run's media instant 0 (the input is
	// stamped with the time it is read, and media time starts at its first packet), which places a new run after the
	// one before (see `RunSwitcher.mediaOrigin`). The once-a-second stats line is the runner's progress. At info level
	// a camera of another size than its slot's first picture (the filler) logs two lines per frame
	// (`-reinit_filter:v 0`, 25 lines a second each): the runner drops them (see `runFfmpeg`).
	const globalOptions = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-stats', '-stats_period', '1'];
	const input = hasInput
		? {
				url: io.sdpPath,
				// Live RTP: start fast and do not buffer; the SDP lists only local udp/rtp sockets. Timestamps are the
				// packets' arrival times: RTP timestamps jump when the first RTCP sender report re-bases them, and
				// aresample cannot bridge a jump of hours (the audio would stop). A short probe (0.1 s, 32 KiB): the SDP
				// already names every codec, and cameras' sizes come from their first decoded frame (the canvas sets the
				// output rate), so a long probe only delayed a replacement run's first picture (~1 s at 0.5 s/500 KiB).
				// A camera may change size (a slot going from its filler frames to a speaker's camera, a sender adapting):
				// `-reinit_filter:v 0` lets each camera's scale take the new size instead of rebuilding the whole graph,
				// which would reset every live-set filter to the plan.
				options: [
					...globalOptions,
					'-protocol_whitelist', 'file,udp,rtp', '-fflags', '+nobuffer+genpts', '-flags', 'low_delay', '-reinit_filter:v', '0',
					'-use_wallclock_as_timestamps', '1', '-analyzeduration', '100000', '-probesize', '32768', '-f', 'sdp',
				],
			}
		: // An empty stage: silence read at real time (-re) keeps the broadcast's clock.
			{ url: 'anullsrc=r=48000:cl=stereo', options: [...globalOptions, '-re', '-f', 'lavfi'] };
	const outputs = renditions.map((r): PlanOutput => ({ rendition: r.name, url: io.outputs[r.name]!, options: renditionOutputOptions(r, latency) }));
	const args = [...input.options, '-i', input.url, '-filter_complex', filterGraph, ...outputs.flatMap((o) => [...o.options, o.url])];
	return { input, filterGraph, outputs, args, textFiles, renditions };
}

function videoChains(layout: Layout, latency: LatencyProfile, io: PlanIo, slots: SlotAssignment, hasInput: boolean, renditions: Rendition[]): string[] {
	const { width, height } = layout;
	const chains: string[] = [];
	const tiles = tilesBySlot(layout, slots);
	// The canvas is a generated source. ffmpeg asks for its frames only when the video output is behind the others,
	// so live inputs pace it. Only an empty stage (no RTP at all) needs `realtime`; with live inputs it would
	// block ffmpeg's one thread while it sleeps, and the RTP audio would stall behind it.
	const pace = hasInput ? '' : ',realtime';
	// Every slot's box, named so a live layout can move it (see liveLayout); a slot nobody is in is parked off the canvas.
	const boxes = slots.streams.map((_, slot) => {
		const { box } = slotGeometry(tiles.get(slot), false);
		return `${slotFilters(slot).tile}=x=${box.x}:y=${box.y}:w=${box.w}:h=${box.h}:color=${colours.tile}:t=fill`;
	});
	const screen = slots.screen?.video !== undefined ? { stream: slots.screen.video, ...screenGeometry(layout, slots) } : undefined;
	// The share's box, black under a picture of another aspect ratio (a window, a 4:3 slide); parked when nobody shares.
	const screenBox = screen ? [`${screenFilters.box}=x=${screen.box.x}:y=${screen.box.y}:w=${screen.box.w}:h=${screen.box.h}:color=black:t=fill`] : [];
	chains.push([`color=c=${colours.background}:s=${width}x${height}:r=${latency.fps}${pace}`, 'format=yuv420p', ...screenBox, ...boxes].join(',') + '[bg]');
	let canvas = 'bg';
	if (screen) {
		// The share, fitted in its box like a camera in its tile, with lanczos: small text stays sharp where bicubic
		// blurs it. Scaled at the share's own frame rate (a still slide sends few pictures), then repeated to the
		// composite's by `fps`, which x264 codes as skipped blocks.
		chains.push(
			`[0:${screen.stream}]${screenFilters.scale}=w='${screen.size.w}':h='${screen.size.h}':eval=frame:flags=lanczos,setsar=1,fps=${latency.fps}[vscreen]`,
			`[bg][vscreen]${screenFilters.place}=x='${screen.place.x}':y='${screen.place.y}':eof_action=repeat[cscreen]`,
		);
		canvas = 'cscreen';
	}
	for (const [slot, streams] of slots.streams.entries()) {
		if (streams.video === undefined) continue;
		const f = slotFilters(slot);
		const tile = tiles.get(slot);
		// Fit the camera in its tile without distortion (letterboxed on the tile's box); scale and overlay take the live
		// layout's new size and place as commands. A slot without a camera showing keeps its chain, parked off the
		// canvas: its input still flows (filler frames), and the overlay waits for every input.
		const { size, place } = slotGeometry(tile, tile !== undefined && showsCamera(tile, slots));
		chains.push(
			`[0:${streams.video}]${f.camera}=w='${size.w}':h='${size.h}':eval=frame,setsar=1,fps=${latency.fps}[v${slot}]`,
			`[${canvas}][v${slot}]${f.place}=x='${place.x}':y='${place.y}':eof_action=repeat[c${slot}]`,
		);
		canvas = `c${slot}`;
	}
	// Initials are letters and digits only: inline, no escaping needed (a file could not be moved: drawtext refuses a
	// reinit once its text came from a file). A slot showing a camera, or nobody, has them parked.
	const initials = slots.streams.map((_, slot) => {
		const tile = tiles.get(slot);
		return `${drawtext(io.fontFile, slotFilters(slot).initials)}:${initialsOptions(tile && !showsCamera(tile, slots) ? tile : undefined)}`;
	});
	// Names are user text: they never enter the graph. Labels start invisible and the runner's first live layout
	// (a quoted drawtext reinit over the control socket) gives them their text.
	const labels = slots.streams.map((_, slot) => {
		const tile = tiles.get(slot);
		const options = tile ? `text=-:fontcolor=${colours.text}@0:box=1:boxcolor=black@0:${labelOptions(tile)}` : `box=1:${hiddenLabelOptions}`;
		return `${drawtext(io.fontFile, slotFilters(slot).name)}:${options}`;
	});
	const rect = highlightRect(layout);
	// A named drawbox the control socket moves when the active speaker changes; parked off-canvas when nobody talks.
	const highlight = `drawbox@active=x=${rect.x}:y=${rect.y}:w=${rect.w}:h=${rect.h}:color=${colours.active}:t=6`;
	const captions = io.captionsFile !== undefined ? [burnedInCaptionFilter(io.fontFile, io.captionsFile, layout)] : [];
	const control = io.controlPort !== undefined ? [`zmq=bind_address=tcp\\\\://127.0.0.1\\\\:${io.controlPort}`] : [];
	const outs = renditions.map((r) => `[vo_${r.name}]`).join('');
	chains.push(`[${canvas}]${[...initials, ...labels, ...captions, highlight, ...control, `split=${renditions.length}`].join(',')}${outs.replace(/vo_/g, 'vs_')}`);
	for (const r of renditions) {
		const { width: w, height: h } = r.video!;
		chains.push(w === width && h === height ? `[vs_${r.name}]null[vo_${r.name}]` : `[vs_${r.name}]scale=${w}:${h}[vo_${r.name}]`);
	}
	return chains;
}

function audioChains(layout: Layout, io: PlanIo, slots: SlotAssignment, hasInput: boolean, renditions: Rendition[], withVideo: boolean): string[] {
	const chains: string[] = [];
	const mixed: string[] = [];
	const tiles = tilesBySlot(layout, slots);
	for (const [i, streams] of slots.streams.entries()) {
		const stream = streams.audio;
		if (stream === undefined) continue;
		const tile = tiles.get(i);
		const f = slotFilters(i);
		const [left, right] = panGains(tile?.pan ?? 0);
		chains.push(
			`[0:${stream}]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=mono,` +
				// speechnorm levels each voice with no look-ahead (loudnorm and dynaudnorm buffer seconds).
				`speechnorm=e=6.25:r=0.00001:l=1,asplit=2[al${i}][ar${i}]`,
			// Each channel's gain is a named volume, so a live layout can move the voice with its tile (pan takes no commands).
			`[al${i}]${f.panLeft}=${left}[pl${i}]`,
			`[ar${i}]${f.panRight}=${right}[pr${i}]`,
			`[pl${i}][pr${i}]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR,volume@mute${i}=${tile?.muted ? 0 : 1}[a${i}]`,
		);
		mixed.push(`[a${i}]`);
	}
	if (slots.screen?.audio !== undefined) {
		// The shared tab's sound (silence from its relay while there is none), in the middle, as sent: not levelled like
		// a voice, since it may be music or a video's mix.
		chains.push(`[0:${slots.screen.audio}]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=stereo[ascreen]`);
		mixed.push('[ascreen]');
	}
	const splits = renditions.map((r) => `[ao_${r.name}]`).join('');
	const control = io.controlPort !== undefined ? `,azmq=bind_address=tcp\\\\://127.0.0.1\\\\:${io.controlPort + 1}` : '';
	// The mix's timestamps come from packet arrival times and can step back (a late input, the limiter's look-ahead):
	// an encoder or muxer given one rewrites every later timestamp to "previous + 1" until real time catches up, and
	// the audio-only rendition, whose parts are cut by duration, then writes no part for as long (seen: seconds, which
	// held a new run off the air and shortened the audio rendition). Counting samples from the first keeps them
	// monotonic and in step with the wall clock (aresample has already fitted each voice to it).
	// With a picture, the sound starts where it does: at 0, the canvas's first frame. The mix's first sample comes
	// later (0.6–1.3 s into a run, measured), and the mp4 muxer, whose moov is written before any packet
	// (`empty_moov`), starts every track at 0 from its own first packet: the sound then played that much ahead of
	// the picture in a muxed rendition, and the audio-only rendition's media time was that far off the video ones'
	// (a run switch, which matches renditions by media time, repeated up to a second of video). `first_pts=0` pads
	// silence up to the sound's first sample; the timestamps after it are continuous, so aresample changes nothing else.
	const start = withVideo ? ',aresample=async=1:first_pts=0' : '';
	const limiter = `alimiter=limit=0.89:level=disabled${control},asetpts=N/SR/TB+STARTPTS${start},asplit=${renditions.length}${splits}`;
	if (!hasInput) {
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

/**
 * The encoder and muxer options of one rendition's output (after its `-map`s' sources exist in the graph as
 * `[vo_<name>]` and `[ao_<name>]`): what every broadcast encode writes, also used to measure its bit rates.
 */
export function renditionOutputOptions(r: Rendition, latency: LatencyProfile): string[] {
	const gop = String((latency.segmentTargetMs * latency.fps) / 1000);
	const args: string[] = [];
	// One fMP4 fragment per LL-HLS part: whole video frames, or whole AAC frames for audio-only renditions.
	const partFrames = Math.max(1, Math.floor((latency.partTargetMs / 1000) * latency.fps + 1e-9));
	if (r.video) {
		const kbps = r.video.kbps;
		args.push(
			'-map', `[vo_${r.name}]`,
			// zerolatency + no B-frames: a frame leaves the encoder as soon as it is coded. A fixed GOP of one segment with
			// scene-cut detection off puts a keyframe exactly at every segment start (RFC 8216bis 4.4.4.9 INDEPENDENT).
			// A rendition encoded for text (`text`) also takes x264's stillimage tune (weaker deblocking, stronger psy-rd
			// and adaptive quantisation): a shared slide's small letters keep their edges instead of being smoothed away.
			'-c:v', 'libx264', '-preset', r.video.preset ?? 'veryfast', '-tune', r.video.text ? 'stillimage,zerolatency' : 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
			'-bf', '0', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
			// Every part of a run's first segment starts independent, so a run replacing another (make before break)
			// can go on air at any part once warm, not a whole GOP later; the last forced one is the first segment's
			// end, so the GOP grid after it is unchanged.
			'-force_key_frames', `expr:lte(n,${gop})*not(mod(n,${partFrames}))`,
			'-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
		);
	}
	args.push('-map', `[ao_${r.name}]`, '-c:a', 'aac', '-b:a', `${r.audioKbps}k`, '-ar', '48000', '-ac', '2');
	const muxer = fmp4MuxerArgs(r.video ? Math.round((partFrames / latency.fps) * 1e6) : audioFragmentUs(latency.partTargetMs));
	// Video renditions also cut a part at every keyframe (frag_keyframe adds to frag_duration): the muxer cuts by the
	// duration of whichever track a packet belongs to, so when the audio track's timing drifts from the video's (a new
	// run's mix under load) parts stop lining up with the GOP, no part after the first segment starts independent,
	// and a new run whose first segment came in one burst could never go on air (seen in bench:listener).
	const flags = muxer.indexOf('-movflags') + 1;
	if (r.video && flags > 0) muxer[flags] = `${muxer[flags]}+frag_keyframe`;
	args.push(...muxer);
	return args;
}

function drawtext(fontFile: string, name: string): string {
	return `${name}=fontfile=${fontFile}:expansion=none`;
}

function assertSafePath(value: string, what: string): void {
	// Tribune makes these paths itself; anything else would need filter escaping, so refuse it.
	if (!/^[A-Za-z0-9_./-]+$/.test(value) || value.includes('..')) throw new Error(`buildFfmpegPlan: ${what} ${JSON.stringify(value)} has characters ffmpeg filters would need escaped`);
}
