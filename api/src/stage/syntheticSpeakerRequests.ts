import { z } from 'zod';
import { plainLine } from '../validation/plainLine.js';

/**
 * Voices a synthetic speaker can speak with: Debian's flite voices (`slt`, `rms`, `awb`, `kal16` at 16 kHz; `kal`,
 * 8 kHz, sounds like a telephone) — speech PocketSphinx follows well — or espeak-ng (robotic; captions of it are
 * mostly wrong, see the README's captions figures).
 */
export const syntheticVoices = ['slt', 'rms', 'awb', 'kal16', 'kal', 'espeak-ng'] as const;
export type SyntheticVoice = (typeof syntheticVoices)[number];
export const syntheticVoiceSchema = z.enum(syntheticVoices, { message: `expected one of ${syntheticVoices.join(', ')}` });

/** A conversation holds at most this many speakers, lines, and this much speech and silence per loop. */
export const conversationLimits = Object.freeze({ speakers: 6, lines: 24, loopS: 180 });

/**
 * `POST /api/spaces/:id/synthetic-conversation`: synthetic speakers who take turns saying `lines` in order, with
 * pauses of about `pauseMs` between turns, looped without overlap.
 */
export const syntheticConversationBody = z.strictObject({
	speakers: z
		.array(z.strictObject({ displayName: plainLine(50).min(1), voice: syntheticVoiceSchema.optional() }))
		.min(1)
		.max(conversationLimits.speakers),
	lines: z
		.array(z.strictObject({ speaker: z.number().int().min(0).max(conversationLimits.speakers - 1), text: plainLine(1000).min(1) }))
		.min(1)
		.max(conversationLimits.lines),
	/** Silence between two turns, ms (varied ±30 % so the rhythm is not mechanical). Default 1200. */
	pauseMs: z.number().int().min(300).max(5000).optional(),
});
export type SyntheticConversationRequest = z.output<typeof syntheticConversationBody>;
