import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CaptionFinal } from '../../../src/captions/CaptionEngine.js';
import { type ChildRecogniserEngine } from '../../../src/captions/ChildRecogniserEngine.js';
import { type PocketsphinxOptions } from '../../../src/captions/pocketsphinxOptions.js';
import { wordErrors } from '../../../src/captions/wordErrorRate.js';
import { collectingEngine, feedAll } from './engineHarness.js';
import { noise } from './fliteSpeech.js';
import { cpuSeconds } from './procStats.js';
import { werSentenceSets, type WerSentenceSet } from './werSentences.js';

/**
 * The voices word error rates are reported for. `slt`, `kal16`, `awb`, `rms`: Debian's flite voices at 16 kHz (clean,
 * full-band synthetic speech). `kal`: flite's 8 kHz diphone voice, telephone-band speech as a cheap or Bluetooth
 * headset microphone gives it (upsampled to 16 kHz like every input). `espeak-ng`: formant synthesis, far from the
 * voices PocketSphinx's model was trained on (a hard, "unusual voice" case).
 */
export const benchVoices = ['slt', 'kal16', 'awb', 'rms', 'kal', 'espeak-ng'] as const;
export type BenchVoice = (typeof benchVoices)[number];
/** The flite voices at 16 kHz, pooled as `wer_flite16`. */
export const flite16Voices: readonly BenchVoice[] = ['slt', 'kal16', 'awb', 'rms'];

/** Synthesised speech is kept here between runs (keyed by voice and text), so a tuning run skips synthesis. */
export const speechCacheDir = path.join(os.tmpdir(), 'tribune-wer-speech');

const quiet = ['-hide_banner', '-loglevel', 'error', '-y'];

/**
 * `text` said by `voice` as 16 kHz mono s16 PCM, the caption engines' input (cached). Text reaches flite and espeak-ng
 * through a file, never an argument or a shell.
 */
export function voiceSpeech(voice: BenchVoice, text: string, opus = false): Int16Array {
	fs.mkdirSync(speechCacheDir, { recursive: true });
	const key = createHash('sha256').update(`${voice}\0${text}\0${opus ? 'opus32k' : 'pcm'}`).digest('hex').slice(0, 24);
	const raw = path.join(speechCacheDir, `${key}.s16`);
	if (!fs.existsSync(raw)) {
		const work = fs.mkdtempSync(path.join(speechCacheDir, 'work-'));
		try {
			const textFile = path.join(work, 'text.txt');
			const wav = path.join(work, 'speech.wav');
			fs.writeFileSync(textFile, text);
			if (voice === 'espeak-ng') execFileSync('espeak-ng', ['-s', '165', '-w', wav, '-f', textFile]);
			else execFileSync('flite', ['-voice', voice, '-f', textFile, '-o', wav]);
			let source = wav;
			if (opus) {
				// As audio arrives from the stage: Opus at 32 kbit/s (a browser's voice setting), decoded at 48 kHz.
				source = path.join(work, 'speech.ogg');
				execFileSync('ffmpeg', [...quiet, '-i', wav, '-ar', '48000', '-ac', '1', '-c:a', 'libopus', '-b:a', '32k', '-application', 'voip', source]);
			}
			const tmp = path.join(work, 'speech.s16');
			execFileSync('ffmpeg', [...quiet, '-i', source, '-ac', '1', '-ar', '16000', '-f', 's16le', '-c:a', 'pcm_s16le', tmp]);
			fs.renameSync(tmp, raw);
		} finally {
			fs.rmSync(work, { recursive: true, force: true });
		}
	}
	const bytes = fs.readFileSync(raw);
	// A fresh, aligned copy: Buffer pools may start at odd offsets.
	const samples = new Int16Array(bytes.length >> 1);
	for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
	return samples;
}

/** One sentence's place in a voice's stream, ms. */
interface Slot {
	reference: string;
	set: WerSentenceSet;
	startMs: number;
	/** Where the next sentence starts (after the pause). */
	endMs: number;
}

/** 1 s of silence, then each sentence followed by `pauseMs` of silence, as one speaker on a stage says them. */
function voiceStream(voice: BenchVoice, sentences: readonly { text: string; set: WerSentenceSet }[], pauseMs: number, opus: boolean) {
	const parts: Int16Array[] = [new Int16Array(16_000)];
	const slots: Slot[] = [];
	let at = 1000;
	for (const { text, set } of sentences) {
		const speech = voiceSpeech(voice, text, opus);
		const lengthMs = speech.length / 16;
		slots.push({ reference: text, set, startMs: at, endMs: at + lengthMs + pauseMs });
		parts.push(speech, new Int16Array(Math.round(pauseMs * 16)));
		at += lengthMs + pauseMs;
	}
	const samples = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
	let offset = 0;
	for (const p of parts) {
		samples.set(p, offset);
		offset += p.length;
	}
	return { samples, slots };
}

/** Adds `noise(…, dbfs)` to `samples` in place, clipped to 16 bits. */
function addNoise(samples: Int16Array, dbfs: number): void {
	const added = noise(samples.length / 16, dbfs);
	for (let i = 0; i < samples.length; i++) samples[i] = Math.max(-32768, Math.min(32767, samples[i]! + (added[i] ?? 0)));
}

/** The slot holding a result's midpoint (a final never spans a pause of the stream). */
function slotOf(slots: readonly Slot[], result: { startMs: number; endMs: number }): number {
	const mid = (result.startMs + result.endMs) / 2;
	return slots.findIndex((s) => mid >= s.startMs && mid < s.endMs);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 4): number => Number(value.toFixed(digits));

