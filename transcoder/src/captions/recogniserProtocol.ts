import { z } from 'zod';
import { vocabularyLimits, vocabularyWordSchema } from './captionVocabulary.js';

/**
 * What passes between a `ChildRecogniserEngine` and its recogniser process besides PCM (which goes through stdin, see
 * `pcmFrames.ts`). Both ends parse what they receive with these schemas.
 */

const ms = z.number().finite().min(0);

/** `RecognitionLoopOptions`, part of every recogniser's configuration. */
export const recognitionLoopSchema = z.object({
	partialIntervalMs: ms,
	maxUtteranceMs: ms,
	onsetLeadMs: ms,
});

/**
 * The first message to a recogniser process, over IPC: its engine's configuration (parsed by the child with the
 * engine's schema) and the space's words to make likelier, each `^[a-z][a-z']*$` (see `captionVocabulary.ts`).
 */
export const recogniserSetupSchema = z.object({
	type: z.literal('setup'),
	config: z.unknown(),
	vocabulary: z.array(vocabularyWordSchema).max(vocabularyLimits.maxWords),
});
export type RecogniserSetup = z.infer<typeof recogniserSetupSchema>;

/** PocketSphinx's configuration (sherpa-onnx's is in `sherpaOnnxProtocol.ts`). */
export const recogniserConfigSchema = z.object({
	/** PocketSphinx arguments from `buildPocketsphinxArgs()`. */
	args: z.array(z.string()),
	/** Interpolation weight of the vocabulary's language model (`PocketsphinxVocabulary.weight`). */
	vocabularyWeight: z.number().gt(0).lt(1),
	loop: recognitionLoopSchema,
});
export type RecogniserConfig = z.infer<typeof recogniserConfigSchema>;

const word = z.object({ word: z.string(), startMs: ms, endMs: ms });

const result = z.discriminatedUnion('type', [
	z.object({ type: z.literal('partial'), utteranceId: z.number().int().positive(), text: z.string(), startMs: ms, endMs: ms }),
	z.object({
		type: z.literal('final'),
		utteranceId: z.number().int().positive(),
		text: z.string(),
		words: z.array(word),
		startMs: ms,
		endMs: ms,
		interrupted: z.boolean(),
	}),
]);

/** Messages from the recogniser, over the IPC channel. */
export const recogniserMessageSchema = z.discriminatedUnion('type', [
	/** The model is loaded; audio written from now on is recognised. */
	z.object({ type: z.literal('ready') }),
	z.object({ type: z.literal('result'), result }),
	/** Stdin ended and every result has been sent; the process exits next. */
	z.object({ type: z.literal('finished') }),
	/** The recogniser cannot run (model missing, library missing); it exits right after. */
	z.object({ type: z.literal('failed'), message: z.string() }),
]);
export type RecogniserMessage = z.infer<typeof recogniserMessageSchema>;
