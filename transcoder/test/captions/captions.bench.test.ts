import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptionFinal } from '../../src/captions/CaptionEngine.js';
import { type PocketsphinxEngineOptions } from '../../src/captions/PocketsphinxEngine.js';
import { debianEnUsModelDir, resolvePocketsphinxOptions, type PocketsphinxOptions } from '../../src/captions/pocketsphinxOptions.js';
import { wordErrors } from '../../src/captions/wordErrorRate.js';
import { assertBuilt, collectingEngine } from './support/engineHarness.js';
import { feedInRealTime } from './support/feedInRealTime.js';
import { fliteVoices, noise, silence, type FliteVoice } from './support/fliteSpeech.js';
import { cpuSeconds, memoryMb } from './support/procStats.js';
import { hypothesesBySlot, sentenceStream, slotOf, type SentenceStream } from './support/sentenceStream.js';
import { stageSentences } from './support/stageSentences.js';
import { benchVoices, werByVoice, type BenchVoice } from './support/werByVoice.js';
import { type WerSentenceSet } from './support/werSentences.js';

/**
 * The captions engine bench (the engine's share of `bench:captions`; the origin and hls.js delays need the
 * broadcast integration). Skipped unless TRIBUNE_BENCH=1. Measures:
 * - `wer`, `wer_by_voice`, `wer_flite16`, `wer_by_set`: word error rate of `PocketsphinxEngine` per voice
 *   (support/werByVoice.ts): flite's 16 kHz voices slt, kal16, awb and rms, flite's 8 kHz voice kal (telephone band)
 *   and espeak-ng, each voice one speaker saying 48 sentences with 1.5 s pauses — the 24 stage sentences (which
 *   settings were tuned on) and 24 held-out ones (never tuned on; `wer_by_set` reports each). `wer` pools every voice
 *   and sentence. `wer_opus*`: the same after an Opus 32 kbit/s round trip, as audio arrives from the stage.
 * - `cores_talking`, `rss_mb_talking`, `final_delay_ms_*`, `first_partial_ms_median`: one speaker saying 8 sentences
 *   (2 per voice, 2 s pauses) fed in 20 ms chunks in real time. Cores are the recogniser process's utime + stime
 *   (/proc/<pid>/stat) per wall second, pauses included; `feed_cores_talking` is this process's time inside
 *   `feed()` (voice gate and pipe writes). Delay: from feeding the chunk holding the last speech sample of a sentence
 *   to receiving its final.
 * - `cores_silent` (and `silent`): a speaker who says nothing for TRIBUNE_BENCH_SILENT_S seconds (default 30) in real
 *   time: digital silence and room noise at -60 dBFS (under the gate), noise at -45 dBFS (opens the gate: the
 *   recogniser's own detector decides), and -60 dBFS noise with the gate off (PocketSphinx's detector only).
 * - `asr_filter`: ffmpeg 5.1's `asr` filter (same library, same model) on the 4 flite 16 kHz voices' stage sentences:
 *   WER, CPU per audio second (`-benchmark`), peak RSS, and how much audio after the end of speech it needs before it
 *   emits a final.
 * Tuning runs: TRIBUNE_BENCH_DECODER (JSON overriding `PocketsphinxOptions`), TRIBUNE_BENCH_SECTIONS (comma-separated
 * subset of wer,opus,talking,silent,asr), TRIBUNE_BENCH_VOICES (comma-separated subset of slt,kal16,awb,rms,kal,
 * espeak-ng), TRIBUNE_BENCH_WER_SENTENCES (stage, heldout or all, default all), TRIBUNE_BENCH_NOISE_DBFS (white noise at
 * that level added to the `wer` and `opus` speech, e.g. -40). Synthesised speech is cached in
 * $TMPDIR/tribune-wer-speech. Writes the JSON summary to TRIBUNE_BENCH_OUT and prints it last.
 */
