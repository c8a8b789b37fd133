import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types } from 'mediasoup';

const execFileAsync = promisify(execFile);

export interface PliCamera {
	producer: types.Producer;
	/** Keyframe requests (PLI or FIR) the camera received, answered or not. */
	readonly requests: number;
	/** Keyframes it sent in answer to a request. */
	readonly answered: number;
	close(): void;
}

/**
 * A camera that behaves like a browser's for keyframes: it sends one keyframe when it starts and then only when asked
 * (RTCP PLI or FIR), unlike the synthetic speakers' ffmpeg, which ignores requests and sends them on a clock. It
 * plays a VP8 clip (one keyframe, then only inter frames) encoded once by ffmpeg, and answers a request by starting
 * the clip over. `ignoreRequests` leaves the first requests unanswered: the keyframe lost on the way.
 */
export async function startPliCamera(router: types.Router, options: { dir: string; ssrc: number; ignoreRequests: number; ip?: string }): Promise<PliCamera> {
	const ip = options.ip ?? '127.0.0.1';
	const fps = 15;
	const clip = path.join(options.dir, `pli-camera-${options.ssrc}.ivf`);
	// 40 s without a keyframe: longer than any test waits, so a keyframe only comes when asked for.
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${fps}`, '-t', '40',
		'-c:v', 'libvpx', '-threads', '1', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k',
		'-g', '100000', '-keyint_min', '100000', '-auto-alt-ref', '0', '-lag-in-frames', '0', clip,
	]);
	const frames = readIvfFrames(await fs.readFile(clip));
	const transport = await router.createPlainTransport({ listenIp: ip, rtcpMux: true, comedia: true });
	const producer = await transport.produce({
		kind: 'video',
		rtpParameters: {
			codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
			encodings: [{ ssrc: options.ssrc }],
		},
	});
	const socket = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => socket.bind(0, ip, resolve));
	let requests = 0;
	let answered = 0;
	let next = 0;
	let seq = 1000 + (options.ssrc % 1000);
	let timestamp = 10_000;
	let pictureId = 0;
	socket.on('message', (packet) => {
		if (!hasKeyframeRequest(packet)) return;
		requests++;
		if (requests <= options.ignoreRequests) return;
		answered++;
		next = 0;
	});
	const timer = setInterval(() => {
		const frame = frames[next]!;
		next = (next + 1) % frames.length;
		timestamp = (timestamp + 90000 / fps) >>> 0;
		pictureId = (pictureId + 1) & 0x7fff;
		const maxPayload = 1000;
		for (let offset = 0; offset < frame.length; offset += maxPayload) {
			const last = offset + maxPayload >= frame.length;
			const header = Buffer.alloc(16);
			header[0] = 0x80;
			header[1] = (last ? 0x80 : 0) | 101;
			header.writeUInt16BE(seq, 2);
			seq = (seq + 1) & 0xffff;
			header.writeUInt32BE(timestamp, 4);
			header.writeUInt32BE(options.ssrc, 8);
			// VP8 payload descriptor (RFC 7741): extended, S=1 on the first packet of a frame, partition 0, and a 15-bit
			// picture ID, as browsers send it (mediasoup forwards no VP8 without one).
			header[12] = offset === 0 ? 0x90 : 0x80;
			header[13] = 0x80;
			header.writeUInt16BE(0x8000 | pictureId, 14);
			socket.send(Buffer.concat([header, frame.subarray(offset, offset + maxPayload)]), transport.tuple.localPort, ip);
		}
	}, 1000 / fps);
	return {
		producer,
		get requests() {
			return requests;
		},
		get answered() {
			return answered;
		},
		close() {
			clearInterval(timer);
			socket.close();
			transport.close();
		},
	};
}

function readIvfFrames(file: Buffer): Buffer[] {
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
function hasKeyframeRequest(packet: Buffer): boolean {
	let offset = 0;
	while (offset + 4 <= packet.length) {
		const fmt = packet[offset]! & 0x1f;
		const type = packet[offset + 1]!;
		if (type === 206 && (fmt === 1 || fmt === 4)) return true;
		offset += (packet.readUInt16BE(offset + 2) + 1) * 4;
	}
	return false;
}
