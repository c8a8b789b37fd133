import path from 'node:path';

/** Where Debian's `pocketsphinx-en-us` package puts the US English model. */
export const debianEnUsModelDir = '/usr/share/pocketsphinx/model/en-us';

/**
 * The PocketSphinx decoder slice. Defaults are the generic US English model with search limits chosen for live
 * captions on a shared CPU (see the measurements in `transcoder/test/captions/captions.bench.test.ts`).
 */
export interface PocketsphinxOptions {
	/** Acoustic model directory (`-hmm`). Default: Debian's `…/en-us/en-us`. */
	hmmDir: string;
	/** Binary trigram language model (`-lm`). Default: Debian's `…/en-us/en-us.lm.bin`. */
	lmFile: string;
	/** Pronunciation dictionary (`-dict`). Default: Debian's `…/en-us/cmudict-en-us.dict`. */
	dictFile: string;
	/**
	 * Silence after speech before the utterance ends and its final result is produced, milliseconds (multiple of 10;
	 * `-vad_postspeech`). Shorter gives captions sooner but splits sentences at short pauses (into two cues, which
	 * costs no accuracy). Default 300 (PocketSphinx: 500; on the bench's voices 500 changed only two flite 16 kHz
	 * voices' figures, by −0.35 points).
	 */
	vadPostspeechMs: number;
	/** Audio kept before detected speech, milliseconds (multiple of 10; `-vad_prespeech`). Default 200 (400 raised WER on five of six voices). */
	vadPrespeechMs: number;
	/**
	 * Speech detector threshold, dB over the estimated noise floor (`-vad_threshold`). Default 2 (PocketSphinx's): 1
	 * changed only two flite 16 kHz voices' figures (−0.35 points each), 3 raised every voice's but espeak-ng's.
	 */
	vadThresholdDb: number;
	/**
	 * Cap on active HMMs per 10 ms frame (`-maxhmmpf`). The main CPU knob: PocketSphinx's 30000 costs ~60 % more CPU
	 * than 3000 for the same error rate on our set. Default 3000.
	 */
	maxHmmsPerFrame: number;
	/**
	 * Second, flat-lexicon search pass (`-fwdflat`). On the six bench voices it lowers flite 16 kHz (8.0 → 7.4 %) and
	 * 8 kHz (28.2 → 27.0 %) but raises espeak-ng (76.1 → 77.0 %), costs ~25 % more CPU and delays every final by
	 * ~200 ms, most of it when the utterance ends. Default false (PocketSphinx: true).
	 */
	fwdflat: boolean;
	/** Lattice best-path rescoring when an utterance ends (`-bestpath`). Default true. */
	bestpath: boolean;
	/** Main beam (`-beam`), a probability; smaller searches wider. Default PocketSphinx's 1e-48. */
	beam: number;
	/** Word-exit beam (`-wbeam`). Default PocketSphinx's 7e-29. */
	wordBeam: number;
	/** Language model weight (`-lw`). Default PocketSphinx's 6.5. */
	languageWeight: number;
	/**
	 * With a space's vocabulary, the weight of its words' unigram model interpolated with the general one: each word
	 * gets about `w / words` of probability in every context, every other word keeps `1 − w` of its own. Default 0.05
	 * (see `transcoder/test/captions/vocabulary.bench.test.ts`).
	 */
	vocabularyWeight: number;
	// No -cmn, -lowerf or -upperf: this PocketSphinx reads the model's feat.params after its arguments, so the
	// model's values (CMN batch, 130-6800 Hz) win whatever is passed (measured: no change on the 8 kHz set).
	/**
	 * Spectral noise subtraction (`-remove_noise`). Undefined: PocketSphinx's (yes). Off lowers WER on noiseless speech
	 * (flite 8 kHz 28.2 → 25.4 %, espeak-ng 76.1 → 70.0 %) but raises it with room noise (−42 dBFS white noise under the
	 * bench's six voices: 44.1 → 58.6 %), so it stays on.
	 */
	removeNoise?: boolean;
	/**
	 * Add ½-bit random noise to the input (`-dither`). Undefined: PocketSphinx's (no). On the bench's voices it trades
	 * espeak-ng (76.1 → 68.6 %) against flite 8 kHz (28.2 → 31.8 %), so it stays off.
	 */
	dither?: boolean;
	/** Word insertion penalty (`-wip`). Undefined: PocketSphinx's 0.65. */
	wordInsertionPenalty?: number;
	/** Silence word probability (`-silprob`). Undefined: PocketSphinx's 0.005. */
	silenceProbability?: number;
	/** Filler word probability (`-fillprob`). Undefined: PocketSphinx's 1e-8. */
	fillerProbability?: number;
}

