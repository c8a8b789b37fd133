import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { assertVocabularyWords, unigramArpa } from './captionVocabulary.js';
import { type DecoderSegment, type SpeechDecoder } from './SpeechDecoder.js';

/**
 * The C API of Debian's libpocketsphinx3 (0.8+5prealpha) and the two libsphinxbase3 calls it needs, bound with
 * koffi. Signatures are from /usr/include/pocketsphinx/pocketsphinx.h and sphinxbase/cmd_ln.h of that version; the
 * library is loaded by soname so only the runtime packages are needed.
 */
interface PocketsphinxApi {
	ps_args(): unknown;
	cmd_ln_parse_r(inout: null, defn: unknown, argc: number, argv: string[], strict: number): unknown;
	cmd_ln_free_r(config: unknown): number;
	ps_init(config: unknown): unknown;
	ps_free(ps: unknown): number;
	ps_start_stream(ps: unknown): number;
	ps_start_utt(ps: unknown): number;
	ps_process_raw(ps: unknown, data: Int16Array, samples: number, noSearch: number, fullUtt: number): number;
	ps_end_utt(ps: unknown): number;
	ps_get_in_speech(ps: unknown): number;
	ps_get_hyp(ps: unknown, outScore: number[]): string | null;
	ps_seg_iter(ps: unknown): unknown;
	ps_seg_next(seg: unknown): unknown;
	ps_seg_word(seg: unknown): string;
	ps_seg_frames(seg: unknown, outStart: number[], outEnd: number[]): void;
	ps_lookup_word(ps: unknown, word: string): unknown;
	ckd_free(pointer: unknown): void;
	ps_add_word(ps: unknown, word: string, phones: string, update: number): number;
	ps_get_config(ps: unknown): unknown;
	ps_get_logmath(ps: unknown): unknown;
	ngram_model_read(config: unknown, file: string, type: number, logmath: unknown): unknown;
	ngram_model_set_init(config: unknown, models: unknown[], names: string[], weights: number[], n: number): unknown;
	ps_set_lm(ps: unknown, name: string, lm: unknown): number;
	ps_set_search(ps: unknown, name: string): number;
}

/** The space's words for one decoder (see `PocketsphinxDecoder#useVocabulary`). */
export interface PocketsphinxVocabulary {
	/** Vocabulary words (`vocabularyWords()`), checked again here. */
	words: readonly string[];
	/** Interpolation weight of the words' model, in (0, 1). */
	weight: number;
	/** The general language model (`-lm` is then left out of the arguments). */
	baseLmFile: string;
	/** A private, empty directory for the words' model file while it loads. */
	lmDir: string;
	/** Phones for a word missing from the dictionary (`flitePronunciation`), or undefined to leave it out. */
	pronounce: (word: string) => string | undefined;
}

let api: PocketsphinxApi | undefined;

