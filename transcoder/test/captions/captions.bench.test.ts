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
import { recogniseStream } from './support/recogniseStream.js';
import { hypothesesBySlot, sentenceStream, slotOf, type SentenceStream } from './support/sentenceStream.js';
import { stageSentences } from './support/stageSentences.js';

/**
 * The captions engine bench (the engine's share of `bench:captions`; the origin and hls.js delays need the
 * broadcast integration). Skipped unless TRIBUNE_BENCH=1. Measures, with Debian's flite voices at 16 kHz:
 * - `wer`, `wer_by_voice`: word error rate of `PocketsphinxEngine` over 24 stage sentences × 4 voices, each voice one
 *   speaker saying the sentences with 1.5 s pauses; audio is fed faster than real time (results do not depend on
 *   pacing: the engine decides everything on the audio's own clock) and finals are matched to sentences by time.
 *   `wer_opus`: the same after an Opus 32 kbit/s round trip, as audio arrives from the stage.
 * - `cores_talking`, `rss_mb_talking`, `final_delay_ms_*`, `first_partial_ms_median`: one speaker saying 8 sentences
 *   (2 per voice, 2 s pauses) fed in 20 ms chunks in real time. Cores are the recogniser process's utime + stime
 *   (/proc/<pid>/stat) per wall second, pauses included; `feed_cores_talking` is this process's time inside
 *   `feed()` (voice gate and pipe writes). Delay: from feeding the chunk holding the last speech sample of a sentence
 *   to receiving its final.
 * - `cores_silent` (and `silent`): a speaker who says nothing for TRIBUNE_BENCH_SILENT_S seconds (default 30) in real
 *   time: digital silence and room noise at -60 dBFS (under the gate), noise at -45 dBFS (opens the gate: the
 *   recogniser's own detector decides), and -60 dBFS noise with the gate off (PocketSphinx's detector only).
 * - `asr_filter`: ffmpeg 5.1's `asr` filter (same library, same model) on the same 4 streams: WER, CPU per audio
 *   second (`-benchmark`), peak RSS, and how much audio after the end of speech it needs before it emits a final.
 * TRIBUNE_BENCH_DECODER: JSON overriding `PocketsphinxOptions` (tuning runs); TRIBUNE_BENCH_SECTIONS: comma-separated
 * subset of wer,opus,talking,silent,asr. Writes the JSON summary to TRIBUNE_BENCH_OUT and prints it last.
 */
const decoder = JSON.parse(process.env.TRIBUNE_BENCH_DECODER ?? '{}') as Partial<PocketsphinxOptions>;
const silentS = Number(process.env.TRIBUNE_BENCH_SILENT_S ?? 30);
const sections = process.env.TRIBUNE_BENCH_SECTIONS?.split(',') ?? ['wer', 'opus', 'talking', 'silent', 'asr'];
const pauseMs = 1500;

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
const summary: Record<string, unknown> = { decoder: knobs, loadavg_start: loadavg() };
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

async function werOver(streams: Map<FliteVoice, SentenceStream>, label: string) {
	const byVoice: Record<string, number> = {};
	let errors = 0;
	let words = 0;
	let cpu = 0;
	let audioS = 0;
	let speechS = 0;
	for (const [voice, stream] of streams) {
		const { finals, cpu: voiceCpu } = await recogniseStream(collectingEngine({ decoder, maxBacklogMs: 3_600_000 }).engine, stream, 120_000);
		const score = scoreStream(stream, finals, label);
		byVoice[voice] = round(score.errors / score.words);
		errors += score.errors;
		words += score.words;
		cpu += voiceCpu;
		audioS += stream.samples.length / 16_000;
		speechS += stream.slots.reduce((s, slot) => s + (slot.speechEndMs - slot.speechStartMs) / 1000, 0);
	}
	return { wer: round(errors / words, 4), byVoice, words, cpuPerAudioS: round(cpu / audioS), cpuPerSpeechS: round(cpu / speechS) };
}

async function opusRoundTrip(stream: SentenceStream, name: string): Promise<SentenceStream> {
	const raw = path.join(dir, `${name}.s16`);
	const opus = path.join(dir, `${name}.ogg`);
	const back = path.join(dir, `${name}.opus.s16`);
	fs.writeFileSync(raw, Buffer.from(stream.samples.buffer, stream.samples.byteOffset, stream.samples.byteLength));
	const quiet = ['-hide_banner', '-loglevel', 'error', '-y'];
	await run('ffmpeg', [...quiet, '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', raw, '-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', '-application', 'voip', opus]);
	await run('ffmpeg', [...quiet, '-i', opus, '-ar', '16000', '-ac', '1', '-f', 's16le', back]);
	const bytes = fs.readFileSync(back);
	const samples = new Int16Array(stream.samples.length);
	// Opus adds a few ms of pre-skip handling at most; keep the original length so slots stay put.
	for (let i = 0; i < samples.length && i * 2 + 1 < bytes.length; i++) samples[i] = bytes.readInt16LE(i * 2);
	return { samples, slots: stream.slots };
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
	let streams: Map<FliteVoice, SentenceStream>;
	// Synthesising 96 sentences with flite takes a minute or more on a loaded machine.
	beforeAll(() => {
		assertBuilt();
		streams = voiceStreams();
	}, 600_000);

	it.runIf(sections.includes('wer'))('word error rate over the stage sentences, per voice', async () => {
		const r = await werOver(streams, 'pcm');
		Object.assign(summary, { wer: r.wer, wer_by_voice: r.byVoice, words: r.words, cpu_per_audio_s: r.cpuPerAudioS, cpu_per_speech_s: r.cpuPerSpeechS });
		expect(r.words).toBeGreaterThan(stageSentences.length * fliteVoices.length * 5);
	}, 900_000);

	it.runIf(sections.includes('opus'))('word error rate after an Opus round trip', async () => {
		const opus = new Map<FliteVoice, SentenceStream>();
		for (const [voice, stream] of streams) opus.set(voice, await opusRoundTrip(stream, voice));
		const r = await werOver(opus, 'opus');
		Object.assign(summary, { wer_opus: r.wer, wer_opus_by_voice: r.byVoice });
	}, 900_000);

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
		for (const [voice, stream] of streams) {
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
