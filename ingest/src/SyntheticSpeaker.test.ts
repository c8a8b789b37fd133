import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcmWav, writeRotatedWav } from './SyntheticSpeaker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-synthetic-wav-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A 16 kHz mono s16 WAV whose sample i is i (mod 32768), with a LIST chunk before the data as some tools write. */
function wav(samples: number, list = false): string {
	const file = path.join(dir, `w-${samples}-${list}.wav`);
	const fmt = Buffer.alloc(24);
	fmt.write('fmt ', 0, 'ascii');
	fmt.writeUInt32LE(16, 4);
	fmt.writeUInt16LE(1, 8);
	fmt.writeUInt16LE(1, 10);
	fmt.writeUInt32LE(16_000, 12);
	fmt.writeUInt32LE(32_000, 16);
	fmt.writeUInt16LE(2, 20);
	fmt.writeUInt16LE(16, 22);
	const listChunk = list ? Buffer.concat([Buffer.from('LIST', 'ascii'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0', 'ascii')]) : Buffer.alloc(0);
	const data = Buffer.alloc(8 + samples * 2);
	data.write('data', 0, 'ascii');
	data.writeUInt32LE(samples * 2, 4);
	for (let i = 0; i < samples; i++) data.writeInt16LE(i % 32768, 8 + i * 2);
	const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, listChunk, data]);
	const riff = Buffer.alloc(8);
	riff.write('RIFF', 0, 'ascii');
	riff.writeUInt32LE(body.length, 4);
	fs.writeFileSync(file, Buffer.concat([riff, body]));
	return file;
}

function samplesOf(file: string): number[] {
	const { data } = readPcmWav(file);
	return Array.from({ length: data.length / 2 }, (_, i) => data.readInt16LE(i * 2));
}

describe('a conversation loop played from where the conversation is now', () => {
	it('starts at the elapsed time modulo the loop, wraps round, and keeps the WAV valid', () => {
		const source = wav(16_000, true);
		const played = path.join(dir, 'played.wav');
		// 1.25 s into a 1 s loop: a quarter of the way through.
		writeRotatedWav(source, played, 1250);
		const out = samplesOf(played);
		expect(out.length).toBe(16_000);
		expect(out.slice(0, 3)).toEqual([4000, 4001, 4002]);
		expect(out.slice(11_999, 12_001)).toEqual([15_999, 0]);
		expect(out.at(-1)).toBe(3999);
		const bytes = fs.readFileSync(played);
		expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
	});

	it('plays from the start when the conversation has not started yet or a loop has just ended', () => {
		const source = wav(800);
		const played = path.join(dir, 'played-2.wav');
		writeRotatedWav(source, played, -500);
		expect(samplesOf(played).slice(0, 2)).toEqual([0, 1]);
		writeRotatedWav(source, played, 50 * 3);
		expect(samplesOf(played).slice(0, 2)).toEqual([0, 1]);
	});

	it('refuses what is not 16-bit PCM WAV', () => {
		const text = path.join(dir, 'not.wav');
		fs.writeFileSync(text, 'hello, this is not audio at all');
		expect(() => readPcmWav(text)).toThrow(/not a WAV file/);
		const empty = wav(0);
		expect(() => readPcmWav(empty)).toThrow(/no audio/);
	});
});
