import { describe, expect, it } from 'vitest';
import { WebVttSegmenter } from './WebVttSegmenter.js';

describe('WebVttSegmenter', () => {
	it('writes each cue into every segment it overlaps, mapped to the media timeline in 90 kHz units', () => {
		const vtt = new WebVttSegmenter();
		vtt.add({ startS: 2.5, endS: 3.5, text: 'Hello <b>stage</b>\n\nsecond line' });
		expect(vtt.segment(2, 1)).toBe(`WEBVTT
X-TIMESTAMP-MAP=MPEGTS:180000,LOCAL:00:00:02.000

00:00:02.500 --> 00:00:03.500
Hello &lt;b&gt;stage&lt;/b&gt;
second line

`);
		expect(vtt.segment(3, 1)).toContain('MPEGTS:270000,LOCAL:00:00:03.000\n\n00:00:02.500 --> 00:00:03.500\n');
		expect(vtt.segment(4, 1)).toBe('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:360000,LOCAL:00:00:04.000\n\n');
	});

	it('writes hours past the first hour', () => {
		const vtt = new WebVttSegmenter();
		vtt.add({ startS: 3723.25, endS: 3724, text: 'late' });
		expect(vtt.segment(3723, 1)).toContain('01:02:03.250 --> 01:02:04.000\nlate\n');
	});

	it('rejects a cue that ends before it starts', () => {
		expect(() => new WebVttSegmenter().add({ startS: 2, endS: 2, text: 'x' })).toThrow(/must end after/);
	});
});
