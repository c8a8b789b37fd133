import type { CaptionCueInfo } from '../../../api/src/signaling/protocol.js';

/** A caption line on screen: the newest text of one utterance, and when it last changed (ms, page clock). */
export interface CaptionLine {
	id: string;
	speakerName: string;
	text: string;
	final: boolean;
	shownAtMs: number;
}

export interface CaptionLineLimits {
	/** Lines on screen at once, newest last. Default 2 (the captioning convention: two lines). */
	maxLines: number;
	/** A final line leaves the screen this long after it appeared, ms. Default 7000. */
	finalMs: number;
	/** A partial that never got its final leaves after this long, ms. Default 15 000. */
	partialMs: number;
}

export const defaultCaptionLineLimits: Readonly<CaptionLineLimits> = Object.freeze({ maxLines: 2, finalMs: 7000, partialMs: 15_000 });

/**
 * Applies a batch of live cues to the lines on screen. Pure. A cue replaces the line of the same utterance (same
 * id: a partial by a newer partial or its final) in place; a new utterance is added at the bottom, and the oldest
 * lines scroll off beyond `maxLines`.
 */
export function applyCues(lines: readonly CaptionLine[], cues: readonly CaptionCueInfo[], nowMs: number, limits: CaptionLineLimits = defaultCaptionLineLimits): CaptionLine[] {
	const next = [...lines];
	for (const cue of cues) {
		const line: CaptionLine = { id: cue.id, speakerName: cue.speakerName, text: cue.text, final: cue.final, shownAtMs: nowMs };
		const at = next.findIndex((l) => l.id === cue.id);
		// A final already shown is not taken back by a late partial of the same utterance.
		if (at >= 0 && next[at]!.final && !cue.final) continue;
		if (at >= 0) next[at] = line;
		else next.push(line);
	}
	return expireLines(next.slice(-limits.maxLines), nowMs, limits);
}

/** Drops the lines whose time on screen is over. Pure; returns the same array when nothing changed. */
export function expireLines(lines: readonly CaptionLine[], nowMs: number, limits: CaptionLineLimits = defaultCaptionLineLimits): CaptionLine[] {
	const kept = lines.filter((l) => nowMs - l.shownAtMs < (l.final ? limits.finalMs : limits.partialMs));
	return kept.length === lines.length ? (lines as CaptionLine[]) : kept;
}
