/** One entry of the best path: a word, a filler (`<sil>`, `[NOISE]`) or a sentence mark (`<s>`, `</s>`). */
export interface DecoderSegment {
	word: string;
	/** First and last frame, counted from the start of the decoder's stream (silence included). */
	startFrame: number;
	endFrame: number;
}

/**
 * A continuous-mode recogniser as `RecognitionLoop` drives it: the seam between the result handling (pure, unit
 * tested) and the native library (PocketSphinx through FFI).
 */
export interface SpeechDecoder {
	/** Analysis frames per second of audio; segment frames are in these units. */
	readonly framesPerSecond: number;
	startUtterance(): void;
	/** Decodes 16 kHz mono s16 samples into the current utterance. */
	process(samples: Int16Array): void;
	/** The decoder's voice activity detector: true from speech onset until enough trailing silence. */
	inSpeech(): boolean;
	/** Best text so far in the current utterance (a partial); '' when nothing was recognised yet. */
	hypothesis(): string;
	/** Ends the utterance, running the final search passes, and returns its best path. */
	endUtterance(): DecoderSegment[];
	close(): void;
}
