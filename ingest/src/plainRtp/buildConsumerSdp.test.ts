import { describe, expect, it } from 'vitest';
import { buildConsumerSdp } from './buildConsumerSdp.js';

describe('buildConsumerSdp()', () => {
	it('describes an Opus and an H264 consumer on their port pairs', () => {
		const sdp = buildConsumerSdp('127.0.0.1', [
			{
				kind: 'audio',
				rtpPort: 20000,
				rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }], encodings: [{ ssrc: 1 }] },
			},
			{
				kind: 'video',
				rtpPort: 20002,
				rtpParameters: {
					codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }],
					encodings: [{ ssrc: 2 }],
				},
			},
		]);
		expect(sdp).toBe(
			[
				'v=0',
				'o=- 0 0 IN IP4 127.0.0.1',
				's=Tribune',
				'c=IN IP4 127.0.0.1',
				't=0 0',
				'm=audio 20000 RTP/AVP 100',
				'a=rtcp:20001',
				'a=rtpmap:100 opus/48000/2',
				'a=fmtp:100 useinbandfec=1',
				'a=recvonly',
				'm=video 20002 RTP/AVP 102',
				'a=rtcp:20003',
				'a=rtpmap:102 H264/90000',
				'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f',
				'a=recvonly',
				'',
			].join('\r\n'),
		);
	});

	it('uses IP6 addressing for an IPv6 receiver and omits empty fmtp lines', () => {
		const sdp = buildConsumerSdp('::1', [
			{ kind: 'video', rtpPort: 30000, rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [] } },
		]);
		expect(sdp).toContain('c=IN IP6 ::1\r\n');
		expect(sdp).toContain('a=rtpmap:101 VP8/90000\r\n');
		expect(sdp).not.toContain('a=fmtp');
	});

	it('rejects an odd RTP port, which would collide with the receiver RTCP port', () => {
		expect(() =>
			buildConsumerSdp('127.0.0.1', [{ kind: 'audio', rtpPort: 20001, rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] } }]),
		).toThrow(/must be an even integer/);
	});

	it('rejects a stream without a codec', () => {
		expect(() => buildConsumerSdp('127.0.0.1', [{ kind: 'audio', rtpPort: 20000, rtpParameters: { codecs: [] } }])).toThrow(/has no codec/);
	});
});
