import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Debian's flite voices at 16 kHz (`kal` is an 8 kHz diphone voice; `kal16` is its 16 kHz version). */
export const fliteVoices = ['slt', 'kal16', 'awb', 'rms'] as const;
export type FliteVoice = (typeof fliteVoices)[number];

/**
 * `text` spoken by a flite voice as 16 kHz mono s16 PCM, the caption engines' input. Text goes to flite as an
 * argument, never through a shell; ffmpeg resamples (flite's rms and awb voices are 16 kHz already, but the
 * resampler makes that an assumption we do not depend on).
 */
export function fliteSpeech(dir: string, name: string, text: string, voice: FliteVoice): Int16Array {
	const wav = path.join(dir, `${name}.wav`);
	const raw = path.join(dir, `${name}.s16`);
	execFileSync('flite', ['-voice', voice, '-t', text, '-o', wav]);
	execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', wav, '-ac', '1', '-ar', '16000', '-f', 's16le', '-c:a', 'pcm_s16le', raw]);
	const bytes = fs.readFileSync(raw);
	// A fresh, aligned copy: Buffer pools may start at odd offsets.
	const samples = new Int16Array(bytes.length / 2);
	for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
	return samples;
}

/** Digital silence, `ms` long. */
export function silence(ms: number): Int16Array {
	return new Int16Array(Math.round(ms * 16));
}

/** White noise at about `dbfs` RMS (a room behind a microphone), deterministic. */
export function noise(ms: number, dbfs: number, seed = 1): Int16Array {
	const rms = 10 ** (dbfs / 20) * 32768;
	// Uniform noise in [-a, a] has RMS a/√3.
	const a = rms * Math.sqrt(3);
	let state = seed >>> 0 || 1;
	return Int16Array.from({ length: Math.round(ms * 16) }, () => {
		state ^= state << 13;
		state ^= state >>> 17;
		state ^= state << 5;
		return Math.round(((state >>> 0) / 0xffffffff) * 2 * a - a);
	});
}

export function concatPcm(...parts: Int16Array[]): Int16Array {
	const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
	let offset = 0;
	for (const p of parts) {
		out.set(p, offset);
		offset += p.length;
	}
	return out;
}

/**
 * Where speech really starts and ends in `samples`, ms: the first and last 10 ms window above `dbfs` RMS. flite
 * pads its output with a little silence, which must not count as part of the utterance.
 */
export function speechSpanMs(samples: Int16Array, dbfs = -40): { startMs: number; endMs: number } {
	const threshold = (10 ** (dbfs / 20) * 32768) ** 2;
	let first = -1;
	let last = -1;
	for (let w = 0; (w + 1) * 160 <= samples.length; w++) {
		let sum = 0;
		for (let i = w * 160; i < (w + 1) * 160; i++) sum += samples[i]! * samples[i]!;
		if (sum / 160 >= threshold) {
			if (first < 0) first = w;
			last = w;
		}
	}
	if (first < 0) throw new Error('no speech in these samples');
	return { startMs: first * 10, endMs: (last + 1) * 10 };
}
