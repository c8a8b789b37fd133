import { z } from 'zod';

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

/** PocketSphinx's configuration: argv[2] of the child, as JSON (sherpa-onnx's is in `sherpaOnnxProtocol.ts`). */
export const recogniserConfigSchema = z.object({
	/** PocketSphinx arguments from `buildPocketsphinxArgs()`. */
	args: z.array(z.string()),
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
