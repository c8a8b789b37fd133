import { describe, expect, it } from 'vitest';
import { encodePcmFrame, PcmFrameReader, type PcmFrame } from './pcmFrames.js';

describe('PCM frames', () => {
	it('round-trips audio and pause frames through a byte stream cut at every offset', () => {
		const frames: PcmFrame[] = [
			{ kind: 'audio', streamSample: 0, samples: Int16Array.from([1, -1, 32767, -32768]) },
			{ kind: 'pause', streamSample: 4 },
			{ kind: 'audio', streamSample: 160_000, samples: Int16Array.from([7]) },
		];
		const bytes = Buffer.concat(frames.map(encodePcmFrame));
		for (let cut = 0; cut <= bytes.length; cut++) {
			const reader = new PcmFrameReader();
			const out = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
			expect(out).toEqual(frames);
			expect(reader.pendingBytes).toBe(0);
		}
	});

	it('rejects a header that cannot be a frame instead of waiting forever for its body', () => {
		const bad = encodePcmFrame({ kind: 'pause', streamSample: 0 });
		bad.writeUInt8(9, 0);
		expect(() => new PcmFrameReader().push(bad)).toThrow(/malformed PCM frame/);
		const huge = encodePcmFrame({ kind: 'pause', streamSample: 0 });
		huge.writeUInt8(1, 0);
		huge.writeUInt32LE(2 ** 31, 4);
		expect(() => new PcmFrameReader().push(huge)).toThrow(/malformed PCM frame/);
	});
});
