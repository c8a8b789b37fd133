import { describe, expect, it } from 'vitest';
import { parseVp8Descriptor, readRtpPacket, rewritePictureId, Vp8SlotRelay } from './Vp8SlotRelay.js';

/** The relay's 16×16 black filler keyframe: frame tag (P=0), start code 9d 01 2a, then 16×16. */
const keyframe = Buffer.from('EAIAnQEqEAAQAABHCIWFiIWEiAICAAwNYAD+/6tQgA==', 'base64');
/** An interframe's first bytes: frame tag with P=1, no start code. */
const interframe = Buffer.from([0x31, 0x06, 0x00, 0x1b, 0x22, 0x33]);

const payload = (...parts: (number[] | Buffer)[]): Buffer => Buffer.concat(parts.map((part) => Buffer.from(part)));

describe('parseVp8Descriptor', () => {
	it('reads a 15-bit picture ID and a keyframe start, as libwebrtc and ffmpeg send them', () => {
		const d = parseVp8Descriptor(payload([0x90, 0x80, 0x80 | 0x12, 0x34], keyframe));
		expect(d).toEqual({ length: 4, start: true, partitionIndex: 0, pictureId: { offset: 2, width: 15, value: 0x1234 }, keyframe: true, picture: { width: 16, height: 16, version: 0 } });
	});

	it("reads a keyframe's picture size and version, and none from an undefined version or a packet too short for them", () => {
		const tag = (version: number): number[] => [(version << 1) | 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
		// 1920 (scale bits set, ignored) × 1080.
		const size = [0x80, 0x47, 0x38, 0x04];
		expect(parseVp8Descriptor(payload([0x10], tag(3), size))?.picture).toEqual({ width: 1920, height: 1080, version: 3 });
		expect(parseVp8Descriptor(payload([0x10], tag(5), size))?.picture).toBeUndefined();
		expect(parseVp8Descriptor(payload([0x10], tag(0), size.slice(0, 3)))?.picture).toBeUndefined();
		expect(parseVp8Descriptor(payload([0x10], tag(0), [0, 0, 0x38, 0x04]))?.picture).toBeUndefined();
	});

	it('reads a 7-bit picture ID on an interframe', () => {
		const d = parseVp8Descriptor(payload([0x90, 0x80, 0x05], interframe));
		expect(d).toEqual({ length: 3, start: true, partitionIndex: 0, pictureId: { offset: 2, width: 7, value: 5 }, keyframe: false });
	});

	it('skips TL0PICIDX and the TID/KEYIDX byte before the VP8 data', () => {
		// X, S; I L T; picture ID 0x0102 (M); TL0PICIDX; TID byte; then the keyframe.
		const d = parseVp8Descriptor(payload([0x90, 0xe0, 0x81, 0x02, 0x07, 0x40], keyframe));
		expect(d?.length).toBe(6);
		expect(d?.pictureId).toEqual({ offset: 2, width: 15, value: 0x0102 });
		expect(d?.keyframe).toBe(true);
		expect(d?.temporalLayer).toBe(1);
		expect(d?.nonReference).toBeUndefined();
		// N set, T with TID 2.
		expect(parseVp8Descriptor(payload([0xb0, 0x20, 0x80], interframe))).toMatchObject({ length: 3, nonReference: true, temporalLayer: 2 });
		// K alone also takes one byte, without a picture ID.
		const k = parseVp8Descriptor(payload([0x90, 0x10, 0x03], keyframe));
		expect(k).toEqual({ length: 3, start: true, partitionIndex: 0, keyframe: true, picture: { width: 16, height: 16, version: 0 } });
	});

	it('reads a descriptor without extension (the filler frames)', () => {
		expect(parseVp8Descriptor(payload([0x10], keyframe))).toEqual({ length: 1, start: true, partitionIndex: 0, keyframe: true, picture: { width: 16, height: 16, version: 0 } });
	});

	it('sees no keyframe in a continuation packet, a later partition, or a P=0 byte without the start code', () => {
		// S=0: the middle of a keyframe whose data happens to look like a frame start.
		expect(parseVp8Descriptor(payload([0x80, 0x80, 0x80, 0x01], keyframe))?.keyframe).toBe(false);
		// S=1 but partition 1.
		expect(parseVp8Descriptor(payload([0x11], keyframe))?.keyframe).toBe(false);
		// P=0 but no 9d 01 2a after the tag.
		expect(parseVp8Descriptor(payload([0x10], [0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00]))?.keyframe).toBe(false);
		// P=0 and too short for the start code.
		expect(parseVp8Descriptor(payload([0x10], [0x10, 0x02, 0x00]))?.keyframe).toBe(false);
	});

	it('rejects truncated descriptors and descriptors with no VP8 data', () => {
		for (const bytes of [[], [0x90], [0x90, 0x80], [0x90, 0x80, 0x80], [0x90, 0x80, 0x80, 0x01], [0x90, 0x80, 0x05], [0x10], [0x90, 0x60, 0x01]]) {
			expect(parseVp8Descriptor(Buffer.from(bytes)), JSON.stringify(bytes)).toBeUndefined();
		}
	});
});

describe('rewritePictureId', () => {
	it('rewrites a 15-bit picture ID in place, keeping the M bit and every other byte', () => {
		const p = payload([0x90, 0xe0, 0x81, 0x02, 0x07, 0x40], keyframe);
		const before = Buffer.from(p);
		rewritePictureId(p, parseVp8Descriptor(p)!, 0x7ffe);
		expect(p.subarray(2, 4)).toEqual(Buffer.from([0xff, 0xfe]));
		expect(p.subarray(0, 2)).toEqual(before.subarray(0, 2));
		expect(p.subarray(4)).toEqual(before.subarray(4));
		expect(parseVp8Descriptor(p)?.pictureId?.value).toBe(0x7ffe);
	});

	it('keeps a 7-bit picture ID 7 bits wide (the low bits of the continued count)', () => {
		const p = payload([0x90, 0x80, 0x05], interframe);
		rewritePictureId(p, parseVp8Descriptor(p)!, 0x1234);
		expect(p[2]).toBe(0x34);
		expect(parseVp8Descriptor(p)).toMatchObject({ length: 3, pictureId: { width: 7, value: 0x34 } });
	});

	it('leaves a payload without picture ID alone', () => {
		const p = payload([0x10], keyframe);
		const before = Buffer.from(p);
		rewritePictureId(p, parseVp8Descriptor(p)!, 9);
		expect(p).toEqual(before);
	});
});

describe('readRtpPacket', () => {
	it('reads marker, payload type, sequence number, timestamp and SSRC, and skips a header extension', () => {
		const header = Buffer.from([0x90, 0x80 | 101, 0x12, 0x34, 0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef]);
		const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]);
		const packet = readRtpPacket(Buffer.concat([header, extension, Buffer.from([0x10, 1, 2])]));
		expect(packet).toEqual({ marker: true, payloadType: 101, seq: 0x1234, ts: 12345, ssrc: 0xdeadbeef, payload: Buffer.from([0x10, 1, 2]) });
	});

	it('rejects malformed packets', () => {
		expect(readRtpPacket(Buffer.from([0x80, 0x60]))).toBeUndefined();
		expect(readRtpPacket(Buffer.concat([Buffer.from([0x40]), Buffer.alloc(15)]))).toBeUndefined();
		const badPadding = Buffer.alloc(13);
		badPadding[0] = 0xa0;
		badPadding[12] = 200;
		expect(readRtpPacket(badPadding)).toBeUndefined();
	});
});

describe('Vp8SlotRelay.open', () => {
	it('refuses illegal options before binding anything', async () => {
		const target = { host: '127.0.0.1', rtpPort: 5004 };
		await expect(Vp8SlotRelay.open({ target, payloadType: 128 })).rejects.toThrow(/payloadType/);
		await expect(Vp8SlotRelay.open({ target, payloadType: 96, fps: 0 })).rejects.toThrow(/fps/);
		await expect(Vp8SlotRelay.open({ target, payloadType: 96, freezeMs: Number.NaN })).rejects.toThrow(/freezeMs/);
		await expect(Vp8SlotRelay.open({ target, payloadType: 96, holdMs: 0 })).rejects.toThrow(/holdMs/);
		await expect(Vp8SlotRelay.open({ target: { host: '127.0.0.1', rtpPort: 0 }, payloadType: 96 })).rejects.toThrow(/rtpPort/);
	});
});
