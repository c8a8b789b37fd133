import koffi from 'koffi';
import { assertVocabularyWords, flitePhonesToPocketsphinx } from './captionVocabulary.js';

/**
 * Pronunciations for words PocketSphinx's dictionary lacks (a speaker's name, a product), from flite's US English
 * lexicon and its letter-to-sound rules (Debian's libflite1), bound with koffi: the word is a function argument,
 * never a command line. Used in the recogniser process only, which a fault in the library would end alone.
 */
interface FliteApi {
	cmu_lex_init(): unknown;
	lex_lookup(lex: unknown, word: string, pos: null, feats: null): unknown;
	val_car(v: unknown): unknown;
	val_cdr(v: unknown): unknown;
	val_string(v: unknown): string;
	delete_val(v: unknown): void;
}

let loaded: { api: FliteApi; lex: unknown } | undefined;

function load(): { api: FliteApi; lex: unknown } {
	if (loaded) return loaded;
	const flite = koffi.load('libflite.so.1');
	const cmulex = koffi.load('libflite_cmulex.so.1');
	koffi.opaque('cst_lexicon');
	koffi.opaque('cst_val');
	koffi.opaque('cst_features');
	const api = {
		cmu_lex_init: cmulex.func('cst_lexicon *cmu_lex_init(void)'),
		lex_lookup: flite.func('cst_val *lex_lookup(const cst_lexicon *l, const char *word, const char *pos, const cst_features *feats)'),
		val_car: flite.func('const cst_val *val_car(const cst_val *v)'),
		val_cdr: flite.func('const cst_val *val_cdr(const cst_val *v)'),
		val_string: flite.func('const char *val_string(const cst_val *v)'),
		delete_val: flite.func('void delete_val(cst_val *v)'),
	} as FliteApi;
	const lex = api.cmu_lex_init();
	if (!lex) throw new Error('flite: cmu_lex_init failed');
	loaded = { api, lex };
	return loaded;
}

/**
 * PocketSphinx phones for `word` (a vocabulary word, `^[a-z][a-z']*$`), or undefined when flite is not installed or
 * gives phones outside the recogniser's set. Throws for anything that is not a vocabulary word.
 */
export function flitePronunciation(word: string): string | undefined {
	assertVocabularyWords([word]);
	let flite: { api: FliteApi; lex: unknown };
	try {
		flite = load();
	} catch {
		return undefined;
	}
	const { api, lex } = flite;
	const list = api.lex_lookup(lex, word, null, null);
	if (!list) return undefined;
	const phones: string[] = [];
	// A word's phones: at most one per letter or two, bounded anyway.
	for (let cell: unknown = list; cell && phones.length <= 64; cell = api.val_cdr(cell)) phones.push(api.val_string(api.val_car(cell)));
	api.delete_val(list);
	return flitePhonesToPocketsphinx(phones);
}
