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

describe('WebVttSegmenter wall-clock cues', () => {
	const pdt = 1_700_000_000_000;

	it('writes a named cue as a voice span, timed on the segment media clock through its program-date-time', () => {
		const vtt = new WebVttSegmenter();
		vtt.addWallClock({ startMs: pdt + 250, endMs: pdt + 1750, text: 'Welcome back to the show', voice: 'Ada Lovelace' });
		expect(vtt.segment(40, 1, pdt)).toBe(`WEBVTT
X-TIMESTAMP-MAP=MPEGTS:3600000,LOCAL:00:00:40.000

00:00:40.250 --> 00:00:41.750
<v Ada Lovelace>Welcome back to the show</v>

`);
		// The next segment repeats the cue with the same times, so players see one cue.
		expect(vtt.segment(41, 1, pdt + 1000)).toContain('00:00:40.250 --> 00:00:41.750\n<v Ada Lovelace>Welcome back to the show</v>\n');
		expect(vtt.segment(42, 1, pdt + 2000)).toBe('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:3780000,LOCAL:00:00:42.000\n\n');
	});

	it('escapes hostile names and text: no markup, no tag end in the annotation, no blank line, no cue timing arrow', () => {
		const vtt = new WebVttSegmenter();
		vtt.addWallClock({ startMs: pdt, endMs: pdt + 500, text: '</v><c.x>--> 00:00:00.000 --> 9\n\n& more', voice: 'Eve <script>&\n</v>' });
		expect(vtt.segment(0, 1, pdt)).toBe(`WEBVTT
X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000

00:00:00.000 --> 00:00:00.500
<v Eve &lt;script&gt;&amp; &lt;/v&gt;>&lt;/v&gt;&lt;c.x&gt;--&gt; 00:00:00.000 --&gt; 9
&amp; more</v>

`);
	});

	it('lands a cue that arrives after the segment where it began in the segments it still reaches', () => {
		const vtt = new WebVttSegmenter();
		expect(vtt.segment(10, 1, pdt)).not.toContain('-->');
		vtt.addWallClock({ startMs: pdt + 500, endMs: pdt + 3000, text: 'late final', voice: 'Bob' });
		expect(vtt.segment(11, 1, pdt + 1000)).toContain('00:00:10.500 --> 00:00:13.000\n<v Bob>late final</v>\n');
	});

	it('places a cue on each run clock across a discontinuity', () => {
		const vtt = new WebVttSegmenter();
		vtt.addWallClock({ startMs: pdt + 500, endMs: pdt + 2500, text: 'across the switch', voice: 'Bob' });
		expect(vtt.segment(99, 1, pdt)).toContain('00:01:39.500 --> 00:01:41.500');
		// The new run's media time starts at 0.2 s, 1.2 s of wall time later.
		expect(vtt.segment(0.2, 1, pdt + 1200)).toContain('00:00:00.000 --> 00:00:01.500');
	});

	it('orders cues by start and rejects an empty one', () => {
		const vtt = new WebVttSegmenter();
		vtt.addWallClock({ startMs: pdt + 600, endMs: pdt + 900, text: 'second', voice: 'B' });
		vtt.addWallClock({ startMs: pdt + 100, endMs: pdt + 900, text: 'first', voice: 'A' });
		const text = vtt.segment(0, 1, pdt);
		expect(text.indexOf('first')).toBeLessThan(text.indexOf('second'));
		expect(() => vtt.addWallClock({ startMs: pdt, endMs: pdt, text: 'x' })).toThrow(/must end after/);
	});
});
