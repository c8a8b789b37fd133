import { describe, expect, it } from 'vitest';
import { plainLine } from './plainLine.js';

describe('plainLine', () => {
	const name = plainLine(50).min(1);
	it('takes names in any script, trimmed', () => {
		expect(name.parse('  Hana Host ')).toBe('Hana Host');
		expect(name.parse('سارة')).toBe('سارة');
		expect(name.parse('Zoë 🎙')).toBe('Zoë 🎙');
	});
	it('refuses control characters, lone surrogates and every bidi embedding, override and isolate', () => {
		for (const c of ['\u0000', '\u0007', '\n', '\u007f', '\u0085', '\ud800', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
			expect(name.safeParse(`Alice${c}tsoh`).success, JSON.stringify(c)).toBe(false);
		}
	});
	it('refuses invisible format characters, but keeps a joiner inside an emoji and a non-joiner inside a word', () => {
		for (const c of ['\u200b', '\u00ad', '\u2060', '\ufeff', '\u200e', '\u200f', '\u061c', '\u{e0041}', '\u200d', '\u200c']) {
			expect(name.safeParse(`Hana${c} Host`).success, JSON.stringify(c)).toBe(false);
			expect(name.safeParse(`Ha${c}na`).success, JSON.stringify(c)).toBe(c === '\u200c');
		}
		for (const ok of ['👩\u200d🎤 Zoë', '👨🏽\u200d💻', '❤️\u200d🔥', 'می\u200cخواهم']) expect(name.safeParse(ok).success, ok).toBe(true);
	});
	it('keeps the length limit', () => {
		expect(name.safeParse('x'.repeat(51)).success).toBe(false);
	});
});
