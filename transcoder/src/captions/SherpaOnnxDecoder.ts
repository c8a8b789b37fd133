import { captionSampleRateHz } from './CaptionEngine.js';
import { type SherpaModelFiles } from './sherpaOnnxModel.js';
import { type SherpaOnlineRecognizer, type SherpaOnlineStream, type SherpaOnnxModule } from './sherpaOnnxModule.js';
import { sherpaResultWords } from './sherpaResultWords.js';
import { type DecoderSegment, type SpeechDecoder } from './SpeechDecoder.js';

export interface SherpaOnnxDecoderOptions {
	/** Endpoint after this much silence when nothing was recognised yet, s (sherpa-onnx rule 1). */
	rule1MinTrailingSilenceS: number;
	/** Endpoint after this much silence following recognised words, s (rule 2). */
	rule2MinTrailingSilenceS: number;
	/** Silence fed after the speech when an utterance is ended before an endpoint, so the model's look-ahead sees its end, ms. */
	tailPaddingMs: number;
	/** ONNX Runtime threads; one speaker per process, so 1. */
	numThreads: number;
}

/**
 * The space's words as sherpa-onnx hotwords: contextual biasing of `modified_beam_search` towards them (greedy search
 * has none). `file` holds one word per line in the model's case (`hotwordsText`); `bpeVocab` is the model's
 * `bpe.vocab`, with which sherpa-onnx splits the words into the model's pieces.
 */
export interface SherpaHotwords {
	file: string;
	bpeVocab: string;
	/** Bonus per matched token (sherpa-onnx's default 1.5). */
	score: number;
	/** Beam of the search (sherpa-onnx's default 4). */
	maxActivePaths: number;
}

/** Segments are reported in 10 ms frames, the unit `RecognitionLoop` maps back to stream time. */
const framesPerSecond = 100;
const samplesPerFrame = captionSampleRateHz / framesPerSecond;

/**
 * A sherpa-onnx streaming transducer as `RecognitionLoop` drives it. sherpa-onnx has no voice activity flag; its
 * endpoint detector plays that part: the decoder is "in speech" from the first recognised token until an endpoint.
 * Ending an utterance resets the stream (sherpa-onnx keeps counting time across resets, so word times stay on one
 * clock), after feeding `tailPaddingMs` of silence when no endpoint was reached, since a streaming model holds back
 * its last frames until it has heard a little past them. That padding is not audio the loop fed: times are mapped
 * back to the loop's count of fed samples.
 */
export class SherpaOnnxDecoder implements SpeechDecoder {
	readonly framesPerSecond = framesPerSecond;
	readonly #recognizer: SherpaOnlineRecognizer;
	readonly #stream: SherpaOnlineStream;
	readonly #options: SherpaOnnxDecoderOptions;
	/** Samples given to sherpa-onnx, padding included. */
	#sherpaSamples = 0;
	/** Padding samples among them. */
	#paddingSamples = 0;
	/** `inSpeech()` said true since the last reset: an endpoint now ends the utterance. */
	#reportedSpeech = false;
	#closed = false;

	/** Loads the model; throws (or, for a corrupt file, aborts the process inside ONNX Runtime) when it cannot. */
	constructor(sherpa: SherpaOnnxModule, model: SherpaModelFiles, options: SherpaOnnxDecoderOptions, hotwords?: SherpaHotwords) {
		this.#options = options;
		this.#recognizer = new sherpa.OnlineRecognizer({
			featConfig: { sampleRate: captionSampleRateHz, featureDim: 80 },
			modelConfig: {
				transducer: { encoder: model.encoder, decoder: model.decoder, joiner: model.joiner },
				tokens: model.tokens,
				numThreads: options.numThreads,
				provider: 'cpu',
				debug: 0,
				...(hotwords && { modelingUnit: 'bpe', bpeVocab: hotwords.bpeVocab }),
			},
			...(hotwords
				? { decodingMethod: 'modified_beam_search', maxActivePaths: hotwords.maxActivePaths, hotwordsFile: hotwords.file, hotwordsScore: hotwords.score }
				: { decodingMethod: 'greedy_search' }),
			enableEndpoint: 1,
			rule1MinTrailingSilence: options.rule1MinTrailingSilenceS,
			rule2MinTrailingSilence: options.rule2MinTrailingSilenceS,
			// Long utterances are cut by RecognitionLoop's maxUtteranceMs instead.
			rule3MinUtteranceLength: 300,
		});
		this.#stream = this.#recognizer.createStream();
	}

	startUtterance(): void {
		// Nothing to do: the stream was reset when the last utterance ended.
	}

	process(samples: Int16Array): void {
		this.#live();
		if (samples.length === 0) return;
		this.#accept(toFloat(samples));
		// Rule 1 (silence with nothing recognised) never opens an utterance; start afresh so the stream stays short.
		if (this.#recognizer.isEndpoint(this.#stream) && this.#text() === '') this.#recognizer.reset(this.#stream);
	}

	inSpeech(): boolean {
		this.#live();
		if (this.#text() === '') return false;
		// Text and an endpoint in the same chunk: report speech once, so the loop opens the utterance it then ends.
		if (this.#reportedSpeech && this.#recognizer.isEndpoint(this.#stream)) return false;
		this.#reportedSpeech = true;
		return true;
	}

	hypothesis(): string {
		this.#live();
		return this.#text().toLowerCase();
	}

	endUtterance(): DecoderSegment[] {
		this.#live();
		const heardSamples = this.#sherpaSamples;
		const paddingBefore = this.#paddingSamples;
		if (!this.#recognizer.isEndpoint(this.#stream) && this.#options.tailPaddingMs > 0) {
			const padding = new Float32Array(Math.round((this.#options.tailPaddingMs * captionSampleRateHz) / 1000));
			this.#accept(padding);
			this.#paddingSamples += padding.length;
		}
		const result = this.#recognizer.getResult(this.#stream);
		this.#recognizer.reset(this.#stream);
		this.#reportedSpeech = false;
		// Every word of this utterance was said before its own padding: only earlier padding is subtracted.
		return sherpaResultWords(result, heardSamples / captionSampleRateHz).map((w) => {
			const startFed = Math.max(0, w.startS * captionSampleRateHz - paddingBefore);
			const endFed = Math.max(startFed + samplesPerFrame, Math.min(w.endS * captionSampleRateHz, heardSamples) - paddingBefore);
			return { word: w.word, startFrame: Math.floor(startFed / samplesPerFrame), endFrame: Math.ceil(endFed / samplesPerFrame) - 1 };
		});
	}

	close(): void {
		// The native recogniser and stream are freed by the addon's finalisers; the process exits right after.
		this.#closed = true;
	}

	#accept(samples: Float32Array): void {
		this.#stream.acceptWaveform({ samples, sampleRate: captionSampleRateHz });
		this.#sherpaSamples += samples.length;
		while (this.#recognizer.isReady(this.#stream)) this.#recognizer.decode(this.#stream);
	}

	#text(): string {
		return this.#recognizer.getResult(this.#stream).text.trim();
	}

	#live(): void {
		if (this.#closed) throw new Error('sherpa-onnx decoder is closed');
	}
}

function toFloat(samples: Int16Array): Float32Array {
	const out = new Float32Array(samples.length);
	for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
	return out;
}
