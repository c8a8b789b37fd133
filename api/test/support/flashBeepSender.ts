import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';

/**
 * A/V sync test sender: ONE ffmpeg process, ONE lavfi input (a filter graph with a video and an audio output, read
 * with one `-re`, so both streams come from one clock and start together), sending a camera (VP8, 640×360, 25 fps)
 * and a voice (Opus) as RTP into mediasoup. The picture is dark grey and turns white for 120 ms (3 frames) at each
 * onset of `flashBeepSchedule`; the sound is silence with a 1 kHz beep (-6 dBFS) over the very same 120 ms.
 *
 * Between ffmpeg and mediasoup sits a UDP relay in this process that notes when every RTP packet left the sender
 * (arrival at the relay, sub-millisecond wall clock) with its RTP timestamp, from which the sender's wall clock of its
 * own media time is read back (see `senderClock`).
 */

/** The onsets repeat every `periodS`; gaps between them are all different, so a run of events has one alignment. */
export const flashBeepSchedule = {
	periodS: 12,
	/** Onsets within a period, s: multiples of 40 ms (whole frames at 25 fps). Gaps 1.20 1.52 1.92 1.36 1.64 1.08 1.80 1.48. */
	onsetsS: [0.48, 1.68, 3.2, 5.12, 6.48, 8.12, 9.2, 11.0],
	durationS: 0.12,
	fps: 25,
} as const;

/** Sender media time (s, from the sender's first frame / sample) of every onset in `[0, untilS)`. */
export function scheduledOnsets(untilS: number): number[] {
	const onsets: number[] = [];
	for (let period = 0; period * flashBeepSchedule.periodS < untilS && period < 1000; period++) {
		for (const onset of flashBeepSchedule.onsetsS) {
			const t = period * flashBeepSchedule.periodS + onset;
			if (t < untilS) onsets.push(t);
		}
	}
	return onsets;
}

/** libopus's look-ahead at 48 kHz (application voip): its first packet starts this long before the first sample. */
const opusLookaheadS = 312 / 48000;

/** One RTP packet as it left the sender. */
export interface SentPacket {
	/** Wall clock (epoch ms, fractional) the relay received it. */
	atMs: number;
	/** RTP timestamp, unwrapped, relative to the stream's first packet. */
	ticks: number;
	marker: boolean;
}

export interface FlashBeepSender {
	audioProducer: types.Producer;
	videoProducer: types.Producer;
	/** Every RTP packet of each stream so far, in arrival order. */
	readonly sent: { audio: SentPacket[]; video: SentPacket[] };
	/** The sender's process (for its exit code). */
	readonly process: ChildProcess;
	close(): void;
}

/** An RTP relay for one stream: ffmpeg sends to `rtpPort`/`rtcpPort`, the relay forwards to the transport from them. */
async function relay(target: { rtpPort: number; rtcpPort: number }, sent: SentPacket[], ip: string): Promise<{ rtpPort: number; rtcpPort: number; close(): void }> {
	const rtp = dgram.createSocket('udp4');
	const rtcp = dgram.createSocket('udp4');
	await Promise.all([rtp, rtcp].map((socket) => new Promise<void>((resolve) => socket.bind(0, ip, resolve))));
	let first: number | undefined;
	let last = 0;
	let wraps = 0;
	rtp.on('message', (message) => {
		const atMs = performance.timeOrigin + performance.now();
		rtp.send(message, target.rtpPort, ip);
		if (message.length < 12) return;
		const ts = message.readUInt32BE(4);
		first ??= ts;
		// Unwrap: RTP timestamps are 32-bit and start anywhere.
		if (sent.length > 0 && ts < last && last - ts > 0x80000000) wraps++;
		last = ts;
		sent.push({ atMs, ticks: wraps * 0x100000000 + ts - first, marker: (message[1]! & 0x80) !== 0 });
	});
	rtcp.on('message', (message) => rtcp.send(message, target.rtcpPort, ip));
	return {
		rtpPort: rtp.address().port,
		rtcpPort: rtcp.address().port,
		close: () => {
			rtp.close();
			rtcp.close();
		},
	};
}

/** The lavfi graph: `[out0]` the flashing picture, `[out1]` the beeping sound (mono; the Opus encode makes it stereo). */
export function flashBeepGraph(): string {
	const { periodS, onsetsS, durationS, fps } = flashBeepSchedule;
	const frame = 1 / fps;
	// A frame shows white when its time is within the flash: half a frame of margin each way against rounding.
	const flash = onsetsS.map((o) => `between(mod(t,${periodS}),${(o - frame / 2).toFixed(3)},${(o + durationS - frame / 2).toFixed(3)})`).join('+');
	// A sample sounds within [onset, onset + duration).
	const beep = onsetsS.map((o) => `between(mod(t,${periodS}),${o.toFixed(3)},${(o + durationS - 1 / 48000).toFixed(6)})`).join('+');
	return (
		`color=c=0x202020:s=640x360:r=${fps},format=yuv420p,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='${flash}'[out0];` +
		`aevalsrc='0.5*sin(2*PI*1000*t)*(${beep})':s=48000:c=mono[out1]`
	);
}

