import koffi from 'koffi';
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

	/** `args` as built by `buildPocketsphinxArgs()`. Throws when the library rejects them or cannot load the model. */
	constructor(args: readonly string[]) {
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
		this.#check(this.#api.ps_start_stream(ps), 'ps_start_stream');
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