const decoder = JSON.parse(process.env.TRIBUNE_BENCH_DECODER ?? '{}') as Partial<PocketsphinxOptions>;
const silentS = Number(process.env.TRIBUNE_BENCH_SILENT_S ?? 30);
const sections = process.env.TRIBUNE_BENCH_SECTIONS?.split(',') ?? ['wer', 'opus', 'talking', 'silent', 'asr'];
const pauseMs = 1500;
/** Tuning runs: white noise (dBFS RMS) added to the `wer` and `opus` sections' speech. */
const noiseDbfs = process.env.TRIBUNE_BENCH_NOISE_DBFS === undefined ? undefined : Number(process.env.TRIBUNE_BENCH_NOISE_DBFS);
if (noiseDbfs !== undefined && !(noiseDbfs < 0)) throw new Error('TRIBUNE_BENCH_NOISE_DBFS: expected a negative level in dBFS');
const voices = (process.env.TRIBUNE_BENCH_VOICES?.split(',') ?? benchVoices).map((v) => {
	if (!(benchVoices as readonly string[]).includes(v)) throw new Error(`TRIBUNE_BENCH_VOICES: ${v} is not one of ${benchVoices.join(', ')}`);
	return v as BenchVoice;
});
const werSets = ((): WerSentenceSet[] => {
	const value = process.env.TRIBUNE_BENCH_WER_SENTENCES ?? 'all';
	if (value === 'all') return ['stage', 'heldout'];
	if (value === 'stage' || value === 'heldout') return [value];
	throw new Error('TRIBUNE_BENCH_WER_SENTENCES: expected stage, heldout or all');
})();

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-captions-'));
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));
const median = (values: number[]): number => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { hmmDir: _h, lmFile: _l, dictFile: _d, ...knobs } = resolvePocketsphinxOptions(decoder);
const loadavg = (): number[] => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
/** The machine is shared: its load says how much to trust the CPU and delay figures. */
const summary: Record<string, unknown> = { decoder: knobs, ...(noiseDbfs !== undefined && { noise_dbfs: noiseDbfs }), loadavg_start: loadavg() };
const mistakes: string[] = [];

