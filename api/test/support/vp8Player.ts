import dgram from 'node:dgram';
import type { types } from 'mediasoup';

/** A VP8 clip played into a producer's PlainTransport: what it was asked for and what it answered. */
export interface Vp8Player {
	/** Keyframe requests (RTCP PLI or FIR) received, answered or not. */
	readonly requests: number;
	/** Requests answered by starting the clip over from its keyframe. */
	readonly answered: number;
	/** Stops sending and closes the socket and the transport. Idempotent. */
	close(): void;
}

export interface Vp8PlayerOptions {
	/** VP8 frames (the first a keyframe), e.g. from `readIvfFrames`. */
	frames: readonly Buffer[];
	fps: number;
	ssrc: number;
	/** Payload type the producer declares. Default 101. */
	payloadType?: number;
	/** After the last frame: start over (a looping camera) or hold the last frame (a still screen). */
	atEnd: 'loop' | 'hold';
	/** The first requests left unanswered (a keyframe lost on the way). Default 0. */
	ignoreRequests?: number;
	ip?: string;
}

/**
 * Plays a VP8 clip as a browser sends video: on a clock, packetised with RFC 7741 descriptors carrying a 15-bit
 * picture ID (mediasoup forwards no VP8 without one), into a comedia PlainTransport; a keyframe request (which
 * mediasoup sends back on the socket it learnt) starts the clip over from its keyframe.
 */
export async function playVp8Clip(transport: types.PlainTransport, options: Vp8PlayerOptions): Promise<Vp8Player> {
	const ip = options.ip ?? '127.0.0.1';
	const payloadType = options.payloadType ?? 101;
	const { frames, fps, ssrc } = options;
	const socket = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => socket.bind(0, ip, resolve));
	let requests = 0;
	let answered = 0;
	let next = 0;
	let seq = 1000 + (ssrc % 1000);
	let timestamp = 10_000;
	let pictureId = 0;
	let closed = false;
	socket.on('message', (packet) => {
		if (!hasKeyframeRequest(packet)) return;
		requests++;
		if (requests <= (options.ignoreRequests ?? 0)) return;
		answered++;
		next = 0;
	});
	const timer = setInterval(() => {
		const frame = frames[next]!;
		// Held at the end, the last inter frame is sent again: a still picture's frames barely change it.
		next = options.atEnd === 'loop' ? (next + 1) % frames.length : Math.min(next + 1, frames.length - 1);
		timestamp = (timestamp + 90000 / fps) >>> 0;
		pictureId = (pictureId + 1) & 0x7fff;
		const maxPayload = 1000;
		for (let offset = 0; offset < frame.length; offset += maxPayload) {
			const last = offset + maxPayload >= frame.length;
			const header = Buffer.alloc(16);
			header[0] = 0x80;
			header[1] = (last ? 0x80 : 0) | payloadType;
			header.writeUInt16BE(seq, 2);
			seq = (seq + 1) & 0xffff;
			header.writeUInt32BE(timestamp, 4);
			header.writeUInt32BE(ssrc, 8);
			// VP8 payload descriptor (RFC 7741): extended, S=1 on a frame's first packet, partition 0, 15-bit picture ID.
			header[12] = offset === 0 ? 0x90 : 0x80;
			header[13] = 0x80;
			header.writeUInt16BE(0x8000 | pictureId, 14);
			socket.send(Buffer.concat([header, frame.subarray(offset, offset + maxPayload)]), transport.tuple.localPort, ip);
		}
	}, 1000 / fps);
	return {
		get requests() {
			return requests;
		},
		get answered() {
			return answered;
		},
		close() {
			if (closed) return;
			closed = true;
			clearInterval(timer);
			socket.close();
			transport.close();
		},
	};
}

/** The frames of an IVF file (libvpx's container), in order. */
export function readIvfFrames(file: Buffer): Buffer[] {
	const frames: Buffer[] = [];
	let offset = file.readUInt16LE(6); // header length, 32
	while (offset + 12 <= file.length) {
		const size = file.readUInt32LE(offset);
		frames.push(file.subarray(offset + 12, offset + 12 + size));
		offset += 12 + size;
	}
	return frames;
}

/** Whether an RTCP (compound) packet holds a PLI (PSFB, FMT 1) or a FIR (PSFB, FMT 4). */
export function hasKeyframeRequest(packet: Buffer): boolean {
	let offset = 0;
	while (offset + 4 <= packet.length) {
		const fmt = packet[offset]! & 0x1f;
		const type = packet[offset + 1]!;
		if (type === 206 && (fmt === 1 || fmt === 4)) return true;
		offset += (packet.readUInt16BE(offset + 2) + 1) * 4;
	}
	return false;
}
