import { describe, expect, it } from 'vitest';
import { subtitlesForExport } from './exportSubtitles.js';

describe('subtitlesForExport()', () => {
	it("turns each cue's voice span into a name prefix and keeps the timings (golden)", () => {
		const vtt = [
			'\uFEFFWEBVTT',
			'',
			'1',
			'00:00:01.000 --> 00:00:02.500',
			'<v Ann Lee>Hello &amp; welcome</v>',
			'',
			'00:00:03.000 --> 00:00:04.000',
			'<v.loud Bob>Thanks, <i>really</i>',
			'',
		].join('\r\n');
		expect(subtitlesForExport(vtt)).toBe(
			['WEBVTT', '', '1', '00:00:01.000 --> 00:00:02.500', 'Ann Lee: Hello &amp; welcome', '', '00:00:03.000 --> 00:00:04.000', 'Bob: Thanks, <i>really</i>', ''].join('\n'),
		);
	});

	it('leaves cues without a voice span alone', () => {
		const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nJust text <b>bold</b>\n';
		expect(subtitlesForExport(vtt)).toBe(vtt);
	});
});