function loadApi(): PocketsphinxApi {
	if (api) return api;
	const ps = koffi.load('libpocketsphinx.so.3');
	const sb = koffi.load('libsphinxbase.so.3');
	koffi.opaque('cmd_ln_t');
	koffi.opaque('arg_t');
	koffi.opaque('ps_decoder_t');
	koffi.opaque('ps_seg_t');
	koffi.opaque('logmath_t');
	koffi.opaque('ngram_model_t');
	api = {
		ps_args: ps.func('const arg_t *ps_args(void)'),
		cmd_ln_parse_r: sb.func('cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *inout, const arg_t *defn, int32_t argc, const char **argv, int32_t strict)'),
		cmd_ln_free_r: sb.func('int cmd_ln_free_r(cmd_ln_t *config)'),
		ps_init: ps.func('ps_decoder_t *ps_init(cmd_ln_t *config)'),
		ps_free: ps.func('int ps_free(ps_decoder_t *ps)'),
		ps_start_stream: ps.func('int ps_start_stream(ps_decoder_t *ps)'),
		ps_start_utt: ps.func('int ps_start_utt(ps_decoder_t *ps)'),
		ps_process_raw: ps.func('int ps_process_raw(ps_decoder_t *ps, const int16_t *data, size_t n_samples, int no_search, int full_utt)'),
		ps_end_utt: ps.func('int ps_end_utt(ps_decoder_t *ps)'),
		ps_get_in_speech: ps.func('uint8_t ps_get_in_speech(ps_decoder_t *ps)'),
		ps_get_hyp: ps.func('const char *ps_get_hyp(ps_decoder_t *ps, _Out_ int32_t *out_best_score)'),
		ps_seg_iter: ps.func('ps_seg_t *ps_seg_iter(ps_decoder_t *ps)'),
		// Frees the iterator and returns NULL after the last segment; every loop below runs to the end.
		ps_seg_next: ps.func('ps_seg_t *ps_seg_next(ps_seg_t *seg)'),
		ps_seg_word: ps.func('const char *ps_seg_word(ps_seg_t *seg)'),
		ps_seg_frames: ps.func('void ps_seg_frames(ps_seg_t *seg, _Out_ int *out_sf, _Out_ int *out_ef)'),
		// Returns a copy the caller frees (ckd_free), or NULL for a word not in the dictionary.
		ps_lookup_word: ps.func('void *ps_lookup_word(ps_decoder_t *ps, const char *word)'),
		ckd_free: sb.func('void ckd_free(void *ptr)'),
		ps_add_word: ps.func('int ps_add_word(ps_decoder_t *ps, const char *word, const char *phones, int update)'),
		ps_get_config: ps.func('cmd_ln_t *ps_get_config(ps_decoder_t *ps)'),
		ps_get_logmath: ps.func('logmath_t *ps_get_logmath(ps_decoder_t *ps)'),
		// file_type: NGRAM_AUTO 0, NGRAM_ARPA 1, NGRAM_BIN 2.
		ngram_model_read: sb.func('ngram_model_t *ngram_model_read(cmd_ln_t *config, const char *file_name, int file_type, logmath_t *lmath)'),
		// With weights, the set interpolates its models (probabilities mixed by weight) rather than selecting one.
		ngram_model_set_init: sb.func('ngram_model_t *ngram_model_set_init(cmd_ln_t *config, ngram_model_t **models, const char **names, const float *weights, int32_t n_models)'),
		ps_set_lm: ps.func('int ps_set_lm(ps_decoder_t *ps, const char *name, ngram_model_t *lm)'),
		ps_set_search: ps.func('int ps_set_search(ps_decoder_t *ps, const char *name)'),
	} as PocketsphinxApi;
	return api;
}

/**
 * A PocketSphinx decoder in continuous mode: audio goes in utterance after utterance, the library's own voice
 * activity detector (`ps_get_in_speech`) tells where speech is, and segment frames count from the start of the
 * stream (`ps_start_stream`), silence included. Must run in the process that owns it: a fault in the library ends
 * that process.
 */
export class PocketsphinxDecoder implements SpeechDecoder {
	readonly framesPerSecond = 100;
	readonly #api: PocketsphinxApi;
	readonly #config: unknown;
	#ps: unknown;
	readonly #score = [0];

	/**
	 * `args` as built by `buildPocketsphinxArgs()`. With a `vocabulary`, `args` must name no `-lm`: the decoder reads
	 * `vocabulary.baseLmFile` itself and interpolates it with the space's words (see `#useVocabulary`). Throws when
	 * the library rejects the arguments or cannot load a model.
	 */
	constructor(args: readonly string[], vocabulary?: PocketsphinxVocabulary) {
		this.#api = loadApi();
		const config = this.#api.cmd_ln_parse_r(null, this.#api.ps_args(), args.length, [...args], 1);
		if (!config) throw new Error(`pocketsphinx rejected its arguments: ${args.join(' ')}`);
		const ps = this.#api.ps_init(config);
		if (!ps) {
			this.#api.cmd_ln_free_r(config);
			throw new Error(`pocketsphinx could not load its model (arguments: ${args.join(' ')})`);
		}
		this.#config = config;
		this.#ps = ps;
		if (vocabulary) {
			try {
				this.added = this.#useVocabulary(ps, vocabulary);
			} catch (error) {
				this.close();
				throw error;
			}
		}
		this.#check(this.#api.ps_start_stream(ps), 'ps_start_stream');
	}