/** Starts the sender on a comedia PlainTransport pair of `router` (audio and video producers), through the relay. */
export async function startFlashBeepSender(router: types.Router, options: { audioSsrc: number; videoSsrc: number; durationS: number; ip?: string }): Promise<FlashBeepSender> {
	const ip = options.ip ?? '127.0.0.1';
	const audioIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
	const videoIn = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
	const sent = { audio: [] as SentPacket[], video: [] as SentPacket[] };
	const audioRelay = await relay({ rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort }, sent.audio, ip);
	const videoRelay = await relay({ rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort }, sent.video, ip);
	const audioProducer = await audioIn.produce({
		kind: 'audio',
		rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }], encodings: [{ ssrc: options.audioSsrc }] },
	});
	const videoProducer = await videoIn.produce({
		kind: 'video',
		rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: options.videoSsrc }] },
	});
	const gop = String(flashBeepSchedule.fps / 4);
	const rtp = (port: { rtpPort: number; rtcpPort: number }, ssrc: number, payloadType: number): string[] => [
		'-ssrc', String(ssrc), '-payload_type', String(payloadType), '-f', 'rtp', `rtp://${ip}:${port.rtpPort}?rtcpport=${port.rtcpPort}&pkt_size=1200`,
	];
	// As the synthetic speakers send (buildRtpSenderPlan): libvpx one thread, realtime, 4 keyframes a second; Opus voip.
	const args = [
		'-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin',
		'-re', '-f', 'lavfi', '-i', flashBeepGraph(), '-t', String(options.durationS),
		'-map', '0:v:0', '-c:v', 'libvpx', '-threads', '1', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', gop, '-keyint_min', gop,
		...rtp(videoRelay, options.videoSsrc, 101),
		'-map', '0:a:0', '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip',
		...rtp(audioRelay, options.audioSsrc, 100),
	];
	const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
	child.stderr!.on('data', () => {});
	return {
		audioProducer,
		videoProducer,
		sent,
		process: child,
		close: () => {
			child.kill('SIGKILL');
			audioRelay.close();
			videoRelay.close();
			audioIn.close();
			videoIn.close();
		},
	};
}

/**
 * The sender's wall clock of its media time, per stream: the epoch (ms) such that media time t (s) left the sender at
 * `epochMs + 1000 t` at the earliest, taken from the packets that took least time (min of arrival − media time). A
 * video frame's media time is its RTP timestamp; an audio packet's is its first sample's: its RTP timestamp less the
 * Opus encoder's look-ahead (312 samples, 6.5 ms: the first packet starts that far before the first sample). An audio
 * packet can only leave once its 20 ms exist, so the audio epoch sits up to ~20 ms after the video's by construction.
 */
export function senderClock(sent: FlashBeepSender['sent']): { audioEpochMs: number; videoEpochMs: number; audioPackets: number; videoFrames: number } {
	const epoch = (packets: SentPacket[], clockRate: number, leadS: number): number => packets.reduce((least, p) => Math.min(least, p.atMs - (p.ticks / clockRate - leadS) * 1000), Infinity);
	return {
		audioEpochMs: epoch(sent.audio, 48000, opusLookaheadS),
		videoEpochMs: epoch(sent.video, 90000, 0),
		audioPackets: sent.audio.length,
		videoFrames: new Set(sent.video.map((p) => p.ticks)).size,
	};
}

/**
 * Sender times (s) of the beeps whose sound came with a pause: more than `pauseMs` between two of its packets' arrivals,
 * anywhere from 60 ms before the onset to the beep's end (what the paused packets carry, and as much again after
 * them, arriving in the burst that follows). The broadcast's gap filler covers such a pause with silence and drops
 * the packets that come late after it (`OpusGapFiller`): such a beep may be cut short or lost, by design.
 */
export function pausedBeeps(sent: FlashBeepSender['sent'], pauseMs = 60): number[] {
	const paused = new Set<number>();
	const { periodS, onsetsS, durationS } = flashBeepSchedule;
	const packets = sent.audio;
	for (let i = 1; i < packets.length; i++) {
		const pauseS = (packets[i]!.atMs - packets[i - 1]!.atMs) / 1000;
		if (pauseS * 1000 <= pauseMs) continue;
		const fromS = packets[i - 1]!.ticks / 48000 - opusLookaheadS;
		const toS = fromS + 2 * pauseS + 0.02;
		const period = Math.floor(fromS / periodS);
		for (let k = period - 1; k <= period + 1; k++) {
			for (const onset of onsetsS) {
				const atS = k * periodS + onset;
				if (toS > atS - 0.06 && fromS < atS + durationS) paused.add(Math.round(atS * 100) / 100);
			}
		}
	}
	return [...paused].sort((a, b) => a - b);
}
