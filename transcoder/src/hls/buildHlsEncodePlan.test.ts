import { describe, expect, it } from 'vitest';
import { defaultLadder } from '../broadcast/ladder.js';
import { buildHlsEncodePlan } from './buildHlsEncodePlan.js';

describe('buildHlsEncodePlan', () => {
	it('writes each rendition to its own pipe with parts of whole frames and keyframes on the segment grid', () => {
		const plan = buildHlsEncodePlan({
			inputArgs: ['-re', '-f', 'lavfi', '-i', 'testsrc2', '-re', '-f', 'lavfi', '-i', 'sine'],
			videoInput: '0:v',
			audioInput: '1:a',
			ladder: defaultLadder,
			partTargetMs: 200,
			segmentTargetMs: 1000,
			frameRate: 30,
		});
		expect(plan.outputs).toEqual([
			{ rendition: '720p', fd: 3 },
			{ rendition: '360p', fd: 4 },
			{ rendition: 'audio', fd: 5 },
		]);
		const args = plan.args.join(' ');
		expect(args).toContain('-filter_complex [0:v]fps=30,split=2[v0][v1];[v0]scale=1280:720,setsar=1[o0];[v1]scale=640:360,setsar=1[o1]');
		expect(args).toContain('-map [o0] -c:v libx264 -preset veryfast -tune zerolatency -bf 0 -g 30 -keyint_min 30 -sc_threshold 0 -b:v 2500k');
		// Video parts: 6 frames at 30 fps. Audio-only parts: 9 AAC frames (192 ms), never above PART-TARGET.
		expect(args.match(/-frag_duration \d+/g)).toEqual(['-frag_duration 200000', '-frag_duration 200000', '-frag_duration 192000']);
		expect(args.endsWith('-use_editlist 1 -flush_packets 1 pipe:5')).toBe(true);
	});

	it('keeps parts whole frames within the PART-TARGET band and makes the GOP whole parts', () => {
		const base = { inputArgs: [], videoInput: '0:v', audioInput: '1:a', ladder: defaultLadder, segmentTargetMs: 1000 };
		expect(buildHlsEncodePlan({ ...base, partTargetMs: 250, frameRate: 30 }).timing).toEqual({ partMs: 700 / 3, segmentMs: 2800 / 3 });
		expect(buildHlsEncodePlan({ ...base, partTargetMs: 200, frameRate: 25 }).timing).toEqual({ partMs: 200, segmentMs: 1000 });
		expect(() => buildHlsEncodePlan({ ...base, partTargetMs: 200, frameRate: 6 })).toThrow(/within \[0.85, 1\] × PART-TARGET/);
	});
});
