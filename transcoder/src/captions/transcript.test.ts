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

	it('places cues from before the first segment at their real time: clipped to the media, never stacked at 0', () => {
		// The replay's media starts 10 s into the caption log (the first encoder run was still starting).
		const late = [10, 11, 12, 13].map((s) => ({ pdtMs: t0 + s * 1000, durationS: 1 }));
		const cues = [
			cue('a', 1000, 3000, 'Ada', 'Wholly before the media'),
			cue('b', 4000, 9999, 'Bob', 'Ends just before it'),
			cue('c', 9000, 10_500, 'Cy', 'Runs into it'),
			cue('d', 10_250, 11_000, 'Dee', 'Inside it'),
			cue('e', 12_000, 12_400, 'Eve', 'Later'),
		];
		expect(buildTranscript(cues, late)).toEqual([
			{ startS: 0, endS: 0.5, speakerName: 'Cy', text: 'Runs into it' },
			{ startS: 0.25, endS: 1, speakerName: 'Dee', text: 'Inside it' },
			{ startS: 2, endS: 2.4, speakerName: 'Eve', text: 'Later' },
		]);
	});

	it('keeps cues said after the end at the end, in the order said, and clips one that runs past it', () => {
		const cues = [cue('a', 7500, 11_000, 'Ada', 'Runs past the end'), cue('b', 10_000, 12_000, 'Bob', 'After the end'), cue('c', 10_000, 10_000, 'Cy', 'Exactly at the end')];
		expect(buildTranscript(cues, segments)).toEqual([
			{ startS: 5.5, endS: 8, speakerName: 'Ada', text: 'Runs past the end' },
			{ startS: 8, endS: 8, speakerName: 'Bob', text: 'After the end' },
			{ startS: 8, endS: 8, speakerName: 'Cy', text: 'Exactly at the end' },
		]);
	});

	it('keeps cues said between runs at the join, in the order they were said, and spans a join at real time on both sides', () => {
		const cues = [
			cue('b', 5000, 5500, 'Bob', 'Second in the gap'),
			cue('a', 4200, 4800, 'Ada', 'First in the gap'),
			cue('c', 3500, 6500, 'Cy', 'Across the join'),
		];
		expect(buildTranscript(cues, segments).map((c) => [c.speakerName, c.startS, c.endS])).toEqual([
			['Cy', 3.5, 4.5],
			['Ada', 4, 4],
			['Bob', 4, 4],
		]);
	});

	it('counts gap placeholders as replay time (the MP4 and the replay playlists do)', () => {
		const withGap = [{ pdtMs: t0, durationS: 1 }, { pdtMs: t0 + 1000, durationS: 0.96 }, { pdtMs: t0 + 5000, durationS: 1 }];
		expect(buildTranscript([cue('a', 5250, 5500, 'Ada', 'After the gap')], withGap)).toEqual([{ startS: 2.21, endS: 2.46, speakerName: 'Ada', text: 'After the gap' }]);
	});

	it('survives hostile input: no segments, reversed and non-finite times, a skewed clock', () => {
		expect(buildTranscript([cue('a', 0, 1000, 'Ada', 'Nothing recorded')], [])).toEqual([]);
		// A cue whose end precedes its start lasts from its start; one without finite times is left out.
		expect(buildTranscript([cue('r', 2500, 2000, 'Ada', 'Reversed'), cue('n', Number.NaN, 1000, 'Bob', 'No time')], segments)).toEqual([{ startS: 2.5, endS: 2.5, speakerName: 'Ada', text: 'Reversed' }]);
		// The second run's wall clock restarts earlier (a takeover on a skewed machine): positions never go backwards.
		const skewed = [{ pdtMs: t0 + 20_000, durationS: 2 }, { pdtMs: t0 + 19_000, durationS: 2 }];
		expect(buildTranscript([cue('s', 21_500, 21_800, 'Ada', 'Late in run one')], skewed)).toEqual([{ startS: 1.5, endS: 1.8, speakerName: 'Ada', text: 'Late in run one' }]);
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
