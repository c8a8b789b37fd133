import { captionSampleRateHz, type CaptionFinal, type CaptionPartial, type CaptionWord } from './CaptionEngine.js';
import { type DecoderSegment, type SpeechDecoder } from './SpeechDecoder.js';

export type RecognitionResult = ({ type: 'partial' } & CaptionPartial) | ({ type: 'final' } & CaptionFinal);

export interface RecognitionLoopOptions {
	/** Audio between two partials of one utterance, milliseconds. */
	partialIntervalMs: number;
	/** An utterance longer than this is ended even while the speaker goes on, so its final is not held back, ms. */
	maxUtteranceMs: number;
	/** How far before the detector's onset an utterance is assumed to start (its pre-speech window), ms. */
	onsetLeadMs: number;
}

/** The utterance in progress: where it began (fed samples) and what its last partial said. */
interface OpenUtterance {
	onsetFed: number;
	lastPartialFed: number;
	lastPartialText: string;
	partials: number;
}

/** Where fed audio continues at a new stream position (after audio that was gated out or dropped). */
interface Breakpoint {
	fedSample: number;
	streamSample: number;
}

/**
 * Drives a `SpeechDecoder` over a stream of PCM chunks and turns what it hears into partial and final results on the
 * stream's clock. The caller may skip stretches of the stream (voice gating, overload): each chunk says where it
 * starts, and the loop maps decoder frames, which only count audio it was given, back to stream time.
 *
 * An utterance starts when the decoder's voice activity detector hears speech and ends when it hears enough
 * silence, when the stream skips, when it grows past `maxUtteranceMs`, or at `finish()`.
 */
export class RecognitionLoop {
	readonly #decoder: SpeechDecoder;
	readonly #options: RecognitionLoopOptions;
	readonly #emit: (result: RecognitionResult) => void;
	readonly #samplesPerFrame: number;
	#fedSamples = 0;
	#nextStreamSample = 0;
	#breakpoints: Breakpoint[] = [{ fedSample: 0, streamSample: 0 }];
	#utteranceId = 0;
	#open: OpenUtterance | undefined;
	#finished = false;

	constructor(decoder: SpeechDecoder, options: RecognitionLoopOptions, emit: (result: RecognitionResult) => void) {
		this.#decoder = decoder;
		this.#options = options;
		this.#emit = emit;
		this.#samplesPerFrame = captionSampleRateHz / decoder.framesPerSecond;
		decoder.startUtterance();
	}

	/** Decodes `samples`, which start at `streamSample` of the stream (≥ the end of the previous chunk). */
	push(streamSample: number, samples: Int16Array): void {
		if (this.#finished) throw new Error('recognition loop is finished');
		if (streamSample < this.#nextStreamSample) {
			throw new Error(`chunk at sample ${streamSample} overlaps audio already decoded (up to ${this.#nextStreamSample})`);
		}
		if (streamSample > this.#nextStreamSample) this.#skipTo(streamSample);
		this.#decoder.process(samples);
		this.#fedSamples += samples.length;
		this.#nextStreamSample = streamSample + samples.length;

		const inSpeech = this.#decoder.inSpeech();
		if (inSpeech && !this.#open) {
			this.#utteranceId++;
			this.#open = { onsetFed: this.#fedSamples, lastPartialFed: this.#fedSamples, lastPartialText: '', partials: 0 };
		}
		const open = this.#open;
		if (!open) return;
		if (!inSpeech || this.#fedSamples - open.onsetFed >= this.#msToSamples(this.#options.maxUtteranceMs)) {
			this.#endUtterance();
		} else if (this.#fedSamples - open.lastPartialFed >= this.#msToSamples(this.#options.partialIntervalMs)) {
			this.#partial(open);
		}
	}

	/** The stream pauses here (the voice gate closed): the utterance in progress, if any, ends now. */
	pause(): void {
		if (this.#open) this.#endUtterance();
	}

	/** End of the stream: the utterance in progress ends, and the decoder is no longer used. */
	finish(): void {
		if (this.#finished) return;
		this.pause();
		this.#finished = true;
	}

	#skipTo(streamSample: number): void {
		if (this.#open) this.#endUtterance();
		this.#breakpoints.push({ fedSample: this.#fedSamples, streamSample });
	}

	#partial(open: OpenUtterance): void {
		open.lastPartialFed = this.#fedSamples;
		const text = wordsOf(this.#decoder.hypothesis());
		if (text === '' || text === open.lastPartialText) return;
		open.lastPartialText = text;
		open.partials++;
		this.#emit({
			type: 'partial',
			utteranceId: this.#utteranceId,
			text,
			startMs: this.#onsetMs(open),
			endMs: this.#fedToMs(this.#fedSamples),
		});
	}

	#endUtterance(): void {
		const open = this.#open!;
		this.#open = undefined;
		const segments = this.#decoder.endUtterance();
		this.#decoder.startUtterance();
		const words = segments.filter((s) => !isFiller(s.word)).map((s) => this.#word(s));
		if (words.length > 0 || open.partials > 0) {
			this.#emit({
				type: 'final',
				utteranceId: this.#utteranceId,
				text: words.map((w) => w.word).join(' '),
				words,
				startMs: words[0]?.startMs ?? this.#onsetMs(open),
				endMs: words.at(-1)?.endMs ?? this.#fedToMs(this.#fedSamples),
				interrupted: false,
			});
		}
		// Earlier breakpoints can no longer be looked up: frames of finished utterances are never mapped again.
		this.#breakpoints = [this.#breakpointAt(this.#fedSamples)];
	}

	#word(segment: DecoderSegment): CaptionWord {
		return {
			word: baseWord(segment.word),
			startMs: this.#fedToMs(segment.startFrame * this.#samplesPerFrame),
			// endFrame is inclusive.
			endMs: this.#fedToMs((segment.endFrame + 1) * this.#samplesPerFrame),
		};
	}

	#onsetMs(open: OpenUtterance): number {
		return Math.max(0, this.#fedToMs(open.onsetFed) - this.#options.onsetLeadMs);
	}

	#breakpointAt(fedSample: number): Breakpoint {
		let found = this.#breakpoints[0]!;
		for (const b of this.#breakpoints) if (b.fedSample <= fedSample) found = b;
		return found;
	}

	#fedToMs(fedSample: number): number {
		const b = this.#breakpointAt(fedSample);
		return Math.round(((b.streamSample + fedSample - b.fedSample) * 1000) / captionSampleRateHz);
	}

	#msToSamples(ms: number): number {
		return (ms * captionSampleRateHz) / 1000;
	}
}

/** `<s>`, `</s>`, `<sil>`, `[NOISE]`, `++BREATH++`: marks and fillers, not words. */
function isFiller(word: string): boolean {
	return /^[<[+]/.test(word);
}

/** `read(2)` is the dictionary's second pronunciation of `read`. */
function baseWord(word: string): string {
	return word.replace(/\(\d+\)$/, '');
}

/** A hypothesis string as caption text: real words only, single spaces. */
function wordsOf(hypothesis: string): string {
	return hypothesis
		.split(/\s+/)
		.filter((w) => w !== '' && !isFiller(w))
		.map(baseWord)
		.join(' ');
}
