import { describe, expect, it } from 'vitest';
import { RecognitionLoop, type RecognitionResult } from './RecognitionLoop.js';
import { type DecoderSegment, type SpeechDecoder } from './SpeechDecoder.js';

/** 10 ms frames of 160 samples, like PocketSphinx at 16 kHz. */
const samplesPerFrame = 160;

/**
 * A scripted decoder: "speech" is any non-zero sample, the detector stays in speech for `hangoverFrames` after the
 * last one, the hypothesis is whatever the test sets, and the best path is the test's segments.
 */
class ScriptedDecoder implements SpeechDecoder {
	readonly framesPerSecond = 100;
	hypothesisText = '';
	segments: DecoderSegment[] = [];
	/** Best paths for the next utterances in order; `segments` once it is empty. */
	readonly upcoming: DecoderSegment[][] = [];
	readonly calls: string[] = [];
	#fedFrames = 0;
	#lastSpeechFrame = -Infinity;
	readonly #hangoverFrames: number;

	constructor(hangoverFrames = 30) {
		this.#hangoverFrames = hangoverFrames;
	}

	startUtterance(): void {
		this.calls.push('start');
	}

	process(samples: Int16Array): void {
		for (let i = 0; i < samples.length; i += samplesPerFrame) {
			if (samples.subarray(i, i + samplesPerFrame).some((s) => s !== 0)) this.#lastSpeechFrame = this.#fedFrames;
			this.#fedFrames++;
		}
	}

	inSpeech(): boolean {
		return this.#fedFrames - this.#lastSpeechFrame <= this.#hangoverFrames;
	}

	hypothesis(): string {
		return this.hypothesisText;
	}

	endUtterance(): DecoderSegment[] {
		this.calls.push('end');
		this.#lastSpeechFrame = -Infinity;
		return this.upcoming.shift() ?? this.segments;
	}

	close(): void {}
}

const speech = (ms: number): Int16Array => new Int16Array((ms * 16_000) / 1000).fill(1000);
const silence = (ms: number): Int16Array => new Int16Array((ms * 16_000) / 1000);
const options = { partialIntervalMs: 300, maxUtteranceMs: 15_000, onsetLeadMs: 200 };

function setup(opts = options, hangoverFrames = 30) {
	const decoder = new ScriptedDecoder(hangoverFrames);
	const results: RecognitionResult[] = [];
	const loop = new RecognitionLoop(decoder, opts, (r) => results.push(r));
	let position = 0;
	/** Pushes chunks of 20 ms from the current stream position (or from `at`). */
	const feed = (samples: Int16Array, at = position): void => {
		for (let i = 0; i < samples.length; i += 320) {
			loop.push(at + i, samples.subarray(i, i + 320));
		}
		position = at + samples.length;
	};
	return { decoder, loop, results, feed, finals: () => results.filter((r) => r.type === 'final') };
}

describe('RecognitionLoop', () => {
	it('a final carries the words on the stream clock, without fillers or alternate-pronunciation marks', () => {
		const { decoder, feed, finals } = setup();
		decoder.segments = [
			{ word: '<s>', startFrame: 0, endFrame: 99 },
			{ word: 'hello', startFrame: 100, endFrame: 139 },
			{ word: '<sil>', startFrame: 140, endFrame: 144 },
			{ word: '[NOISE]', startFrame: 145, endFrame: 149 },
			{ word: 'read(2)', startFrame: 150, endFrame: 199 },
			{ word: '</s>', startFrame: 200, endFrame: 229 },
		];
		feed(silence(1000));
		feed(speech(1000));
		feed(silence(1000));
		expect(finals()).toEqual([
			{
				type: 'final',
				utteranceId: 1,
				text: 'hello read',
				words: [
					{ word: 'hello', startMs: 1000, endMs: 1400 },
					{ word: 'read', startMs: 1500, endMs: 2000 },
				],
				startMs: 1000,
				endMs: 2000,
				interrupted: false,
			},
		]);
	});

	it('sends a partial at most once per interval of audio, only when its text changed', () => {
		const { decoder, feed, results } = setup();
		feed(silence(200));
		decoder.hypothesisText = 'hello';
		feed(speech(700));
		decoder.hypothesisText = 'hello <sil> world(2)';
		feed(speech(700));
		const partials = results.filter((r) => r.type === 'partial');
		expect(partials.map((p) => p.text)).toEqual(['hello', 'hello world']);
		// 700 ms of "hello" at a 300 ms interval would give two partials if repeats were sent.
		expect(partials[0]).toMatchObject({ utteranceId: 1, startMs: 20, endMs: 520 });
		expect(partials[1]!.endMs - partials[0]!.endMs).toBeGreaterThanOrEqual(300);
	});

	it('sends no final for a noise that produced neither words nor partials', () => {
		const { decoder, feed, results } = setup();
		feed(speech(100));
		feed(silence(1000));
		expect(decoder.calls).toEqual(['start', 'end', 'start']);
		expect(results).toEqual([]);
	});

	it('closes an utterance whose partials came to nothing with an empty final, so the partial is replaced', () => {
		const { decoder, feed, finals } = setup();
		decoder.hypothesisText = 'uh';
		feed(speech(600));
		feed(silence(1000));
		expect(finals()).toMatchObject([{ utteranceId: 1, text: '', words: [] }]);
	});

	it('a skip in the stream ends the open utterance, and words after it are timed after the gap', () => {
		const { decoder, feed, finals } = setup();
		// The gate dropped 10 s of quiet audio; the decoder's frames go on from 50 but the stream is at 10.5 s.
		decoder.upcoming.push([{ word: 'one', startFrame: 0, endFrame: 49 }], [{ word: 'two', startFrame: 50, endFrame: 99 }]);
		feed(speech(500));
		feed(speech(500), 10.5 * 16_000);
		feed(silence(1000));
		expect(finals().map((f) => [f.utteranceId, f.text, f.words[0]!.startMs, f.words[0]!.endMs])).toEqual([
			[1, 'one', 0, 500],
			[2, 'two', 10_500, 11_000],
		]);
	});

	it('pause() ends the utterance at once instead of waiting for trailing silence', () => {
		const { decoder, feed, loop, finals } = setup();
		decoder.segments = [{ word: 'stop', startFrame: 0, endFrame: 29 }];
		feed(speech(300));
		expect(finals()).toEqual([]);
		loop.pause();
		expect(finals().map((f) => f.text)).toEqual(['stop']);
		loop.pause();
		expect(finals()).toHaveLength(1);
	});

	it('cuts an utterance that runs past maxUtteranceMs and goes on with the next one', () => {
		const { decoder, feed, finals } = setup({ ...options, maxUtteranceMs: 1000 });
		decoder.segments = [{ word: 'long', startFrame: 0, endFrame: 50 }];
		feed(speech(2500));
		expect(finals().map((f) => f.utteranceId)).toEqual([1, 2]);
	});

	it('finish() flushes the last utterance; pushing afterwards is an error', () => {
		const { decoder, feed, loop, finals } = setup();
		decoder.segments = [{ word: 'bye', startFrame: 0, endFrame: 29 }];
		feed(speech(300));
		loop.finish();
		expect(finals().map((f) => f.text)).toEqual(['bye']);
		expect(() => loop.push(4800, silence(20))).toThrow(/finished/);
	});

	it('rejects a chunk that overlaps audio already decoded', () => {
		const { feed, loop } = setup();
		feed(silence(100));
		expect(() => loop.push(800, silence(20))).toThrow(/overlaps/);
	});
});
