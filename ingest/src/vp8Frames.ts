/**
 * Just enough of RTP (RFC 3550) and the VP8 payload format (RFC 7741) to see, from one packet, whether it ends a
 * frame and, at the start of a keyframe, the frame's size. Ingest uses it to hold a screen share to its bounds: the
 * browser's encoder settings are the client's word, the keyframe header is what the transcoder will decode.
 */

export interface Vp8PacketInfo {
	/** RTP marker bit: the last packet of a frame. */
	endOfFrame: boolean;
	/** The RTP payload's size in bytes. */
	payloadBytes: number;
	/** Set on the first packet of a keyframe: its size in pixels (the 14-bit fields; scaling bits ignored). */
	keyframe?: { width: number; height: number };
}

/** Reads one RTP packet carrying VP8. Undefined when it is too short or malformed to read. */
export function readVp8Packet(packet: Uint8Array): Vp8PacketInfo | undefined {
	if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
	const padding = (packet[0]! & 0x20) !== 0;
	const extension = (packet[0]! & 0x10) !== 0;
	const csrcCount = packet[0]! & 0x0f;
	const endOfFrame = (packet[1]! & 0x80) !== 0;
	let offset = 12 + 4 * csrcCount;
	if (extension) {
		if (packet.length < offset + 4) return undefined;
		offset += 4 + 4 * ((packet[offset + 2]! << 8) | packet[offset + 3]!);
	}
	let end = packet.length;
	if (padding) end -= packet[packet.length - 1]!;
	if (offset >= end) return undefined;
	const payloadBytes = end - offset;
	const info: Vp8PacketInfo = { endOfFrame, payloadBytes };
	// Payload descriptor (RFC 7741 §4.2): X R N S R PID, then the optional extension bytes.
	const first = packet[offset]!;
	const startOfPartition = (first & 0x10) !== 0;
	const partitionIndex = first & 0x07;
	let p = offset + 1;
	if (first & 0x80) {
		if (p >= end) return undefined;
		const ext = packet[p++]!;
		if (ext & 0x80) {
			if (p >= end) return undefined;
			p += packet[p]! & 0x80 ? 2 : 1;
		}
		if (ext & 0x40) p += 1;
		if (ext & 0x30) p += 1;
	}
	if (!startOfPartition || partitionIndex !== 0) return info;
	// Payload header (RFC 7741 §4.3, RFC 6386 §9.1): P = 0 is a keyframe, then start code 9d 01 2a and the size.
	if (p + 10 > end) return info;
	if ((packet[p]! & 0x01) !== 0) return info;
	if (packet[p + 3] !== 0x9d || packet[p + 4] !== 0x01 || packet[p + 5] !== 0x2a) return info;
	const width = (packet[p + 6]! | (packet[p + 7]! << 8)) & 0x3fff;
	const height = (packet[p + 8]! | (packet[p + 9]! << 8)) & 0x3fff;
	return { ...info, keyframe: { width, height } };
}
