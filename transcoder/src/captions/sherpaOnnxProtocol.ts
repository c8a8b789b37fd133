import { z } from 'zod';
import { recognitionLoopSchema } from './recogniserProtocol.js';

/**
 * The configuration `SherpaOnnxEngine` gives its recogniser process (the setup message over IPC, with the vocabulary). Results, readiness and failures
 * come back as `recogniserMessageSchema` messages, the same as PocketSphinx's; PCM goes through stdin (`pcmFrames.ts`).
 */

const ms = z.number().finite().min(0);
const file = z.string().min(1);

export const sherpaRecogniserConfigSchema = z.object({
	/** The npm package to load (a test names one that is not installed). */
	packageName: z.string().min(1),
	model: z.object({ dir: file, tokens: file, encoder: file, decoder: file, joiner: file }),
	decoder: z.object({
		rule1MinTrailingSilenceS: z.number().positive(),
		rule2MinTrailingSilenceS: z.number().positive(),
		tailPaddingMs: ms,
		numThreads: z.number().int().positive(),
	}),
	/** Bonus per matched piece of a hotword (the space's words), with a model that ships `bpe.vocab`. */
	hotwordsScore: z.number().positive().max(10),
	loop: recognitionLoopSchema,
});
export type SherpaRecogniserConfig = z.infer<typeof sherpaRecogniserConfigSchema>;