afterAll(() => {
	fs.rmSync(dir, { recursive: true, force: true });
	if (mistakes.length > 0) console.log(`sentences with errors:\n${mistakes.join('\n')}`);
	summary.loadavg_end = loadavg();
	const line = JSON.stringify(summary);
	if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${line}\n`);
	console.log(line);
});

/** Each voice says every sentence, as one speaker. */
function voiceStreams(): Map<FliteVoice, SentenceStream> {
	return new Map(fliteVoices.map((voice) => [voice, sentenceStream(dir, stageSentences.map((text) => ({ text, voice })), pauseMs)]));
}

/** WER of a stream's finals, recording each sentence with errors. */
function scoreStream(stream: SentenceStream, finals: readonly CaptionFinal[], label: string) {
	const hyps = hypothesesBySlot(stream.slots, finals);
	let errors = 0;
	let words = 0;
	stream.slots.forEach((slot, i) => {
		const e = wordErrors(slot.reference, hyps[i]!);
		errors += e.errors;
		words += e.referenceWords;
		if (e.errors > 0) mistakes.push(`${label} ${slot.voice} (${e.errors}) ${slot.reference} → ${hyps[i]}`);
	});
	return { errors, words };
}

/** Feeds `samples` in real time to a fresh engine; the recogniser's cores and this process's `feed()` cores. */
async function realTime(samples: Int16Array, options: Partial<PocketsphinxEngineOptions> = {}) {
	const harness = collectingEngine({ decoder, ...options });
	const { engine } = harness;
	await engine.start();
	await sleep(500);
	const pid = engine.recogniserPid!;
	const cpu0 = cpuSeconds(pid);
	const t0 = performance.now();
	let feedMs = 0;
	const fedAt = await feedInRealTime(samples, (chunk) => {
		const s = performance.now();
		engine.feed(chunk);
		feedMs += performance.now() - s;
	});
	// Let the last final arrive (trailing pause + search) before reading the CPU.
	await sleep(1500);
	const wallS = (performance.now() - t0) / 1000;
	const cores = (cpuSeconds(pid) - cpu0) / wallS;
	const memory = memoryMb(pid);
	await engine.stop();
	return { ...harness, fedAt, cores, feedCores: feedMs / 1000 / wallS, memory };
}

async function asrFilter(stream: SentenceStream, name: string) {
	const raw = path.join(dir, `${name}.asr.s16`);
	const meta = path.join(dir, `${name}.asr.txt`);
	fs.writeFileSync(raw, Buffer.from(stream.samples.buffer, stream.samples.byteOffset, stream.samples.byteLength));
	const m = debianEnUsModelDir;
	// Filter option values are paths without ':' or ',' (Debian's), so no escaping is needed here.
	const filter = `asr=hmm=${m}/en-us:dict=${m}/cmudict-en-us.dict:lm=${m}/en-us.lm.bin,ametadata=mode=print:file=${meta}`;
	const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-benchmark', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', raw, '-af', filter, '-f', 'null', '-']);
	const utime = Number(/utime=([\d.]+)s/.exec(stderr)?.[1]);
	const stime = Number(/stime=([\d.]+)s/.exec(stderr)?.[1]);
	const maxRssKb = Number(/maxrss=(\d+)kB/.exec(stderr)?.[1]);
	// ametadata prints "frame:N pts:P pts_time:T" then "lavfi.asr.text=…" for each frame that carries a result.
	const finals: { text: string; startMs: number; endMs: number }[] = [];
	const lines = fs.readFileSync(meta, 'utf8').split('\n');
	lines.forEach((line, i) => {
		const t = /pts_time:([\d.]+)/.exec(line);
		const text = lines[i + 1]?.replace(/^lavfi\.asr\.text=/, '');
		// The text comes when the filter hears the pause; place it just before, inside the sentence's slot.
		if (t && text !== undefined) finals.push({ text, startMs: Number(t[1]) * 1000 - 600, endMs: Number(t[1]) * 1000 - 600 });
	});
	const afterSpeech = finals.map((f) => {
		const slot = stream.slots[slotOf(stream.slots, f)];
		return slot ? f.endMs + 600 - slot.speechEndMs : NaN;
	});
	return { finals, cpu: utime + stime, maxRssMb: maxRssKb / 1024, afterSpeech };
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('captions engine bench', () => {
	beforeAll(() => assertBuilt());

	it.runIf(sections.includes('wer'))('word error rate per voice: flite 16 kHz, flite 8 kHz, espeak-ng', async () => {
		const r = await werByVoice({ decoder, voices, sets: werSets, pauseMs, noiseDbfs });
		mistakes.push(...r.mistakes.map((m) => `pcm ${m}`));
		Object.assign(summary, { wer: r.wer, wer_by_voice: r.byVoice, wer_flite16: r.werFlite16, wer_by_set: r.bySet, words: r.words, cpu_per_audio_s: r.cpuPerAudioS });
		expect(r.words).toBeGreaterThan(voices.length * werSets.length * 24 * 5);
	}, 1_800_000);

	it.runIf(sections.includes('opus'))('word error rate per voice after an Opus round trip', async () => {
		const r = await werByVoice({ decoder, voices, sets: werSets, pauseMs, noiseDbfs, opus: true });
		mistakes.push(...r.mistakes.map((m) => `opus ${m}`));
		Object.assign(summary, { wer_opus: r.wer, wer_opus_by_voice: r.byVoice, wer_opus_flite16: r.werFlite16, wer_opus_by_set: r.bySet });
		expect(r.words).toBeGreaterThan(voices.length * werSets.length * 24 * 5);
	}, 1_800_000);

	it.runIf(sections.includes('talking'))('a talking speaker in real time: cores, memory, final delay', async () => {
		const lines = Array.from({ length: 8 }, (_, i) => ({ text: stageSentences[(i * 3 + 1) % stageSentences.length]!, voice: fliteVoices[i % 4]! }));
		const stream = sentenceStream(dir, lines, 2000);
		const { finals, partials, fedAt, cores, feedCores, memory } = await realTime(stream.samples);
		const chunkAt = (ms: number): number => fedAt[Math.min(fedAt.length - 1, Math.floor(ms / 20))]!;
		const delays: number[] = [];
		const firstPartials: number[] = [];
		stream.slots.forEach((slot, i) => {
			const last = finals.filter((f) => f.text !== '' && slotOf(stream.slots, f) === i).at(-1);
			if (last) delays.push(last.at - chunkAt(slot.speechEndMs));
			const first = partials.find((p) => slotOf(stream.slots, p) === i);
			if (first) firstPartials.push(first.at - chunkAt(slot.speechStartMs));
		});
		const hyps = hypothesesBySlot(stream.slots, finals);
		const e = stream.slots.reduce((acc, s, i) => {
			const w = wordErrors(s.reference, hyps[i]!);
			return { errors: acc.errors + w.errors, words: acc.words + w.referenceWords };
		}, { errors: 0, words: 0 });
		Object.assign(summary, {
			cores_talking: round(cores),
			feed_cores_talking: round(feedCores, 4),
			rss_mb_talking: round(memory.peakRssMb, 1),
			final_delay_ms_median: Math.round(median(delays)),
			final_delay_ms_max: Math.round(Math.max(...delays)),
			first_partial_ms_median: Math.round(median(firstPartials)),
			wer_talking: round(e.errors / e.words, 4),
		});
		expect(delays.length).toBe(stream.slots.length);
	}, 300_000);

	it.runIf(sections.includes('silent'))('a silent speaker in real time: cores with and without the voice gate', async () => {
		const ms = silentS * 1000;
		const scenarios = [
			['digital_silence', silence(ms), {}],
			['noise_60dbfs', noise(ms, -60), {}],
			['noise_45dbfs_gate_open', noise(ms, -45), {}],
			['noise_60dbfs_no_gate', noise(ms, -60), { gate: { openAboveDbfs: -Infinity } }],
		] as const;
		const silent: Record<string, { cores: number; feed_cores: number; finals: number }> = {};
		for (const [name, samples, options] of scenarios) {
			const r = await realTime(samples, options);
			silent[name] = { cores: round(r.cores, 4), feed_cores: round(r.feedCores, 4), finals: r.finals.filter((f) => f.text !== '').length };
		}
		const gated = silent.noise_60dbfs!;
		Object.assign(summary, { cores_silent: round(gated.cores + gated.feed_cores, 4), silent });
	}, 600_000);

	it.runIf(sections.includes('asr'))('ffmpeg asr filter on the same streams', async () => {
		const byVoice: Record<string, number> = {};
		let errors = 0;
		let words = 0;
		let cpu = 0;
		let audioS = 0;
		let maxRssMb = 0;
		const afterSpeech: number[] = [];
		// Synthesising 96 sentences with flite takes a minute or more on a loaded machine.
		for (const [voice, stream] of voiceStreams()) {
			const r = await asrFilter(stream, voice);
			const score = scoreStream(stream, r.finals.map((f) => ({ ...f, words: [], utteranceId: 0, interrupted: false })), 'asr');
			byVoice[voice] = round(score.errors / score.words);
			errors += score.errors;
			words += score.words;
			cpu += r.cpu;
			audioS += stream.samples.length / 16_000;
			maxRssMb = Math.max(maxRssMb, r.maxRssMb);
			afterSpeech.push(...r.afterSpeech.filter((v) => Number.isFinite(v)));
		}
		summary.asr_filter = {
			wer: round(errors / words, 4),
			wer_by_voice: byVoice,
			cpu_per_audio_s: round(cpu / audioS),
			max_rss_mb: round(maxRssMb, 1),
			audio_after_speech_ms_median: Math.round(median(afterSpeech)),
		};
	}, 600_000);
});
