import { captionSampleRateHz } from './CaptionEngine.js';

/**
 * ffmpeg arguments that read one speaker's Opus RTP (described by the SDP at `sdpPath`) and write 16 kHz mono
 * signed 16-bit little-endian PCM to stdout, as the caption engines take it. Everything is set for a cheap,
 * low-delay decoder that mostly waits: one thread, no probing (the SDP names the codec), no input buffering, and
 * every packet flushed to the pipe at once so a final is not held back by ffmpeg's output buffer.
 */
export function buildPcmDecoderArgs(sdpPath: string): string[] {
	return [
		'-hide_banner', '-nostdin', '-loglevel', 'error',
		'-threads', '1',
		// Live RTP from local sockets only; arrival times as timestamps (RTP ones jump at the first sender report). Packets
		// read in one burst share a time, which the s16le muxer reports as "non monotonically increasing dts"; having no
		// timestamps, it writes them all the same (harmless: the PCM is that of an even arrival, bit for bit).
		'-protocol_whitelist', 'file,udp,rtp', '-fflags', '+nobuffer', '-flags', 'low_delay',
		'-use_wallclock_as_timestamps', '1', '-analyzeduration', '0', '-probesize', '32', '-f', 'sdp', '-i', sdpPath,
		'-map', '0:a:0', '-vn', '-ac', '1', '-ar', String(captionSampleRateHz),
		'-f', 's16le', '-flush_packets', '1', 'pipe:1',
	];
}