	/** The vocabulary words that were not in the dictionary and were added with flite's pronunciation. */
	readonly added: { word: string; phones: string }[] = [];

	/**
	 * Makes the space's words likelier: each word missing from the dictionary is added with a pronunciation from
	 * `pronounce` (skipped without one), and the search's language model becomes the general one interpolated with a
	 * unigram model of the words (P = (1 − w)·P_general + w·P_words), so the words gain probability in every context
	 * while the rest keep (1 − w) of theirs. The unigram model goes through a file in a private directory of the
	 * caller's (`lmDir`), built only from checked words (`unigramArpa`).
	 */
	#useVocabulary(ps: unknown, vocabulary: PocketsphinxVocabulary): { word: string; phones: string }[] {
		const api = this.#api;
		assertVocabularyWords(vocabulary.words);
		const added: { word: string; phones: string }[] = [];
		const known: string[] = [];
		for (const word of vocabulary.words) {
			const phones = api.ps_lookup_word(ps, word);
			if (phones) {
				api.ckd_free(phones);
				known.push(word);
				continue;
			}
			const pronunciation = vocabulary.pronounce(word);
			if (pronunciation === undefined) continue;
			if (api.ps_add_word(ps, word, pronunciation, 0) < 0) continue;
			added.push({ word, phones: pronunciation });
			known.push(word);
		}
		const config = api.ps_get_config(ps);
		const logmath = api.ps_get_logmath(ps);
		const base = api.ngram_model_read(config, vocabulary.baseLmFile, 0, logmath);
		if (!base) throw new Error(`pocketsphinx could not read its language model ${vocabulary.baseLmFile}`);
		const lmFile = path.join(vocabulary.lmDir, 'vocabulary.arpa');
		fs.writeFileSync(lmFile, unigramArpa(known), { mode: 0o600, flag: 'wx' });
		let words: unknown;
		try {
			words = api.ngram_model_read(config, lmFile, 1, logmath);
		} finally {
			fs.rmSync(lmFile, { force: true });
		}
		if (!words) throw new Error('pocketsphinx could not read the vocabulary language model');
		const set = api.ngram_model_set_init(config, [base, words], ['general', 'space'], [1 - vocabulary.weight, vocabulary.weight], 2);
		if (!set) throw new Error('pocketsphinx could not combine the language models');
		this.#check(api.ps_set_lm(ps, 'space', set), 'ps_set_lm');
		this.#check(api.ps_set_search(ps, 'space'), 'ps_set_search');
		return added;
	}

	startUtterance(): void {
		this.#check(this.#api.ps_start_utt(this.#live()), 'ps_start_utt');
	}

	process(samples: Int16Array): void {
		if (samples.length === 0) return;
		this.#check(this.#api.ps_process_raw(this.#live(), samples, samples.length, 0, 0), 'ps_process_raw');
	}

	inSpeech(): boolean {
		return this.#api.ps_get_in_speech(this.#live()) !== 0;
	}

	hypothesis(): string {
		return this.#api.ps_get_hyp(this.#live(), this.#score) ?? '';
	}

	endUtterance(): DecoderSegment[] {
		const ps = this.#live();
		this.#check(this.#api.ps_end_utt(ps), 'ps_end_utt');
		const segments: DecoderSegment[] = [];
		const start = [0];
		const end = [0];
		for (let seg = this.#api.ps_seg_iter(ps); seg; seg = this.#api.ps_seg_next(seg)) {
			this.#api.ps_seg_frames(seg, start, end);
			segments.push({ word: this.#api.ps_seg_word(seg), startFrame: start[0]!, endFrame: end[0]! });
		}
		return segments;
	}

	close(): void {
		if (!this.#ps) return;
		this.#api.ps_free(this.#ps);
		this.#api.cmd_ln_free_r(this.#config);
		this.#ps = undefined;
	}

	#live(): unknown {
		if (!this.#ps) throw new Error('pocketsphinx decoder is closed');
		return this.#ps;
	}

	#check(result: number, call: string): void {
		if (result < 0) throw new Error(`pocketsphinx ${call} failed (${result})`);
	}
}