export interface WerByVoiceOptions {
	/** PocketSphinx settings over the defaults (ignored when `engine` is given). */
	decoder?: Partial<PocketsphinxOptions>;
	/** A fresh engine per voice (it needs a `maxBacklogMs` above a whole stream, ~4 min). Default: PocketSphinx with `decoder`. */
	engine?: () => ChildRecogniserEngine;
	/** Default: all of `benchVoices`. */
	voices?: readonly BenchVoice[];
	/** Default: both sets (`stage` then `heldout`). */
	sets?: readonly WerSentenceSet[];
	/** Sentences to use instead of the sets (e.g. vocabulary sentences); reported under the set `stage`. */
	sentences?: readonly string[];
	/** Put the speech through Opus at 32 kbit/s first, as it reaches the transcoder from the stage. Default false. */
	opus?: boolean;
	/** Silence between sentences, ms. Default 1500. */
	pauseMs?: number;
	/** White noise at this level (dBFS RMS) added to the whole stream, pauses included, as a room or a cheap microphone adds it. Default none. */
	noiseDbfs?: number;
	/** Per voice: give up waiting for the last final after this, ms. Default 300000. */
	timeoutMs?: number;
}

export interface WerByVoiceResult {
	/** Errors over reference words, every voice pooled. */
	wer: number;
	words: number;
	byVoice: Partial<Record<BenchVoice, number>>;
	/** The 16 kHz flite voices pooled (absent when none ran). */
	werFlite16: number | undefined;
	/** Per sentence set, every voice pooled. */
	bySet: Partial<Record<WerSentenceSet, number>>;
	/** Recogniser CPU seconds per second of audio. */
	cpuPerAudioS: number;
	/** `voice (errors) reference → hypothesis` for each sentence with errors. */
	mistakes: string[];
}

/**
 * Word error rate of a caption engine per voice: each voice says the sentences as one speaker with pauses, fed to a
 * fresh engine faster than real time (results do not depend on pacing: the engine decides on the audio's own clock),
 * its finals matched to sentences by time. Needs the compiled recogniser (`npx tsc -b transcoder`).
 */
export async function werByVoice(options: WerByVoiceOptions = {}): Promise<WerByVoiceResult> {
	const voices = options.voices ?? benchVoices;
	const sentences = options.sentences
		? options.sentences.map((text) => ({ text, set: 'stage' as const }))
		: (options.sets ?? (['stage', 'heldout'] as const)).flatMap((set) => werSentenceSets[set].map((text) => ({ text, set })));
	const createEngine = options.engine ?? (() => collectingEngine({ decoder: options.decoder ?? {}, maxBacklogMs: 3_600_000 }).engine);
	const tally = () => ({ errors: 0, words: 0 });
	const byVoice = new Map<BenchVoice, ReturnType<typeof tally>>();
	const bySet = new Map<WerSentenceSet, ReturnType<typeof tally>>();
	const mistakes: string[] = [];
	let cpu = 0;
	let audioS = 0;
	for (const voice of voices) {
		const stream = voiceStream(voice, sentences, options.pauseMs ?? 1500, options.opus ?? false);
		if (options.noiseDbfs !== undefined) addNoise(stream.samples, options.noiseDbfs);
		const engine = createEngine();
		const finals: CaptionFinal[] = [];
		engine.on('final', (f) => finals.push(f));
		await engine.start();
		const pid = engine.recogniserPid!;
		const cpu0 = cpuSeconds(pid);
		feedAll((c) => engine.feed(c), stream.samples);
		const last = stream.slots.length - 1;
		const deadline = Date.now() + (options.timeoutMs ?? 300_000);
		while (!finals.some((f) => slotOf(stream.slots, f) === last) && Date.now() < deadline) await sleep(50);
		cpu += cpuSeconds(pid) - cpu0;
		audioS += stream.samples.length / 16_000;
		await engine.stop();
		const hyps = stream.slots.map(() => [] as string[]);
		for (const f of finals) {
			const slot = slotOf(stream.slots, f);
			if (slot >= 0 && f.text !== '') hyps[slot]!.push(f.text);
		}
		const v = tally();
		byVoice.set(voice, v);
		stream.slots.forEach((slot, i) => {
			const hypothesis = hyps[i]!.join(' ');
			const e = wordErrors(slot.reference, hypothesis);
			const s = bySet.get(slot.set) ?? tally();
			bySet.set(slot.set, s);
			for (const t of [v, s]) {
				t.errors += e.errors;
				t.words += e.referenceWords;
			}
			if (e.errors > 0) mistakes.push(`${voice} (${e.errors}) ${slot.reference} → ${hypothesis}`);
		});
	}
	const rate = (t: { errors: number; words: number }): number => round(t.errors / t.words);
	const pooled = (list: readonly BenchVoice[]) => {
		const t = list.map((v) => byVoice.get(v)).filter((x) => x !== undefined);
		return t.length === 0 ? undefined : rate(t.reduce((a, b) => ({ errors: a.errors + b.errors, words: a.words + b.words }), tally()));
	};
	const all = [...byVoice.values()].reduce((a, b) => ({ errors: a.errors + b.errors, words: a.words + b.words }), tally());
	return {
		wer: rate(all),
		words: all.words,
		byVoice: Object.fromEntries([...byVoice].map(([v, t]) => [v, rate(t)])),
		werFlite16: pooled(flite16Voices),
		bySet: Object.fromEntries([...bySet].map(([s, t]) => [s, rate(t)])),
		cpuPerAudioS: round(cpu / audioS, 3),
		mistakes,
	};
}
