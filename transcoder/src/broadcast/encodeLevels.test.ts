import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan } from './buildFfmpegPlan.js';
import { computeLayout } from './computeLayout.js';
import { planEncodeLevels } from './encodeLevels.js';
import { defaultLadder, defaultLatency, type Rendition } from './ladder.js';

const canvas = { width: 1280, height: 720 };

describe('planEncodeLevels()', () => {
	it('sheds, with the default ladder: the 720p encode (720p carries 360p, composite at 640x360), 15 fps, ultrafast, 10 fps', () => {
		const levels = planEncodeLevels(defaultLadder, defaultLatency, canvas);
		expect(levels.map((l) => ({ shed: l.shed, encodes: l.ladder.map((r) => `${r.name}${r.video?.preset ? `:${r.video.preset}` : ''}`), servedFrom: l.servedFrom, fps: l.latency.fps, canvas: `${l.canvas.width}x${l.canvas.height}`, restoreCost: l.restoreCost }))).toEqual([
			{ shed: [], encodes: ['720p', '360p', 'audio'], servedFrom: {}, fps: 25, canvas: '1280x720', restoreCost: 0 },
			{ shed: ['720p'], encodes: ['360p', 'audio'], servedFrom: { '720p': '360p' }, fps: 25, canvas: '640x360', restoreCost: 2 },
			{ shed: ['720p', 'fps'], encodes: ['360p', 'audio'], servedFrom: { '720p': '360p' }, fps: 15, canvas: '640x360', restoreCost: 0.53 },
			{ shed: ['720p', 'fps', 'preset'], encodes: ['360p:ultrafast', 'audio'], servedFrom: { '720p': '360p' }, fps: 15, canvas: '640x360', restoreCost: 0.3 },
			{ shed: ['720p', 'fps', 'preset', 'fps-low'], encodes: ['360p:ultrafast', 'audio'], servedFrom: { '720p': '360p' }, fps: 10, canvas: '640x360', restoreCost: 0.4 },
		]);
		expect(levels.map((l) => l.level)).toEqual([0, 1, 2, 3, 4]);
	});

	it('has nothing to shed in an audio-only space', () => {
		expect(planEncodeLevels(defaultLadder.filter((r) => !r.video), defaultLatency, canvas).map((l) => l.shed)).toEqual([[]]);
	});

	it('leaves out the rendition step with one video rendition, and frame rates that would split a part or segment', () => {
		const ladder: Rendition[] = [{ name: '360p', video: { width: 640, height: 360, kbps: 600 }, audioKbps: 64 }, { name: 'audio', audioKbps: 64 }];
		expect(planEncodeLevels(ladder, defaultLatency, { width: 640, height: 360 }).map((l) => l.shed.at(-1))).toEqual([undefined, 'fps', 'preset', 'fps-low']);
		// 250 ms parts: 15 fps would make 3.75 frames a part, 10 fps 2.5.
		expect(planEncodeLevels(ladder, { fps: 25, partTargetMs: 250, segmentTargetMs: 1000 }, { width: 640, height: 360 }).map((l) => l.shed.at(-1))).toEqual([undefined, 'preset']);
	});

	it('every level plans an encode whose GOP is one segment and whose parts are whole frames', () => {
		for (const level of planEncodeLevels(defaultLadder, defaultLatency, canvas)) {
			const outputs = Object.fromEntries(level.ladder.map((r) => [r.name, `/tmp/${r.name}.mp4`]));
			const plan = buildFfmpegPlan(computeLayout({ speakers: [{ id: 'a', name: 'Ada', video: false, muted: false }], pinned: [] }, level.canvas), level.ladder, level.latency, {
				composite: true, sdpPath: '/tmp/x.sdp', streams: new Map(), workDir: '/tmp', fontFile: '/f.ttf', outputs,
			});
			const video = plan.outputs.find((o) => o.rendition === '360p')!.options;
			const at = (flag: string) => video[video.indexOf(flag) + 1];
			const fps = level.latency.fps;
			expect(at('-g')).toBe(String(fps));
			expect(at('-preset')).toBe(level.shed.includes('preset') ? 'ultrafast' : 'veryfast');
			// 200 ms parts: 5 frames at 25 fps, 3 at 15, 2 at 10.
			expect(at('-frag_duration')).toBe('200000');
			expect(plan.filterGraph).toContain(`s=${level.canvas.width}x${level.canvas.height}:r=${fps}`);
			expect(plan.outputs.map((o) => o.rendition)).toEqual(level.ladder.map((r) => r.name));
		}
	});
});
