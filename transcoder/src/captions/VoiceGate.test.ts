import { describe, expect, it } from 'vitest';
import { type PcmFrame } from './pcmFrames.js';
import { VoiceGate } from './VoiceGate.js';

/** A 20 ms window at `dbfs` RMS (a square wave, whose RMS equals its amplitude). */
function level(dbfs: number, ms = 20): Int16Array {
	const amplitude = Math.round(10 ** (dbfs / 20) * 32768);
	return Int16Array.from({ length: (ms * 16_000) / 1000 }, (_, i) => (i % 2 === 0 ? amplitude : -amplitude));
}

const describeFrames = (frames: PcmFrame[]): string[] =>
	frames.map((f) => (f.kind === 'audio' ? `audio@${f.streamSample}+${f.samples.length}` : `pause@${f.streamSample}`));

describe('VoiceGate', () => {
	it('passes nothing while the speaker is silent or under the threshold', () => {
		const gate = new VoiceGate({ openAboveDbfs: -50 });
		expect(gate.push(new Int16Array(16_000))).toEqual([]);
		expect(gate.push(level(-60, 1000))).toEqual([]);
		expect(gate.isOpen).toBe(false);
	});

	it('opens on a loud window and sends the pre-roll ahead of it as one contiguous frame', () => {
		const gate = new VoiceGate({ openAboveDbfs: -50, preRollMs: 100 });
		gate.push(level(-70, 1000));
		const frames = gate.push(level(-30, 20));
		// 100 ms of pre-roll (samples 14400–16000) and the loud window right after it.
		expect(describeFrames(frames)).toEqual(['audio@14400+1920']);
		expect(gate.isOpen).toBe(true);
	});

	it('stays open through the hangover, then closes with a pause at the stream position', () => {
		const gate = new VoiceGate({ openAboveDbfs: -50, preRollMs: 0, hangoverMs: 200 });
		expect(describeFrames(gate.push(level(-30, 100)))).toEqual(['audio@0+1600']);
		expect(describeFrames(gate.push(level(-70, 100)))).toEqual(['audio@1600+1600']);
		expect(describeFrames(gate.push(level(-70, 200)))).toEqual(['audio@3200+1600', 'pause@4800']);
		expect(gate.isOpen).toBe(false);
		expect(gate.push(level(-70, 100))).toEqual([]);
	});

	it('keeps the stream position across odd chunk sizes, carrying partial windows to the next call', () => {
		const gate = new VoiceGate({ openAboveDbfs: -50, preRollMs: 0 });
		expect(gate.push(level(-30, 10))).toEqual([]);
		const frames = gate.push(level(-30, 30));
		expect(describeFrames(frames)).toEqual(['audio@0+640']);
	});

	it('with openAboveDbfs -Infinity passes everything, digital silence included', () => {
		const gate = new VoiceGate({ openAboveDbfs: -Infinity });
		expect(describeFrames(gate.push(new Int16Array(3200)))).toEqual(['audio@0+3200']);
	});

	it('rejects a threshold above full scale', () => {
		expect(() => new VoiceGate({ openAboveDbfs: 3 })).toThrow(/openAboveDbfs/);
	});
});
