import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoolEncoder, vp8RepeatFrame } from '../src/broadcast/vp8RepeatFrame.js';
import { readIvfFrames, writeIvf } from './support/ivf.js';

// Real libvpx streams (as browsers' realtime encoders make them) with repeat frames put between their frames, decoded
// by real ffmpeg: each repeat must decode to exactly the picture before it, and every frame of the stream after it
// must decode exactly as it does without repeats (nothing the stream relies on was disturbed).

let workDir: string;
beforeAll(async () => {
	workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-vp8repeat-'));
});
afterAll(async () => {
	await fs.rm(workDir, { recursive: true, force: true });
});

function run(command: string, args: string[]): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
		child.once('error', reject);
		child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`))));
	});
}

async function encode(name: string, source: string, extra: string[]): Promise<Buffer[]> {
	const file = path.join(workDir, `${name}.ivf`);
	await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-frames:v', '40', '-c:v', 'libvpx',
		'-deadline', 'realtime', '-cpu-used', '8', '-g', '20', ...extra, '-f', 'ivf', '-y', file]);
	return readIvfFrames(await fs.readFile(file));
}

/** The MD5 of each decoded picture, in order, and what ffmpeg's decoder complained of. */
async function decode(file: string): Promise<string[]> {
	const out = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-xerror', '-i', file, '-f', 'framemd5', '-']);
	return out.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(',').at(-1)!.trim());
}

const cases = [
	// Error resilience turns on libvpx's cyclic refresh: segmentation with a map, as WebRTC's VP8 sends.
	{ name: 'camera 320x180, error resilient', source: 'testsrc2=s=320x180:r=25', extra: ['-b:v', '300k', '-error-resilient', '1'], width: 320, height: 180 },
	{ name: 'odd size 100x58 (partial macroblocks)', source: 'testsrc2=s=100x58:r=25', extra: ['-b:v', '200k'], width: 100, height: 58 },
	{ name: 'screen 1280x720, golden frames, static threshold', source: 'testsrc=s=1280x720:r=25', extra: ['-b:v', '800k', '-static-thresh', '100', '-auto-alt-ref', '0', '-lag-in-frames', '0'], width: 1280, height: 720 },
];

describe('vp8RepeatFrame', () => {
	it.each(cases)('repeats the last picture exactly and leaves the stream decoding as before: $name', async ({ name, source, extra, width, height }) => {
		const slug = name.replace(/\W+/g, '-');
		const frames = await encode(slug, source, extra);
		expect(frames.length).toBe(40);
		const repeat = vp8RepeatFrame({ width, height });
		// Repeats after a keyframe, mid-GOP and before the next keyframe, one to four at a time.
		const withRepeats: Buffer[] = [];
		const plan: (number | 'repeat')[] = [];
		frames.forEach((frame, index) => {
			withRepeats.push(frame);
			plan.push(index);
			const count = index % 9 === 0 ? 4 : index % 5 === 2 ? 1 : index === 19 ? 3 : 0;
			for (let i = 0; i < count; i++) {
				withRepeats.push(repeat);
				plan.push('repeat');
			}
		});
		const [plain, repeated] = await Promise.all([
			decode(await writeIvf(path.join(workDir, `${slug}-plain.ivf`), frames, { width, height })),
			decode(await writeIvf(path.join(workDir, `${slug}-repeated.ivf`), withRepeats, { width, height })),
		]);
		expect(plain.length).toBe(40);
		expect(repeated.length).toBe(plan.length);
		let previous: string | undefined;
		plan.forEach((entry, at) => {
			if (entry === 'repeat') {
				expect(repeated[at], `repeat at ${at}`).toBe(previous);
			} else {
				expect(repeated[at], `frame ${entry}`).toBe(plain[entry]);
				previous = plain[entry];
			}
		});
		// Pictures do change along the stream (else "the same as before" would prove nothing).
		expect(new Set(plain).size).toBeGreaterThan(30);
	});

	it('is small, built once per size, and refuses sizes VP8 cannot code', () => {
		const hd = vp8RepeatFrame({ width: 1920, height: 1080 });
		// 8,160 macroblocks at a fraction of a bit each, plus the header's 1,100-odd almost certain flags.
		expect(hd.length).toBeLessThan(1200);
		expect(vp8RepeatFrame({ width: 1920, height: 1080 })).toBe(hd);
		// The frame tag: an interframe, shown, version 0, first partition size in the upper 19 bits.
		expect(hd[0]! & 0x1f).toBe(0x11);
		expect((hd.readUIntLE(0, 3) >> 5) + 3).toBeLessThan(hd.length);
		expect(vp8RepeatFrame({ width: 1920, height: 1080, version: 1 })[0]! & 0x0e).toBe(0x02);
		for (const bad of [{ width: 0, height: 10 }, { width: 16384, height: 10 }, { width: 10.5, height: 10 }, { width: 10, height: 10, version: 4 }]) {
			expect(() => vp8RepeatFrame(bad)).toThrow(RangeError);
		}
	});

	it('BoolEncoder: what it writes, the RFC 6386 bool decoder reads back, carries included', () => {
		// Bits with skewed and even probabilities, enough to force carries through runs of 0xff.
		let seed = 7;
		const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
		const written: { probability: number; value: boolean }[] = [];
		const encoder = new BoolEncoder();
		for (let i = 0; i < 20_000; i++) {
			const probability = 1 + Math.floor(random() * 255);
			const value = random() * 256 >= probability;
			written.push({ probability, value });
			encoder.writeBool(probability, value);
		}
		const bytes = encoder.finish();
		// RFC 6386 §7.3's decoder.
		let value = (bytes[0]! << 8) | bytes[1]!;
		let at = 2;
		let range = 255;
		let bitCount = 0;
		const read = (probability: number): boolean => {
			const split = 1 + (((range - 1) * probability) >> 8);
			const bigSplit = split << 8;
			let bit: boolean;
			if (value >= bigSplit) {
				bit = true;
				range -= split;
				value -= bigSplit;
			} else {
				bit = false;
				range = split;
			}
			while (range < 128) {
				value <<= 1;
				range <<= 1;
				if (++bitCount === 8) {
					bitCount = 0;
					value |= bytes[at++] ?? 0;
				}
			}
			return bit;
		};
		const mismatches = written.filter((bit) => read(bit.probability) !== bit.value).length;
		expect(mismatches).toBe(0);
		expect(at).toBeLessThanOrEqual(bytes.length + 1);
	});
});
