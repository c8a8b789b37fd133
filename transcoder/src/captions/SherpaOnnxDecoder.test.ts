import { describe, expect, it } from 'vitest';
import { type CaptionFinal } from './CaptionEngine.js';
import { RecognitionLoop, type RecognitionResult } from './RecognitionLoop.js';
import { SherpaOnnxDecoder } from './SherpaOnnxDecoder.js';
import { type SherpaOnlineRecognizerConfig, type SherpaOnlineResult, type SherpaOnnxModule } from './sherpaOnnxModule.js';

/**
 * A scripted stand-in for sherpa-onnx's OnlineRecognizer, for what no real model on this machine can show (none ships
 * on npm): the bookkeeping around it. It keeps the library's contract as `streaming-asr.js` and the C++ `Convert()`
 * state it: audio is decoded in 40 ms output frames once a chunk is there; each burst of loud audio is one word,
 * emitted 160 ms after its onset (a streaming model's look-ahead: the last word needs audio after it); token times
 * count from the last reset and `start_time` is the frames processed before it; an endpoint comes after 0.8 s of
 * silence following a word (rule 2) or 2.4 s with none (rule 1). Tests with a real model are in
 * transcoder/test/captions/sherpaOnnxEngine.test.ts (run when TRIBUNE_SHERPA_MODEL_DIR names one).
 */
class ScriptedRecognizer {
	static lastConfig: SherpaOnlineRecognizerConfig | undefined;
	readonly #chunk = 640;
	#buffer: number[] = [];
	#frame = 0;
	#segmentStart = 0;
	#lastLoud = -Infinity;
	#pendingOnset: number | undefined;
	#words: { token: string; frame: number }[] = [];
	#count = 0;

	constructor(config: SherpaOnlineRecognizerConfig) {
		ScriptedRecognizer.lastConfig = config;
	}