export const pocketsphinxDefaults: Readonly<PocketsphinxOptions> = Object.freeze({
	hmmDir: path.join(debianEnUsModelDir, 'en-us'),
	lmFile: path.join(debianEnUsModelDir, 'en-us.lm.bin'),
	dictFile: path.join(debianEnUsModelDir, 'cmudict-en-us.dict'),
	vadPostspeechMs: 300,
	vadPrespeechMs: 200,
	vadThresholdDb: 2,
	maxHmmsPerFrame: 3000,
	fwdflat: false,
	bestpath: true,
	beam: 1e-48,
	wordBeam: 7e-29,
	languageWeight: 6.5,
	vocabularyWeight: 0.05,
});

/** PocketSphinx analyses 10 ms frames (`-frate 100`, its default, which this module relies on). */
export const pocketsphinxFrameMs = 10;

/** Fills in defaults and rejects values PocketSphinx would misread or silently clamp. */
export function resolvePocketsphinxOptions(options: Partial<PocketsphinxOptions> = {}): Readonly<PocketsphinxOptions> {
	const o = { ...pocketsphinxDefaults, ...options };
	for (const key of ['vadPostspeechMs', 'vadPrespeechMs'] as const) {
		const ms = o[key];
		if (!Number.isInteger(ms) || ms < pocketsphinxFrameMs || ms % pocketsphinxFrameMs !== 0) {
			throw new Error(`pocketsphinx ${key} must be a positive multiple of ${pocketsphinxFrameMs} ms, got ${ms}`);
		}
	}
	if (!Number.isInteger(o.maxHmmsPerFrame) || o.maxHmmsPerFrame < 100) {
		throw new Error(`pocketsphinx maxHmmsPerFrame must be an integer of at least 100, got ${o.maxHmmsPerFrame}`);
	}
	for (const key of ['beam', 'wordBeam'] as const) {
		if (!(o[key] > 0 && o[key] < 1)) throw new Error(`pocketsphinx ${key} must be a probability in (0, 1), got ${o[key]}`);
	}
	if (!(o.vocabularyWeight > 0 && o.vocabularyWeight < 1)) throw new Error(`pocketsphinx vocabularyWeight must be in (0, 1), got ${o.vocabularyWeight}`);
	if (!(o.languageWeight > 0)) throw new Error(`pocketsphinx languageWeight must be positive, got ${o.languageWeight}`);
	for (const key of ['wordInsertionPenalty', 'silenceProbability', 'fillerProbability'] as const) {
		const p = o[key];
		if (p !== undefined && !(p > 0 && p <= 1)) throw new Error(`pocketsphinx ${key} must be in (0, 1], got ${p}`);
	}
	if (!Number.isFinite(o.vadThresholdDb)) throw new Error(`pocketsphinx vadThresholdDb must be a number, got ${o.vadThresholdDb}`);
	return Object.freeze(o);
}

/** The decoder's command-line style arguments, for `cmd_ln_parse_r(…, ps_args(), argc, argv, strict)`. */
export function buildPocketsphinxArgs(o: Readonly<PocketsphinxOptions>): string[] {
	return [
		'-hmm', o.hmmDir,
		'-lm', o.lmFile,
		'-dict', o.dictFile,
		'-vad_postspeech', String(o.vadPostspeechMs / pocketsphinxFrameMs),
		'-vad_prespeech', String(o.vadPrespeechMs / pocketsphinxFrameMs),
		'-vad_threshold', String(o.vadThresholdDb),
		'-maxhmmpf', String(o.maxHmmsPerFrame),
		'-fwdflat', o.fwdflat ? 'yes' : 'no',
		'-bestpath', o.bestpath ? 'yes' : 'no',
		'-beam', o.beam.toExponential(),
		'-wbeam', o.wordBeam.toExponential(),
		'-lw', String(o.languageWeight),
		...(o.removeNoise !== undefined ? ['-remove_noise', o.removeNoise ? 'yes' : 'no'] : []),
		...(o.dither !== undefined ? ['-dither', o.dither ? 'yes' : 'no'] : []),
		...(o.wordInsertionPenalty !== undefined ? ['-wip', o.wordInsertionPenalty.toExponential()] : []),
		...(o.silenceProbability !== undefined ? ['-silprob', o.silenceProbability.toExponential()] : []),
		...(o.fillerProbability !== undefined ? ['-fillprob', o.fillerProbability.toExponential()] : []),
		// The library logs several hundred lines per decoder to stderr; the engine reports what matters itself.
		'-logfn', '/dev/null',
	];
}
