import { describe, expect, it } from 'vitest';
import { defaultScreenShareLimits, ScreenShareMeter } from './ScreenShareGuard.js';
import { readVp8Packet } from './vp8Frames.js';

/** An RTP packet (one header extension word, marker as given) carrying a VP8 payload descriptor and `payload`. */
function rtp(payload: number[], { marker = false, descriptor = [0x90, 0x80, 0x12] } = {}): Uint8Array {
	const header = [0x90, (marker ? 0x80 : 0) | 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
	const extension = [0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0];
	return Uint8Array.from([...header, ...extension, ...descriptor, ...payload]);
}

/** A VP8 keyframe's first bytes (RFC 6386 §9.1): frame tag (P = 0), start code, 14-bit width and height. */
const keyframeHeader = (width: number, height: number) => [0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, width & 0xff, width >> 8, height & 0xff, height >> 8, 0, 0];

describe('readVp8Packet()', () => {
	it('reads the size of a keyframe after a payload descriptor with a picture id and a header extension', () => {
		expect(readVp8Packet(rtp(keyframeHeader(1920, 1080), { marker: true }))).toEqual({ endOfFrame: true, payloadBytes: 15, keyframe: { width: 1920, height: 1080 } });
	});

	it('says nothing of size for an interframe, or a packet that does not start the frame', () => {
		const inter = keyframeHeader(1920, 1080);
		inter[0] = 0x51;
		expect(readVp8Packet(rtp(inter))?.keyframe).toBeUndefined();
		expect(readVp8Packet(rtp(keyframeHeader(4000, 4000), { descriptor: [0x80, 0x80, 0x12] }))?.keyframe).toBeUndefined();
	});

	it('refuses what is not RTP or is cut short', () => {
		expect(readVp8Packet(Uint8Array.from([0x80, 96, 0, 1]))).toBeUndefined();
		expect(readVp8Packet(Uint8Array.from([0x40, ...new Array(20).fill(0)]))).toBeUndefined();
		expect(readVp8Packet(rtp([]).slice(0, 21))).toBeUndefined();
	});
});

describe('ScreenShareMeter', () => {
	it('ends a share whose keyframe is larger than the limits, portrait or landscape', () => {
		const meter = new ScreenShareMeter(defaultScreenShareLimits);
		expect(meter.add({ endOfFrame: true, payloadBytes: 100, keyframe: { width: 1080, height: 1920 } }, 0)).toBeUndefined();
		expect(meter.add({ endOfFrame: true, payloadBytes: 100, keyframe: { width: 2560, height: 1440 } }, 10)).toEqual({ reason: 'too_large', width: 2560, height: 1440 });
	});

	it('lets 15 fps at 2.5 Mb/s through and ends 60 fps', () => {
		const steady = new ScreenShareMeter(defaultScreenShareLimits);
		// 15 frames a second of 20,833 bytes (2.5 Mb/s) for 12 s.
		for (let i = 0; i < 15 * 12; i++) expect(steady.add({ endOfFrame: true, payloadBytes: 20_833 }, (i * 1000) / 15)).toBeUndefined();
		const fast = new ScreenShareMeter(defaultScreenShareLimits);
		const verdicts = Array.from({ length: 60 * 6 }, (_, i) => fast.add({ endOfFrame: true, payloadBytes: 1000 }, (i * 1000) / 60)).filter(Boolean);
		expect(verdicts[0]).toMatchObject({ reason: 'too_fast', frameRate: 60 });
	});

	it('ends a share that sends past its bitrate at a low frame rate', () => {
		const meter = new ScreenShareMeter(defaultScreenShareLimits);
		const verdicts = Array.from({ length: 5 * 7 }, (_, i) => meter.add({ endOfFrame: true, payloadBytes: 200_000 }, i * 200)).filter(Boolean);
		expect(verdicts[0]).toMatchObject({ reason: 'too_fast' });
	});
});
