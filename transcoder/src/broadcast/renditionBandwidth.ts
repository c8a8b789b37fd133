import { audioFragmentUs } from '../hls/buildHlsEncodePlan.js';
import type { LatencyProfile, Rendition } from './ladder.js';

/**
 * How far one second of x264 can exceed `-b:v` in the broadcast encode (`-maxrate` = `-b:v`, `-bufsize` half of it):
 * a run's first segment has a keyframe at every part (so a new run can go on air at any part) and was measured at
 * 1.22 × on a detailed test pattern (720p at 2,500 kb/s and 360p at 700 kb/s); later segments stay at 1.0–1.05 ×.
 */
const videoPeakFactor = 1.3;

/**
 * ffmpeg's AAC encoder has no VBV: silence costs it ~7 kb/s and the bits it saves go into the speech that follows.
 * Measured on a three-voice stereo mix after 1–10 s of silence: segments of 110 kb/s at `-b:a 64k`, 186 kb/s at
 * `128k` (the burst saturates after ~3 s of silence); steady speech stays within 1.15 ×. Modelled as
 * 1.5 × the bit rate + 20 kb/s.
 */
const aacPeak = (kbps: number): number => 1.5 * kbps + 20;

/** Bytes of a part's `moof` (and `mdat` header), per track: measured 117–136 for 9 AAC frames, 235 for 5 video + 10 AAC frames. */
const moofBytesPerTrack = 140;

/**
 * The BANDWIDTH of a rendition of the broadcast, bits per second: the peak segment bit rate it is expected to reach
 * (RFC 8216bis §4.4.6.2: for a live stream, that of a representative encode with the same settings; §4.1 defines the
 * peak over any run of segments lasting 0.5–1.5 target durations). It is each encoder's measured worst second plus
 * the fMP4 framing of its parts; `test/hls/bandwidth.test.ts` encodes speech after silence and a detailed picture
 * with the broadcast's own encoder settings and checks the measured peak stays below it. The packager raises it if a
 * stream still measures more (see `Packager`), and a replay states what it measured.
 */
export function renditionBandwidth(rendition: Rendition, latency: LatencyProfile): number {
	const partsPerSecond = rendition.video ? latency.fps / Math.max(1, Math.floor((latency.partTargetMs / 1000) * latency.fps + 1e-9)) : 1e6 / audioFragmentUs(latency.partTargetMs);
	const tracks = rendition.video ? 2 : 1;
	const framingKbps = (partsPerSecond * tracks * moofBytesPerTrack * 8) / 1000;
	const kbps = (rendition.video ? rendition.video.kbps * videoPeakFactor : 0) + aacPeak(rendition.audioKbps) + framingKbps;
	return Math.ceil(kbps) * 1000;
}
