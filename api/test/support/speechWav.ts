import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Writes a 48 kHz mono 16-bit WAV of `text` spoken by espeak-ng (for a fake microphone or a synthetic speaker).
 * Text is passed as an argument, never through a shell.
 */
export function speechWav(dir: string, name: string, text: string, voice = 'en'): string {
	const raw = path.join(dir, `${name}.raw.wav`);
	const out = path.join(dir, `${name}.wav`);
	execFileSync('espeak-ng', ['-v', voice, '-s', '160', '-w', raw, text]);
	execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', raw, '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', out]);
	return out;
}

/** Writes `seconds` of digital silence as a 48 kHz mono 16-bit WAV. */
export function silenceWav(dir: string, name: string, seconds: number): string {
	const out = path.join(dir, `${name}.wav`);
	execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `anullsrc=r=48000:cl=mono`, '-t', String(seconds), '-c:a', 'pcm_s16le', out]);
	return out;
}
