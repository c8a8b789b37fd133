import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SyntheticVoice } from './syntheticSpeakerRequests.js';

const execFileAsync = promisify(execFile);

/** Synthetic speech is kept at 16 kHz mono (flite's rate; ffmpeg resamples to Opus's 48 kHz as it sends). */
export const speechRate = 16_000;

/**
 * `text` said by `voice`, as 16 kHz mono s16 samples. The text reaches flite or espeak-ng through a file in `dir`,
 * never an argument or a shell; `ffmpegPath` converts (flite's kal voice is 8 kHz, espeak-ng's 22.05 kHz).
 */
export async function synthesiseSpeech(dir: string, voice: SyntheticVoice, text: string, ffmpegPath = 'ffmpeg'): Promise<Int16Array> {
	const base = path.join(dir, `speech-${randomUUID()}`);
	const files = { text: `${base}.txt`, wav: `${base}.wav`, raw: `${base}.s16` };
	try {
		fs.writeFileSync(files.text, text);
		if (voice === 'espeak-ng') await execFileAsync('espeak-ng', ['-s', '165', '-w', files.wav, '-f', files.text], { timeout: 30_000 });
		else await execFileAsync('flite', ['-voice', voice, '-f', files.text, '-o', files.wav], { timeout: 30_000 });
		await execFileAsync(ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-y', '-i', files.wav, '-ac', '1', '-ar', String(speechRate), '-f', 's16le', '-c:a', 'pcm_s16le', files.raw], { timeout: 30_000 });
		const bytes = fs.readFileSync(files.raw);
		const samples = new Int16Array(bytes.length >> 1);
		for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
		if (samples.length === 0) throw new Error(`${voice} produced no speech`);
		return samples;
	} finally {
		for (const file of Object.values(files)) fs.rmSync(file, { force: true });
	}
}

/** Writes 16 kHz mono s16 `samples` as a WAV file. */
export function writeSpeechWav(file: string, samples: Int16Array): void {
	const header = Buffer.alloc(44);
	const dataBytes = samples.length * 2;
	header.write('RIFF', 0, 'ascii');
	header.writeUInt32LE(36 + dataBytes, 4);
	header.write('WAVEfmt ', 8, 'ascii');
	header.writeUInt32LE(16, 16);
	header.writeUInt16LE(1, 20);
	header.writeUInt16LE(1, 22);
	header.writeUInt32LE(speechRate, 24);
	header.writeUInt32LE(speechRate * 2, 28);
	header.writeUInt16LE(2, 32);
	header.writeUInt16LE(16, 34);
	header.write('data', 36, 'ascii');
	header.writeUInt32LE(dataBytes, 40);
	const data = Buffer.alloc(dataBytes);
	for (let i = 0; i < samples.length; i++) data.writeInt16LE(samples[i]!, i * 2);
	fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** One line's place in the loop, ms. */
export interface Turn {
	line: number;
	speaker: number;
	startMs: number;
	endMs: number;
}

/** Pauses between turns vary around the asked length, in a fixed pattern, so the rhythm does not sound mechanical. */
const pauseFactors = [1, 0.75, 1.3, 0.9, 1.15] as const;
/** Silence before the first line (so the first syllable is not lost as a stream starts). */
export const leadMs = 500;

/**
 * Where each line goes in one loop of a conversation: lines one after another in order, each followed by a pause
 * (shorter when the same speaker goes on; the loop's last pause is longer, a beat before the conversation starts
 * again). Every turn ends before the next starts, in the loop and across its wrap.
 */
export function conversationTurns(lines: readonly { speaker: number; lengthMs: number }[], pauseMs: number): { turns: Turn[]; loopMs: number } {
	const turns: Turn[] = [];
	let at = leadMs;
	lines.forEach((line, i) => {
		turns.push({ line: i, speaker: line.speaker, startMs: at, endMs: at + line.lengthMs });
		const next = lines[i + 1];
		const factor = next === undefined ? 1.5 : next.speaker === line.speaker ? 0.5 : pauseFactors[i % pauseFactors.length]!;
		at += line.lengthMs + Math.round(pauseMs * factor);
	});
	return { turns, loopMs: at };
}

/** Each speaker's track of one loop: their lines at their turns, silence otherwise; all tracks as long as the loop. */
export function conversationTracks(speakers: number, turns: readonly Turn[], speech: readonly Int16Array[], loopMs: number): Int16Array[] {
	const length = Math.round((loopMs * speechRate) / 1000);
	const tracks = Array.from({ length: speakers }, () => new Int16Array(length));
	for (const turn of turns) tracks[turn.speaker]!.set(speech[turn.line]!, Math.round((turn.startMs * speechRate) / 1000));
	return tracks;
}
