import type { types } from 'mediasoup';

/** One mediasoup consumer that a receiving process (ffmpeg) reads from plain RTP. */
export interface SdpStream {
	kind: types.MediaKind;
	rtpParameters: types.RtpParameters;
	/** Port the receiver binds for RTP; it binds rtpPort + 1 for RTCP. */
	rtpPort: number;
}

/**
 * Builds the SDP that tells a receiver (ffmpeg's `sdp` demuxer) which ports carry which consumer's RTP, with the
 * consumer's negotiated payload types and codec parameters. One m= line per stream, in the given order.
 */
export function buildConsumerSdp(ip: string, streams: readonly SdpStream[]): string {
	const family = ip.includes(':') ? 'IP6' : 'IP4';
	const lines = ['v=0', `o=- 0 0 IN ${family} ${ip}`, 's=Tribune', `c=IN ${family} ${ip}`, 't=0 0'];
	for (const stream of streams) {
		const codec = stream.rtpParameters.codecs[0];
		if (!codec) throw new Error(`buildConsumerSdp: ${stream.kind} stream has no codec`);
		if (!Number.isInteger(stream.rtpPort) || stream.rtpPort % 2 !== 0) {
			throw new RangeError(`buildConsumerSdp: rtpPort ${stream.rtpPort} must be an even integer`);
		}
		const [, subtype] = codec.mimeType.split('/');
		const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
		lines.push(
			`m=${stream.kind} ${stream.rtpPort} RTP/AVP ${codec.payloadType}`,
			// ffmpeg binds RTCP on rtpPort + 1 anyway; say so for other receivers (RFC 3605).
			`a=rtcp:${stream.rtpPort + 1}`,
			`a=rtpmap:${codec.payloadType} ${subtype}/${codec.clockRate}${channels}`,
		);
		const fmtp = Object.entries(codec.parameters ?? {})
			.map(([key, value]) => `${key}=${String(value)}`)
			.join(';');
		if (fmtp) lines.push(`a=fmtp:${codec.payloadType} ${fmtp}`);
		lines.push('a=recvonly');
	}
	return `${lines.join('\r\n')}\r\n`;
}
