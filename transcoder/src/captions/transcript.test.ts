import { describe, expect, it } from 'vitest';
import type { CaptionCue } from './captionFeed.js';
import { buildTranscript, renderTranscriptJson, renderTranscriptSrt, renderTranscriptTxt, renderTranscriptVtt } from './transcript.js';

const t0 = 1_700_000_000_000;
const cue = (id: string, startMs: number, endMs: number, speakerName: string, text: string, extra: Partial<CaptionCue> = {}): CaptionCue => ({
	spaceId: 's1', id, speakerName, text, final: true, startMs: t0 + startMs, endMs: t0 + endMs, source: 'asr', ...extra,
});
// Replay: 0-4 s of wall time, then a restart lost 2 s, then 4 s more.
const segments = [0, 1, 2, 3, 6, 7, 8, 9].map((s) => ({ pdtMs: t0 + s * 1000, durationS: 1 }));

describe('buildTranscript()', () => {
	it('maps finals onto the replay timeline, in order, skipping partials and repeats', () => {
		const cues = [
			cue('b', 6500, 8250, 'Bob', 'After the restart', { speakerId: 'p2' }),
			cue('a', 500, 2000, 'Ada', 'Hello everyone', { speakerId: 'p1' }),
			cue('a', 500, 2000, 'Ada', 'Hello everyone', { speakerId: 'p1' }),
			cue('x', 3000, 3500, 'Ada', 'partial', { final: false }),
			cue('c', 4500, 5000, 'Captioner', 'Said in the gap', { source: 'captioner' }),
		];
		expect(buildTranscript(cues, segments)).toEqual([
			{ startS: 0.5, endS: 2, speakerId: 'p1', speakerName: 'Ada', text: 'Hello everyone' },
			{ startS: 4, endS: 4, speakerName: 'Captioner', text: 'Said in the gap' },
			{ startS: 4.5, endS: 6.25, speakerId: 'p2', speakerName: 'Bob', text: 'After the restart' },
		]);
	});
});

describe('transcript writers', () => {
	const cues = [
		{ startS: 0.5, endS: 2, speakerId: 'p1', speakerName: 'Ada <b>', text: 'Hello & welcome' },
		{ startS: 3723.25, endS: 3723.25, speakerName: 'Bob\nEvil: fake', text: 'line\n\nbreak' },
	];

	it('writes WebVTT with voice spans, escaped, one line per cue', () => {
		expect(renderTranscriptVtt(cues)).toBe(`WEBVTT

1
00:00:00.500 --> 00:00:02.000
<v Ada &lt;b&gt;>Hello &amp; welcome</v>

2
01:02:03.250 --> 01:02:03.750
<v Bob Evil: fake>line break</v>
`);
	});

	it('writes SRT with comma decimals and the name leading the text', () => {
		expect(renderTranscriptSrt(cues)).toBe(`1
00:00:00,500 --> 00:00:02,000
Ada <b>: Hello & welcome

2
01:02:03,250 --> 01:02:03,750
Bob Evil: fake: line break
`);
	});

	it('writes plain text with times and names', () => {
		expect(renderTranscriptTxt(cues)).toBe('[00:00:00] Ada <b>: Hello & welcome\n[01:02:03] Bob Evil: fake: line break\n');
	});

	it('writes JSON the api reads back', () => {
		expect(JSON.parse(renderTranscriptJson(cues))).toEqual({ cues });
	});

	it('writes valid empty files for a space nobody spoke in', () => {
		expect(renderTranscriptVtt([])).toBe('WEBVTT\n');
		expect(renderTranscriptSrt([])).toBe('');
		expect(renderTranscriptJson([])).toBe('{\n\t"cues": []\n}\n');
	});
});
