import { describe, expect, it } from 'vitest';
import { formatBurnedInText } from './formatBurnedInText.js';

describe('formatBurnedInText()', () => {
	it('leads with the speaker name and wraps at word boundaries', () => {
		expect(formatBurnedInText({ speakerName: 'Ada', text: 'welcome back to the show' }, { maxLineChars: 16 })).toBe('Ada: welcome\nback to the show');
	});

	it('keeps the newest two lines of a long utterance', () => {
		const text = 'one two three four five six seven eight nine ten';
		expect(formatBurnedInText({ speakerName: 'Bob', text }, { maxLineChars: 14 })).toBe('five six seven\neight nine ten');
	});

	it('removes line breaks and control characters from hostile names and text, and cuts overlong words', () => {
		const out = formatBurnedInText({ speakerName: 'Eve\n%{pts}\u0007', text: 'a\r\n\u0000b ' + 'x'.repeat(40) }, { maxLineChars: 10, maxLines: 3 });
		expect(out).toBe('Eve %{pts…\na b\nxxxxxxxxx…');
		expect(out.split('\n').every((l) => [...l].length <= 10)).toBe(true);
		// eslint-disable-next-line no-control-regex
		expect(/[\u0000-\u0009\u000b-\u001f]/.test(out)).toBe(false);
	});

	it('is empty when there is nothing to show', () => {
		expect(formatBurnedInText(undefined, { maxLineChars: 40 })).toBe('');
	});
});
