import type { types } from 'mediasoup';

/** Where one RTP stream goes: a comedia PlainTransport's RTP and RTCP ports (rtcpMux off). */
export interface RtpTarget {
	host: string;
	rtpPort: number;
	rtcpPort: number;
	ssrc: number;
	payloadType: number;
	/**
	 * The local ports ffmpeg sends RTP and RTCP from. Default: any. A comedia transport keeps to the address it first
	 * heard from, so an ffmpeg started again for the same transport must send from its predecessor's ports.
	 */
	localRtpPort?: number;
	localRtcpPort?: number;
}

/**
 * What a synthetic camera shows: ffmpeg's moving `testsrc2` pattern, or one solid colour (`#rrggbb`) that tests can
 * find again in the broadcast composite.
 */
export type RtpVideoPattern = 'testsrc2' | { colour: string };

/** A synthetic camera: codec, size in pixels, frames per second, and what it shows (default `testsrc2`). */
export interface RtpVideoSource {
	codec: 'VP8' | 'H264';
	width: number;
	height: number;
	fps: number;
	pattern?: RtpVideoPattern;
}

export interface RtpSenderSpec {
	/** Opus audio from a file (looped) or a sine tone. */
	audio?: RtpTarget & { source: { file: string } | { toneHz: number } };
	/** A synthetic camera. */
	video?: RtpTarget & RtpVideoSource;
	/** Stop after this many seconds. Default: run until killed. */
	durationS?: number;
}

export interface RtpSenderPlan {
	/** ffmpeg's argv (without the program name). */
	args: string[];
	/** What to pass to `transport.produce()` for each stream. */
	audioRtpParameters?: types.RtpParameters;
	videoRtpParameters?: types.RtpParameters;
}

/**
 * Plans an ffmpeg process that sends a synthetic speaker (Opus voice or tone, optional VP8/H264 camera showing a test
 * pattern or a solid colour) as RTP into mediasoup PlainTransports, and the producer parameters that match its
 * streams. Used by the demo's synthetic speakers and by tests; every value is typed, nothing is a shell string.
 */
export function buildRtpSenderPlan(spec: RtpSenderSpec): RtpSenderPlan {
	if (!spec.audio && !spec.video) throw new Error('buildRtpSenderPlan: nothing to send');
	// -re: read inputs at their native rate, so a file plays out in real time like a live microphone.
	const args = ['-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin'];
	const plan: RtpSenderPlan = { args };
	const { video, audio } = spec;
	if (video) {
		args.push('-re', '-f', 'lavfi', '-i', videoSource(video));
	}
	if (audio) {
		if ('file' in audio.source) args.push('-re', '-stream_loop', '-1', '-i', audio.source.file);
		else args.push('-re', '-f', 'lavfi', '-i', `sine=frequency=${checkedInt(audio.source.toneHz)}:sample_rate=48000`);
	}
	if (spec.durationS !== undefined) args.push('-t', String(spec.durationS));
	if (video) {
		args.push('-map', '0:v:0', '-pix_fmt', 'yuv420p');
		// Four keyframes a second: ffmpeg ignores PLI, so a consumer that joins (a broadcast run starting) waits for the
		// next one, and a composite waits for every camera's; a browser answers the PLI at once. At ≤ 0.25 s this stays
		// close to that, for ~0.3 % of a core more per 640×360 24 fps VP8 camera than two a second (measured: testsrc2
		// 5.5 % against 5.2 %, a solid colour 4.1 % against 3.7 %).
		const gop = String(Math.max(1, Math.round(checkedInt(video.fps) / 4)));
		if (video.codec === 'VP8') {
			// One thread: libvpx's VP8 row threads spin-wait, so a paced (-re) camera on a busy machine burned a core or
			// more and fell behind real time (keyframes seconds apart); one thread encodes 640×360 in ~7 % of a core.
			args.push('-c:v', 'libvpx', '-threads', '1', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', gop, '-keyint_min', gop);
		} else {
			args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-b:v', '600k', '-g', gop, '-bsf:v', 'h264_mp4toannexb');
		}
		args.push(...rtpOutput(video));
		plan.videoRtpParameters = {
			codecs: [
				video.codec === 'VP8'
					? { mimeType: 'video/VP8', payloadType: video.payloadType, clockRate: 90000 }
					: {
							mimeType: 'video/H264',
							payloadType: video.payloadType,
							clockRate: 90000,
							parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
						},
			],
			encodings: [{ ssrc: video.ssrc }],
		};
	}
	if (audio) {
		args.push('-map', `${video ? 1 : 0}:a:0`, '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip');
		args.push(...rtpOutput(audio));
		plan.audioRtpParameters = {
			codecs: [{ mimeType: 'audio/opus', payloadType: audio.payloadType, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
			encodings: [{ ssrc: audio.ssrc }],
		};
	}
	return plan;
}

/** `#rrggbb`, the only colour form a pattern takes. */
const hexColour = /^#([0-9A-Fa-f]{6})$/;

/** The lavfi source of a camera. A colour reaches the graph only after it matched `hexColour`, never as raw text. */
function videoSource(video: RtpVideoSource): string {
	const size = `size=${checkedInt(video.width)}x${checkedInt(video.height)}:rate=${checkedInt(video.fps)}`;
	const pattern = video.pattern ?? 'testsrc2';
	if (pattern === 'testsrc2') return `testsrc2=${size}`;
	const match = hexColour.exec(pattern.colour);
	if (!match) throw new RangeError(`buildRtpSenderPlan: colour ${JSON.stringify(pattern.colour)} is not #rrggbb`);
	return `color=c=0x${match[1]!.toLowerCase()}:${size}`;
}

function rtpOutput(target: RtpTarget): string[] {
	// The rtp muxer sends RTCP sender reports to rtcpport; mediasoup's comedia transport learns both addresses.
	const local = target.localRtpPort !== undefined && target.localRtcpPort !== undefined ? `&localrtpport=${checkedInt(target.localRtpPort)}&localrtcpport=${checkedInt(target.localRtcpPort)}` : '';
	return [
		'-ssrc', String(checkedInt(target.ssrc)),
		'-payload_type', String(checkedInt(target.payloadType)),
		'-f', 'rtp',
		`rtp://${target.host.includes(':') ? `[${target.host}]` : target.host}:${checkedInt(target.rtpPort)}?rtcpport=${checkedInt(target.rtcpPort)}&pkt_size=1200${local}`,
	];
}

function checkedInt(value: number): number {
	if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`buildRtpSenderPlan: ${value} is not a non-negative integer`);
	return value;
}
