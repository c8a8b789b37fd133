import { type TypedEmitter } from '@tribune/ingest';

/** PCM every engine takes: 16 kHz, mono, signed 16-bit native-endian samples. */
export const captionSampleRateHz = 16_000;

/** One recognised word. Times are milliseconds of the fed PCM stream since `start()` (sample 0 is 0 ms). */
export interface CaptionWord {
	word: string;
	startMs: number;
	endMs: number;
}

/**
 * What the engine currently hears in an utterance that is still going on. A later partial or the final with the same
 * `utteranceId` replaces it.
 */
export interface CaptionPartial {
	/** Counts utterances from 1 within one engine; a partial and the final that replaces it share it. */
	utteranceId: number;
	text: string;
	/** Estimated start of the utterance (voice activity onset, including the detector's lead-in). */
	startMs: number;
	/** How far the engine had heard when it produced this text. */
	endMs: number;
}

/** The settled text of an utterance, sent once the speaker pauses. */
export interface CaptionFinal {
	utteranceId: number;
	/** The words joined by single spaces, lowercase as the model spells them; may be empty for a cough or a noise. */
	text: string;
	words: CaptionWord[];
	startMs: number;
	endMs: number;
	/**
	 * True when the recogniser died mid-utterance: `text` is then the last partial, `words` is empty and the times
	 * are the partial's.
	 */
	interrupted: boolean;
}

/** Why the engine restarted its recogniser. */
export interface CaptionEngineRestart {
	/** Exit code or signal of the recogniser that died, e.g. `'SIGKILL'` or `'exit 1'`. */
	reason: string;
	/** Restarts in a row without a recogniser that lived long enough to count as healthy. */
	attempt: number;
	/** Wait before the new recogniser starts. */
	delayMs: number;
}

export type CaptionEngineEvents = {
	partial: [CaptionPartial];
	final: [CaptionFinal];
	/** The recogniser died and is being replaced; audio keeps flowing, timings stay on the same clock. */
	restart: [CaptionEngineRestart];
	/** Something the owner should log; the engine keeps running when it can. */
	error: [Error];
};

/**
 * One speaker's speech recogniser. The owner feeds PCM as it arrives from the stage, in real time, and listens for
 * partial and final results. Implementations run the recogniser off the caller's event loop.
 */
export interface CaptionEngine extends Pick<TypedEmitter<CaptionEngineEvents>, 'on' | 'once' | 'off'> {
	/** A short name for logs and metrics, e.g. `'pocketsphinx'`. */
	readonly kind: string;
	/**
	 * The space's words (`vocabularyWords()`) to make likelier; called before `start()` when the space has any. An
	 * engine without it ignores the vocabulary.
	 */
	setVocabulary?(words: readonly string[]): void;
	/** Loads the model; resolves once PCM fed from now on will be recognised. Rejects with a clear error otherwise. */
	start(): Promise<void>;
	/**
	 * Queues PCM (16 kHz mono s16, any number of samples). Never blocks; when the recogniser cannot keep up, audio
	 * beyond a bounded backlog is dropped and reported as an error, and the stream clock still advances.
	 */
	feed(samples: Int16Array): void;
	/** Finishes the utterance in progress (its final is emitted before this resolves) and frees the recogniser. */
	stop(): Promise<void>;
}
