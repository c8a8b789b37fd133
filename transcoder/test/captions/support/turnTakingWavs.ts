import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FliteVoice } from './fliteSpeech.js';

/** One speaker's part in a conversation: their WAV, and when they speak within one loop of it. */
export interface TurnTakingPart {
	wav: string;
	/** Start and end of their speech within the loop, seconds. */
	speechS: { start: number; end: number };
}

/**
 * Two (or more) speakers who speak in turn: speaker i says `lines[i]` (flite, 48 kHz mono WAV, as a synthetic
 * speaker sends it) after everyone before them, separated by `gapS` of silence, and stays silent otherwise. Every
 * WAV lasts one whole loop, so senders that loop them keep taking turns. Text goes to flite as an argument.
 */
export function turnTakingWavs(dir: string, lines: readonly { text: string; voice: FliteVoice }[], gapS = 1.5): { parts: TurnTakingPart[]; loopS: number } {
	fs.mkdirSync(dir, { recursive: true });
	const speech = lines.map((line, i) => {
		const wav = path.join(dir, `line-${i}.wav`);
		execFileSync('flite', ['-voice', line.voice, '-t', line.text, '-o', wav]);
		const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', wav], { encoding: 'utf8' }).trim());
		return { wav, seconds };
	});
	const loopS = speech.reduce((sum, s) => sum + s.seconds + gapS, gapS);
	let at = gapS;
	const parts = speech.map((s, i) => {
		const start = at;
		at += s.seconds + gapS;
		const out = path.join(dir, `speaker-${i}.wav`);
		const after = loopS - start - s.seconds;
		execFileSync('ffmpeg', [
			'-hide_banner', '-loglevel', 'error', '-y', '-i', s.wav,
			'-af', `aresample=48000,adelay=${Math.round(start * 1000)}:all=1,apad=pad_dur=${after.toFixed(3)}`,
			'-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', out,
		]);
		return { wav: out, speechS: { start, end: start + s.seconds } };
	});
	return { parts, loopS };
}
