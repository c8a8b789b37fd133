import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SherpaOnnxEngine } from '../../src/captions/SherpaOnnxEngine.js';
import { resolveSherpaModelFiles } from '../../src/captions/sherpaOnnxModel.js';
import { wordErrors } from '../../src/captions/wordErrorRate.js';
import { collectingEngine } from './support/engineHarness.js';
import { fliteVoices } from './support/fliteSpeech.js';
import { recogniseStream } from './support/recogniseStream.js';
import { hypothesesBySlot, sentenceStream } from './support/sentenceStream.js';
import { stageSentences } from './support/stageSentences.js';

/**
 * sherpa-onnx against PocketSphinx on the same flite sentences (part of `bench:captions` when a model is supplied).
 * Runs only with TRIBUNE_BENCH=1 and TRIBUNE_SHERPA_MODEL_DIR naming a streaming transducer model: none is published
 * on npm and nothing is downloaded. Each of the 4 flite voices says TRIBUNE_BENCH_SHERPA_SENTENCES (default 8) of the
 * stage sentences with 1.5 s pauses, fed faster than real time to a fresh engine of each kind; finals are matched to
 * sentences by time. Figures: `wer`, `wer_by_voice`, `cores_per_audio_s` (recogniser utime + stime per second of
 * audio), under `sherpa` and `pocketsphinx`. Merged under `sherpa_onnx` into TRIBUNE_BENCH_OUT's JSON (or a new one), printed last.
 */
const modelDir = process.env.TRIBUNE_SHERPA_MODEL_DIR;
const sentences = stageSentences.slice(0, Number(process.env.TRIBUNE_BENCH_SHERPA_SENTENCES ?? 8));
const childScript = fileURLToPath(new URL('../../dist/captions/sherpaOnnxChild.js', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-sherpa-'));
const round = (value: number, digits = 4): number => Number(value.toFixed(digits));
const loadavg = (): number[] => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const summary: Record<string, unknown> = { model_dir: modelDir, sentences: sentences.length, loadavg_start: loadavg() };

afterAll(() => {
	fs.rmSync(dir, { recursive: true, force: true });
	if (!modelDir || process.env.TRIBUNE_BENCH !== '1') return;
	summary.loadavg_end = loadavg();
	const out = process.env.TRIBUNE_BENCH_OUT;
	let merged: Record<string, unknown> = {};
	if (out && fs.existsSync(out)) merged = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
	const line = JSON.stringify({ ...merged, sherpa_onnx: summary });
	if (out) fs.writeFileSync(out, `${line}\n`);
	console.log(line);
});

describe.skipIf(process.env.TRIBUNE_BENCH !== '1' || !modelDir)('sherpa-onnx vs PocketSphinx WER bench', () => {
	it('scores both engines on the same flite sentences', async () => {
		const model = resolveSherpaModelFiles(modelDir!);
		const engines = {
			sherpa: () => new SherpaOnnxEngine({ model, childScript, maxBacklogMs: 3_600_000, startTimeoutMs: 120_000 }),
			pocketsphinx: () => collectingEngine({ maxBacklogMs: 3_600_000 }).engine,
		};
		for (const [name, create] of Object.entries(engines)) {
			const byVoice: Record<string, number> = {};
			let errors = 0;
			let words = 0;
			let cpu = 0;
			let audioS = 0;
			for (const voice of fliteVoices) {
				const stream = sentenceStream(dir, sentences.map((text) => ({ text, voice })), 1500);
				const result = await recogniseStream(create(), stream, 300_000);
				const hyps = hypothesesBySlot(stream.slots, result.finals);
				let voiceErrors = 0;
				let voiceWords = 0;
				stream.slots.forEach((slot, i) => {
					const e = wordErrors(slot.reference, hyps[i]!);
					voiceErrors += e.errors;
					voiceWords += e.referenceWords;
				});
				byVoice[voice] = round(voiceErrors / voiceWords);
				errors += voiceErrors;
				words += voiceWords;
				cpu += result.cpu;
				audioS += stream.samples.length / 16_000;
			}
			summary[name] = { wer: round(errors / words), wer_by_voice: byVoice, words, cores_per_audio_s: round(cpu / audioS, 3) };
			expect(words).toBeGreaterThan(0);
		}
	}, 1_800_000);
});
