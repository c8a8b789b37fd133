import { concatPcm, fliteSpeech, silence, speechSpanMs, type FliteVoice } from './fliteSpeech.js';

/** Where one sentence lies in a stream, ms. */
export interface SentenceSlot {
	reference: string;
	voice: FliteVoice;
	/** The sentence's audio starts here; its speech spans [speechStartMs, speechEndMs). */
	startMs: number;
	speechStartMs: number;
	speechEndMs: number;
	/** The slot ends where the next sentence starts (after the pause). */
	endMs: number;
}

/** Sentences one after another with pauses, as one speaker says them on a stage. */
export interface SentenceStream {
	samples: Int16Array;
	slots: SentenceSlot[];
}

/** `leadMs` of silence, then each sentence followed by `pauseMs` of silence. */
export function sentenceStream(dir: string, lines: readonly { text: string; voice: FliteVoice }[], pauseMs: number, leadMs = 1000): SentenceStream {
	const parts: Int16Array[] = [silence(leadMs)];
	const slots: SentenceSlot[] = [];
	let positionMs = leadMs;
	lines.forEach(({ text, voice }, i) => {
		const speech = fliteSpeech(dir, `${voice}-${i}`, text, voice);
		const span = speechSpanMs(speech);
		const lengthMs = (speech.length * 1000) / 16_000;
		slots.push({
			reference: text,
			voice,
			startMs: positionMs,
			speechStartMs: positionMs + span.startMs,
			speechEndMs: positionMs + span.endMs,
			endMs: positionMs + lengthMs + pauseMs,
		});
		parts.push(speech, silence(pauseMs));
		positionMs += lengthMs + pauseMs;
	});
	return { samples: concatPcm(...parts), slots };
}

/** The slot a result belongs to: the one holding its midpoint (finals never span a pause of the stream). */
export function slotOf(slots: readonly SentenceSlot[], result: { startMs: number; endMs: number }): number {
	const mid = (result.startMs + result.endMs) / 2;
	return slots.findIndex((s) => mid >= s.startMs && mid < s.endMs);
}

/** Each slot's hypothesis: the texts of the finals that fall in it, in order. */
export function hypothesesBySlot(slots: readonly SentenceSlot[], finals: readonly { text: string; startMs: number; endMs: number }[]): string[] {
	const texts = slots.map(() => [] as string[]);
	for (const f of finals) {
		const slot = slotOf(slots, f);
		if (slot >= 0 && f.text !== '') texts[slot]!.push(f.text);
	}
	return texts.map((t) => t.join(' '));
}
