import type { CaptionCueInfo } from '../signaling/protocol.js';

/**
 * The cues worth sending of one tick's arrivals, in arrival order: a partial followed in the same tick by another
 * cue of the same utterance (same id) is dropped, since clients would replace it at once. Finals always stay.
 */
export function batchCues(cues: readonly CaptionCueInfo[]): CaptionCueInfo[] {
	const lastIndex = new Map<string, number>();
	cues.forEach((cue, i) => lastIndex.set(cue.id, i));
	return cues.filter((cue, i) => cue.final || lastIndex.get(cue.id) === i);
}
