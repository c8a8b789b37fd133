import { type SherpaOnlineResult } from './sherpaOnnxModule.js';

/** One word of a sherpa-onnx result, in seconds of the audio given to the recogniser since its stream began. */
export interface SherpaWord {
	word: string;
	startS: number;
	endS: number;
}

/** A transducer emits a token at one frame; a word's last token is assumed to last at most this long. */
const lastTokenMaxS = 0.4;

/**
 * Groups the BPE tokens of a sherpa-onnx result into words with times. Tokens that begin a word carry the
 * SentencePiece word mark (`▁HELLO`) or, as sherpa-onnx prints them, a leading space; the others continue the word
 * before. A transducer only says when each token was emitted: a word ends `lastTokenMaxS` after its last token, or earlier
 * where the next word starts, and never past `heardUpToS` (how far the recogniser had audio).
 * Words are lowercased, as PocketSphinx spells them, so both engines' captions and WER read alike.
 */
export function sherpaResultWords(result: SherpaOnlineResult, heardUpToS: number): SherpaWord[] {
	const base = result.start_time ?? 0;
	const words: { text: string; startS: number; lastTokenS: number }[] = [];
	result.tokens.forEach((token, i) => {
		const at = base + (result.timestamps[i] ?? result.timestamps.at(-1) ?? 0);
		const startsWord = /^[\s▁]/.test(token) || words.length === 0;
		const piece = token.replace(/^[\s▁]+/, '');
		if (startsWord) {
			if (piece !== '') words.push({ text: piece, startS: at, lastTokenS: at });
		} else {
			const last = words.at(-1)!;
			last.text += piece;
			last.lastTokenS = at;
		}
	});
	return words.map((w, i) => {
		const next = words[i + 1];
		const endS = Math.min(w.lastTokenS + lastTokenMaxS, next ? next.startS : Math.max(heardUpToS, w.lastTokenS + 0.01));
		return { word: w.text.toLowerCase(), startS: w.startS, endS: Math.max(endS, w.startS + 0.01) };
	});
}
