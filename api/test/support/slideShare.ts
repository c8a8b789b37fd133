import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types } from 'mediasoup';
import { playVp8Clip, readIvfFrames } from './vp8Player.js';

const execFileAsync = promisify(execFile);
const fontFile = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** The slide's size: a 1080p screen. */
export const slideSize = { width: 1920, height: 1080 } as const;

/** One line of known text on the slide: its font size and where its top is, in slide pixels. */
export interface SlideLine {
	text: string;
	/** drawtext font size, px on the 1080p slide. */
	sizePx: number;
	/** Top of the line's box, px from the slide's top. */
	y: number;
}

/**
 * The slide every bench shares: black text on white in DejaVu Sans at 48, 32, 24 and 16 px, each size on its own
 * lines, words and figures a talk's slide would hold (no line repeats another, so OCR cannot borrow from a neighbour).
 */
export const slideLines: readonly SlideLine[] = Object.freeze([
	{ text: 'Tribune: live stage talks for everyone', sizePx: 48, y: 80 },
	{ text: 'Latency budget: 2.5 s from glass to glass', sizePx: 32, y: 220 },
	{ text: 'Origins cache parts for 10 s at most', sizePx: 32, y: 290 },
	{ text: 'Each part lasts 200 ms and a segment lasts 1 s.', sizePx: 24, y: 420 },
	{ text: 'Speakers share slides while listeners read them.', sizePx: 24, y: 470 },
	{ text: 'Quarterly listeners grew 37% to 4,812 in Q3 2026.', sizePx: 24, y: 520 },
	{ text: 'Small print: packager, origin and player keep time together.', sizePx: 16, y: 650 },
	{ text: 'Footnote 7: figures measured on a 2-core machine, 5 Dec.', sizePx: 16, y: 690 },
]);

/** Left edge of every line, px on the slide. */
export const slideMarginPx = 96;

/** Draws the slide as a PNG (each line from its own text file: drawtext never parses the text). */
export async function drawSlide(dir: string): Promise<string> {
	const png = path.join(dir, 'slide.png');
	const filters: string[] = [];
	for (const [i, line] of slideLines.entries()) {
		const file = path.join(dir, `slide-line-${i}.txt`);
		await fs.writeFile(file, line.text);
		filters.push(`drawtext=fontfile=${fontFile}:textfile=${file}:expansion=none:fontsize=${line.sizePx}:fontcolor=black:x=${slideMarginPx}:y=${line.y}`);
	}
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `color=c=white:s=${slideSize.width}x${slideSize.height}:r=1`, '-vf', filters.join(','), '-frames:v', '1', png,
	]);
	return png;
}

/** A browser's screen share of the slide, encoded once: VP8 frames (one keyframe first) and their rate. */
export interface SlideClip {
	fps: number;
	frames: Buffer[];
}

/**
 * Encodes 20 s of the still slide with a single keyframe (a keyframe comes only when asked for): good-quality realtime
 * libvpx at the share's bit rate, as a browser's screen-content encoder (it refines a still picture over its first
 * frames). Default 15 fps (the ingest's bound for shares), 2500 kbit/s.
 */
export async function encodeSlideClip(dir: string, slide: string, options: { fps?: number; kbps?: number } = {}): Promise<SlideClip> {
	const fps = options.fps ?? 15;
	const clip = path.join(dir, `slide-share-${fps}-${options.kbps ?? 2500}.ivf`);
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', String(fps), '-i', slide, '-t', '20', '-pix_fmt', 'yuv420p',
		'-c:v', 'libvpx', '-threads', '2', '-deadline', 'realtime', '-cpu-used', '4', '-b:v', `${options.kbps ?? 2500}k`, '-qmin', '2', '-qmax', '40',
		'-g', '100000', '-keyint_min', '100000', '-auto-alt-ref', '0', '-lag-in-frames', '0', clip,
	]);
	return { fps, frames: readIvfFrames(await fs.readFile(clip)) };
}

export interface SlideShare {
	producer: types.Producer;
	/** Keyframe requests (PLI or FIR) the share received; each was answered with a keyframe. */
	readonly requests: number;
	/** Stops sending and closes the producer's transport. Idempotent. */
	close(): void;
}

/**
 * A browser's screen share of the slide, as the broadcast receives it: VP8 at `fps` (a browser bounded to 15 fps
 * sends its still screen's frames on a clock), one keyframe when it starts and then one per keyframe request (RTCP
 * PLI or FIR) only, inter frames otherwise. The clip (`encodeSlideClip`) is played on a producer of `router` through a
 * PlainTransport; a request starts the clip over from its keyframe.
 */
export async function startSlideShare(router: types.Router, options: { clip: SlideClip; ssrc: number; ip?: string }): Promise<SlideShare> {
	const ip = options.ip ?? '127.0.0.1';
	const { fps, frames } = options.clip;
	const transport = await router.createPlainTransport({ listenIp: ip, rtcpMux: true, comedia: true });
	const producer = await transport.produce({
		kind: 'video',
		rtpParameters: {
			codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
			encodings: [{ ssrc: options.ssrc }],
		},
		appData: { source: 'screen' },
	});
	const player = await playVp8Clip(transport, { frames, fps, ssrc: options.ssrc, atEnd: 'hold', ip });
	return {
		producer,
		get requests() {
			return player.requests;
		},
		close: () => player.close(),
	};
}

/** Where a line of the slide lands in a frame that shows the slide fitted in `picture` (px of that frame). */
export function lineCrop(line: SlideLine, picture: { x: number; y: number; width: number; height: number }): { x: number; y: number; width: number; height: number } {
	const scale = picture.width / slideSize.width;
	// The line's box with a margin of half its size around it (glyphs reach above and below the font size).
	const top = line.y - line.sizePx * 0.5;
	const height = line.sizePx * 2;
	const even = (v: number) => Math.max(2, Math.round(v / 2) * 2);
	return {
		x: even(picture.x + (slideMarginPx - line.sizePx) * scale),
		y: even(picture.y + top * scale),
		width: even((slideSize.width - 2 * slideMarginPx + 2 * line.sizePx) * scale),
		height: even(height * scale),
	};
}

/**
 * Character accuracy of `read` against `truth`: 1 − edit distance / length of the truth (spaces collapsed, ends
 * trimmed), never below 0. Case and punctuation count.
 */
export function characterAccuracy(read: string, truth: string): number {
	const a = read.replace(/\s+/g, ' ').trim();
	const b = truth.replace(/\s+/g, ' ').trim();
	let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const row = [i];
		for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
		previous = row;
	}
	return Math.max(0, 1 - previous[b.length]! / b.length);
}

/**
 * Reads one line of a decoded frame (a PNG or any picture ffmpeg reads) with Debian's tesseract: the crop scaled up
 * 3× with lanczos and made grey first (tesseract reads text of about 20–30 px best), page segmentation as one line.
 */
export async function readLine(dir: string, frame: string, crop: { x: number; y: number; width: number; height: number }, name: string): Promise<string> {
	const png = path.join(dir, `${name}.png`);
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-i', frame, '-vf', `crop=${crop.width}:${crop.height}:${crop.x}:${crop.y},scale=iw*3:ih*3:flags=lanczos,format=gray`, '-frames:v', '1', png,
	]);
	const { stdout } = await execFileAsync('tesseract', [png, 'stdout', '--psm', '7', '-l', 'eng'], { timeout: 30_000 });
	return stdout.trim();
}
