import { describe, expect, it } from 'vitest';
import { buildExportPlan, splitReplayRuns, type MeasuredExportInput } from './buildExportPlan.js';
import type { ReplayRun } from './replayPlaylist.js';

const runs: ReplayRun[] = [
	{ initUri: 'init-0.mp4', segments: [0, 1, 2].map((n) => ({ uri: `seg-${n}.m4s`, durationS: 1 })) },
	{ initUri: 'init-1.mp4', segments: [{ uri: 'seg-3.m4s', durationS: 1 }, { uri: 'seg-4.m4s', durationS: 0.5 }] },
];

describe('splitReplayRuns()', () => {
	it('keeps each encoder run apart and cuts long runs into inputs of at most N segments', () => {
		expect(splitReplayRuns(runs, '720p', 2)).toEqual([
			{ initPath: '720p/init-0.mp4', segmentPaths: ['720p/seg-0.m4s', '720p/seg-1.m4s'], playlistDurationS: 2, continuesRun: false },
			{ initPath: '720p/init-0.mp4', segmentPaths: ['720p/seg-2.m4s'], playlistDurationS: 1, continuesRun: true },
			{ initPath: '720p/init-1.mp4', segmentPaths: ['720p/seg-3.m4s', '720p/seg-4.m4s'], playlistDurationS: 1.5, continuesRun: false },
		]);
	});

	it('puts the time of gap placeholders after a run on the run\'s last input', () => {
		const gapped: ReplayRun[] = [{ ...runs[0]!, gapAfterS: 1.92 }, runs[1]!];
		expect(splitReplayRuns(gapped, '720p', 2).map((input) => input.gapAfterS ?? 0)).toEqual([0, 1.92, 0]);
	});

	it('refuses a non-positive input size', () => {
		expect(() => splitReplayRuns(runs, 'audio', 0)).toThrow(RangeError);
	});
});

describe('buildExportPlan()', () => {
	const spans = [
		// The first run's audio outlasts its picture by half an AAC frame; the second run starts its timeline at 0.
		{ startS: 0, endS: 2.010667 },
		{ startS: 2, endS: 3.021333 },
		{ startS: 0, endS: 1.5 },
	];
	const inputs: MeasuredExportInput[] = splitReplayRuns(runs, '720p', 2).map((input, i) => ({ ...input, span: spans[i]! }));

	it('stream-copies every input end to end into a temporary MP4 (golden)', () => {
		const plan = buildExportPlan({ replayDir: '/data/hls/abc', listPath: '/tmp/tribune-export-x/inputs.ffconcat', inputs });
		expect(plan.args.join(' ')).toBe(
			'-hide_banner -nostdin -loglevel info -stats_period 0.5 -f concat -safe 0 -protocol_whitelist file,concat ' +
				'-i /tmp/tribune-export-x/inputs.ffconcat -map 0 -c copy -movflags +faststart -f mp4 replay.mp4.tmp',
		);
		expect(plan.cwd).toBe('/data/hls/abc');
		expect(plan.finalName).toBe('replay.mp4');
		expect(plan.textFiles).toEqual([
			{
				path: '/tmp/tribune-export-x/inputs.ffconcat',
				content: [
					'ffconcat version 1.0',
					// Goes on in the next input: lasts exactly until the next input starts.
					"file 'concat:720p/init-0.mp4|720p/seg-0.m4s|720p/seg-1.m4s'",
					'duration 2.000000',
					// Ends its run: lasts until its longest track ends, so the next run cannot overlap it.
					"file 'concat:720p/init-0.mp4|720p/seg-2.m4s'",
					'duration 1.021333',
					"file 'concat:720p/init-1.mp4|720p/seg-3.m4s|720p/seg-4.m4s'",
					'duration 1.500000',
					'',
				].join('\n'),
			},
		]);
		expect(plan.durationS).toBeCloseTo(4.521333, 6);
		expect([...plan.input.options, '-i', plan.input.url, ...plan.output.options, plan.output.url]).toEqual(plan.args);
	});

	it('adds the captions as a mov_text subtitle track from a second input when there are any (golden)', () => {
		const vtt = 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAnn: Hello\n';
		const plan = buildExportPlan({ replayDir: '/data/hls/abc', listPath: '/tmp/x/inputs.ffconcat', inputs, subtitles: { path: '/tmp/x/captions.vtt', vtt } });
		expect(plan.args.join(' ')).toBe(
			'-hide_banner -nostdin -loglevel info -stats_period 0.5 -f concat -safe 0 -protocol_whitelist file,concat ' +
				'-i /tmp/x/inputs.ffconcat -f webvtt -i /tmp/x/captions.vtt ' +
				'-map 0 -c copy -map 1:s -c:s mov_text -metadata:s:s:0 language=eng -metadata:s:s:0 handler_name=Captions ' +
				'-movflags +faststart -f mp4 replay.mp4.tmp',
		);
		expect(plan.extraInputs).toEqual([{ url: '/tmp/x/captions.vtt', options: ['-f', 'webvtt'] }]);
		expect(plan.textFiles[1]).toEqual({ path: '/tmp/x/captions.vtt', content: vtt });
		expect(plan.durationS).toBeCloseTo(4.521333, 6);
	});

	it('keeps the time of gap placeholders in the MP4: the next run starts that much later, as on the replay\'s timeline', () => {
		const gapped = inputs.map((input, i) => (i === 1 ? { ...input, gapAfterS: 1.92 } : input));
		const plan = buildExportPlan({ replayDir: '/r', listPath: '/t/l', inputs: gapped });
		expect(plan.textFiles[0]!.content).toContain("file 'concat:720p/init-0.mp4|720p/seg-2.m4s'\nduration 2.941333\n");
		expect(plan.durationS).toBeCloseTo(4.521333 + 1.92, 6);
	});

	it('falls back to the playlist durations when an input measures no time', () => {
		const broken = inputs.map((input, i) => (i === 2 ? { ...input, span: { startS: 5, endS: 5 } } : input));
		const plan = buildExportPlan({ replayDir: '/r', listPath: '/t/l', inputs: broken });
		expect(plan.textFiles[0]!.content).toMatch(/720p\/seg-4\.m4s'\nduration 1\.500000\n$/);
	});

	it('quotes names in ffconcat syntax', () => {
		const odd = [{ ...inputs[0]!, initPath: "a'b/init-0.mp4", continuesRun: false }];
		const plan = buildExportPlan({ replayDir: '/r', listPath: '/t/l', inputs: odd });
		expect(plan.textFiles[0]!.content).toContain("file 'concat:a'\\''b/init-0.mp4|720p/seg-0.m4s|720p/seg-1.m4s'");
	});

	it('refuses an empty replay', () => {
		expect(() => buildExportPlan({ replayDir: '/r', listPath: '/t/l', inputs: [] })).toThrow(/nothing to export/);
	});
});
