import type { types } from 'mediasoup';

/**
 * The codecs every space's router offers. Opus carries speech (stereo-capable, in-band FEC); VP8 and H264
 * (constrained baseline, packetization-mode 1, the profile every browser encodes in hardware or software) carry
 * optional camera video.
 */
export const routerMediaCodecs: types.RtpCodecCapability[] = [
	{
		kind: 'audio',
		mimeType: 'audio/opus',
		clockRate: 48000,
		channels: 2,
		parameters: { useinbandfec: 1, usedtx: 1 },
	},
	{
		kind: 'video',
		mimeType: 'video/VP8',
		clockRate: 90000,
		parameters: { 'x-google-start-bitrate': 1000 },
	},
	{
		kind: 'video',
		mimeType: 'video/H264',
		clockRate: 90000,
		parameters: {
			'packetization-mode': 1,
			'profile-level-id': '42e01f',
			'level-asymmetry-allowed': 1,
			'x-google-start-bitrate': 1000,
		},
	},
];
