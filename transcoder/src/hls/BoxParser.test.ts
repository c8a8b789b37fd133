import { describe, expect, it } from 'vitest';
import { BoxParser } from './BoxParser.js';

function box(type: string, payloadBytes: number): Buffer {
	const bytes = Buffer.alloc(8 + payloadBytes, 0xab);
	bytes.writeUInt32BE(8 + payloadBytes, 0);
	bytes.write(type, 4, 'latin1');
	return bytes;
}

describe('BoxParser', () => {
	it('returns each box as soon as its last byte arrives, whatever the chunking', () => {
		const stream = Buffer.concat([box('ftyp', 20), box('moov', 100), box('moof', 50), box('mdat', 1000)]);
		for (const chunkSize of [1, 3, 7, 64, 5000]) {
			const parser = new BoxParser();
			const seen: string[] = [];
			for (let i = 0; i < stream.length; i += chunkSize) {
				for (const b of parser.push(stream.subarray(i, i + chunkSize))) seen.push(`${b.type}:${b.bytes.length}`);
			}
			expect(seen).toEqual(['ftyp:28', 'moov:108', 'moof:58', 'mdat:1008']);
			expect(parser.bufferedBytes).toBe(0);
		}
	});

	it('holds only the box in progress', () => {
		const parser = new BoxParser();
		expect(parser.push(Buffer.concat([box('moof', 10), box('mdat', 100).subarray(0, 40)])).map((b) => b.type)).toEqual(['moof']);
		expect(parser.bufferedBytes).toBe(40);
	});

	it('reads 64-bit box sizes', () => {
		const large = Buffer.alloc(16 + 4, 1);
		large.writeUInt32BE(1, 0);
		large.write('mdat', 4, 'latin1');
		large.writeBigUInt64BE(20n, 8);
		const parser = new BoxParser();
		expect(parser.push(large.subarray(0, 10))).toEqual([]);
		expect(parser.push(large.subarray(10)).map((b) => b.bytes.length)).toEqual([20]);
	});

	it('rejects a box larger than the limit instead of buffering it', () => {
		const parser = new BoxParser({ maxBoxBytes: 1024 });
		expect(() => parser.push(box('mdat', 2000).subarray(0, 16))).toThrow(/exceeds the 1024-byte limit/);
	});

	it('rejects a box size below its header', () => {
		const bad = box('moof', 0);
		bad.writeUInt32BE(4, 0);
		expect(() => new BoxParser().push(bad)).toThrow(/invalid MP4 box size 4/);
	});
});
