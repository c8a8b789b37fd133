import { describe, expect, it } from 'vitest';
import { flitePhonesToPocketsphinx, hotwordsText, unigramArpa, vocabularyLimits, vocabularyWordPattern, vocabularyWords } from './captionVocabulary.js';

describe('vocabularyWords', () => {
	it('keeps the words of titles, names and lists, folded to lower-case ASCII (a word with a letter that does not fold is left out), without function words or repeats', () => {
		expect(vocabularyWords(['Kubernetes Operators: office hours', 'Siobhan O’Neill', 'Zoë Łukasz', 'the WebRTC and the Kubernetes'])).toEqual([
			'kubernetes',
			'operators',
			'office',
			'hours',
			'siobhan',
			"o'neill",
			'zoe',
			'webrtc',
		]);
	});

	it('turns hostile text into plain words only: no newline, tab, path, phone or ARPA syntax survives', () => {
		const hostile = [
			'evil\nword\t-1.0\tinjected',
			'../../etc/passwd',
			'/usr/share/pocketsphinx/model',
			'K AH B ER N IY T S',
			'\\data\\ \\end\\ <s> </s> <unk>',
			'-lm /tmp/x -dict /tmp/y',
			'word(2) HH AH L OW',
			"'; rm -rf / #",
			'\u202Eevil\u2066',
			'a'.repeat(100_000),
			'x'.repeat(25),
			'ab12 3d 2fa',
			'',
			':2.0 :score',
		];
		const words = vocabularyWords(hostile);
		for (const word of words) expect(word).toMatch(vocabularyWordPattern);
		expect(words).toEqual(['evil', 'word', 'injected', 'etc', 'passwd', 'usr', 'share', 'pocketsphinx', 'model', 'ah', 'er', 'iy', 'data', 'end', 'unk', 'lm', 'tmp', 'dict', 'hh', 'ow', 'rm', 'rf', 'score']);
	});

	it('is bounded in words, phrases and characters', () => {
		const many = Array.from({ length: 5000 }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26) % 26)}${String.fromCharCode(97 + Math.floor(i / 676))}`);
		expect(vocabularyWords(many)).toHaveLength(vocabularyLimits.maxWords);
		expect(vocabularyWords([`${'b'.repeat(2000)} late`])).toEqual([]);
	});
});

describe('files built from words', () => {
	it('writes a unigram ARPA model with one line per word', () => {
		const arpa = unigramArpa(['grafana', 'okonkwo']);
		expect(arpa.split('\n')).toEqual(['\\data\\', 'ngram 1=4', '', '\\1-grams:', '-99.0000\t<s>\t0.0000', '-0.6021\t</s>\t0.0000', '-0.6021\tgrafana\t0.0000', '-0.6021\tokonkwo\t0.0000', '', '\\end\\', '']);
	});

	it('refuses anything that is not a vocabulary word at the file door', () => {
		for (const bad of ['two words', 'line\nbreak', 'tab\there', '../x', 'UPPER', '', 'a'.repeat(25), "'lead", '<s>']) {
			expect(() => unigramArpa([bad])).toThrow(/not a vocabulary word/);
			expect(() => hotwordsText([bad], true)).toThrow(/not a vocabulary word/);
		}
	});

	it('writes hotwords one per line in the model case', () => {
		expect(hotwordsText(['grafana', "o'neill"], true)).toBe("GRAFANA\nO'NEILL");
		expect(hotwordsText(['grafana'], false)).toBe('grafana');
	});

	it('maps flite phones to the recogniser set and refuses unknown ones', () => {
		expect(flitePhonesToPocketsphinx(['k', 'ax0', 'b', 'er1', 'n', 'iy1', 't', 's'])).toBe('K AH B ER N IY T S');
		expect(flitePhonesToPocketsphinx(['pau', 'el', 'pau'])).toBe('AH L');
		expect(flitePhonesToPocketsphinx(['k', 'XX'])).toBeUndefined();
		expect(flitePhonesToPocketsphinx(['constructor'])).toBeUndefined();
		expect(flitePhonesToPocketsphinx(['__proto__'])).toBeUndefined();
		expect(flitePhonesToPocketsphinx([])).toBeUndefined();
		expect(flitePhonesToPocketsphinx(Array.from({ length: 41 }, () => 'aa'))).toBeUndefined();
	});
});