	createStream() {
		return { acceptWaveform: ({ samples }: { samples: Float32Array }) => this.#buffer.push(...samples) };
	}

	isReady(): boolean {
		return this.#buffer.length >= this.#chunk;
	}

	decode(): void {
		const chunk = this.#buffer.splice(0, this.#chunk);
		const loud = chunk.some((s) => Math.abs(s) > 0.01);
		if (loud && this.#frame - this.#lastLoud > 1) this.#pendingOnset = this.#frame;
		if (loud) this.#lastLoud = this.#frame;
		if (this.#pendingOnset !== undefined && this.#frame >= this.#pendingOnset + 4) {
			this.#words.push({ token: ` W${++this.#count}`, frame: this.#pendingOnset });
			this.#pendingOnset = undefined;
		}
		this.#frame++;
	}

	isEndpoint(): boolean {
		const silentS = (this.#frame - 1 - Math.max(this.#lastLoud, this.#segmentStart - 1)) * 0.04;
		return this.#words.length > 0 ? silentS >= 0.8 : silentS >= 2.4;
	}

	reset(): void {
		this.#segmentStart = this.#frame;
		this.#words = [];
	}

	getResult(): SherpaOnlineResult {
		return {
			text: this.#words.map((w) => w.token).join(''),
			tokens: this.#words.map((w) => w.token),
			timestamps: this.#words.map((w) => (w.frame - this.#segmentStart) * 0.04),
			start_time: this.#segmentStart * 0.04,
		};
	}
}

const scripted = { OnlineRecognizer: ScriptedRecognizer } as unknown as SherpaOnnxModule;
const model = { dir: '/m', tokens: '/m/tokens.txt', encoder: '/m/encoder.onnx', decoder: '/m/decoder.onnx', joiner: '/m/joiner.onnx' };
const decoderOptions = { rule1MinTrailingSilenceS: 2.4, rule2MinTrailingSilenceS: 0.8, tailPaddingMs: 500, numThreads: 1 };

const speech = (ms: number): Int16Array => new Int16Array((ms * 16_000) / 1000).fill(3000);
const silence = (ms: number): Int16Array => new Int16Array((ms * 16_000) / 1000);

function setup(tailPaddingMs = 500) {
	const results: RecognitionResult[] = [];
	const decoder = new SherpaOnnxDecoder(scripted, model, { ...decoderOptions, tailPaddingMs });
	const loop = new RecognitionLoop(decoder, { partialIntervalMs: 200, maxUtteranceMs: 15_000, onsetLeadMs: 500 }, (r) => results.push(r));
	let at = 0;
	/** Feeds `samples` in 20 ms chunks at stream sample `from` (default: right after the last chunk). */
	const feed = (samples: Int16Array, from = at): void => {
		for (let i = 0; i < samples.length; i += 320) loop.push(from + i, samples.subarray(i, i + 320));
		at = from + samples.length;
	};
	const finals = (): CaptionFinal[] => results.filter((r): r is RecognitionResult & CaptionFinal => r.type === 'final');
	return { loop, feed, results, finals };
}

describe('SherpaOnnxDecoder (with a scripted recogniser) under RecognitionLoop', () => {
	it('configures a greedy streaming transducer with endpointing from the model files', () => {
		setup();
		expect(ScriptedRecognizer.lastConfig).toMatchObject({
			featConfig: { sampleRate: 16_000, featureDim: 80 },
			modelConfig: { transducer: { encoder: '/m/encoder.onnx', decoder: '/m/decoder.onnx', joiner: '/m/joiner.onnx' }, tokens: '/m/tokens.txt', numThreads: 1 },
			enableEndpoint: 1,
			rule2MinTrailingSilence: 0.8,
		});
	});

	it('an endpoint after the words ends the utterance with lowercase words timed on the stream clock', () => {
		const { feed, results, finals } = setup();
		feed(silence(1000));
		feed(speech(200));
		feed(silence(200));
		feed(speech(200));
		feed(silence(1200));
		expect(finals()).toHaveLength(1);
		const final = finals()[0]!;
		expect(final.text).toBe('w1 w2');
		expect(final.words[0]!.startMs).toBeCloseTo(1000, -2);
		expect(final.words[1]!.startMs).toBeCloseTo(1400, -2);
		expect(final.words[1]!.endMs).toBeLessThanOrEqual(2000);
		// Partials came first, with the same utterance id.
		const partials = results.filter((r) => r.type === 'partial');
		expect(partials.length).toBeGreaterThan(0);
		expect(partials.every((p) => p.utteranceId === final.utteranceId)).toBe(true);
	});

	it('a pause (the voice gate closed) right after a word pads the stream so the look-ahead releases the last word', () => {
		const { loop, feed, finals } = setup();
		feed(speech(200));
		feed(silence(200));
		feed(speech(100));
		loop.pause();
		expect(finals().map((f) => f.text)).toEqual(['w1 w2']);
	});

	it('without padding that last word would be lost: the padding is what the previous test checks', () => {
		const { loop, feed, finals } = setup(0);
		feed(speech(200));
		feed(silence(200));
		feed(speech(100));
		loop.pause();
		expect(finals().map((f) => f.text)).toEqual(['w1']);
	});

	it('padding is not stream time: the next utterance after a gap is timed where it was said', () => {
		const { loop, feed, finals } = setup();
		feed(speech(300));
		loop.pause();
		// The gate kept 4.7 s of silence from the recogniser.
		feed(speech(300), 5 * 16_000);
		feed(silence(1200));
		const [first, second] = finals();
		expect(first!.words[0]!.startMs).toBeCloseTo(0, -2);
		expect(second!.text).toBe('w2');
		expect(second!.words[0]!.startMs).toBeCloseTo(5000, -2);
	});

	it('long silence with nothing recognised opens no utterance and sends nothing', () => {
		const { feed, results } = setup();
		feed(silence(6000));
		expect(results).toEqual([]);
	});
});
