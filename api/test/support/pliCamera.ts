import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types } from 'mediasoup';
import { playVp8Clip, readIvfFrames } from './vp8Player.js';

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
	const player = await playVp8Clip(transport, { frames, fps, ssrc: options.ssrc, atEnd: 'loop', ignoreRequests: options.ignoreRequests, ip });
	return {
		producer,
		get requests() {
			return player.requests;
		},
		get answered() {
			return player.answered;
		},
		close: () => player.close(),
	};
}
