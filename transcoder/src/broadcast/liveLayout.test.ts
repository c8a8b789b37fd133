import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan } from './buildFfmpegPlan.js';
import { computeLayout, type StageSnapshot } from './computeLayout.js';
import { defaultLadder, defaultLatency } from './ladder.js';
import { layoutCommands, quoteOptionValue, slotsOf } from './liveLayout.js';

const streams = new Map([
	['ada', { audio: 0, video: 1 }],
	['eve', { audio: 2 }],
]);
const stage = (pinned: string[], extra: Partial<StageSnapshot> = {}): StageSnapshot => ({
	speakers: [
		{ id: 'eve', name: 'Eve', video: false, muted: false },
		{ id: 'ada', name: 'Ada Lovelace', video: true, muted: false },
	],
	pinned,
	...extra,
});
const canvas = { width: 1280, height: 720 };
const text = (commands: ReturnType<typeof layoutCommands>) => commands.map((c) => `${c.target} ${c.command} ${c.arg}`);

describe('layoutCommands()', () => {
	it('moves every tile, camera, label and voice of a running composite to a new layout (golden)', () => {
		// Ada pinned: she goes to the top row, Eve to the grid below.
		expect(text(layoutCommands(computeLayout(stage(['ada'], { activeSpeakerId: 'ada' }), canvas), streams))).toEqual([
			'drawbox@tile0 x 284',
			'drawbox@tile0 y 16',
			'drawbox@tile0 w 710',
			'drawbox@tile0 h 400',
			'scale@cam0 w 710',
			'scale@cam0 h 400',
			'overlay@cam0 x 284+(710-overlay_w)/2',
			'overlay@cam0 y 16+(400-overlay_h)/2',
			"drawtext@name0 reinit fontsize=28:boxborderw=9:x=312:y=360:fontcolor=white:boxcolor=black@0.55:text='● Ada Lovelace'",
			'volume@panl0 volume 0.7071',
			'volume@panr0 volume 0.7071',
			'drawbox@tile1 x 398',
			'drawbox@tile1 y 432',
			'drawbox@tile1 w 482',
			'drawbox@tile1 h 272',
			'drawtext@initials1 reinit fontsize=91:x=398+(482-tw)/2:y=432+(272-th)/2',
			"drawtext@name1 reinit fontsize=27:boxborderw=9:x=425:y=650:fontcolor=white:boxcolor=black@0.55:text='Eve'",
			'volume@panl1 volume 0.7071',
			'volume@panr1 volume 0.7071',
			'drawbox@active x 284',
			'drawbox@active y 16',
			'drawbox@active w 710',
			'drawbox@active h 400',
		]);
	});

	it('keeps slots by speaker id, so a pin changes only places, sizes and pans', () => {
		const before = computeLayout(stage([]), canvas);
		const after = computeLayout(stage(['eve']), canvas);
		expect([...slotsOf(before)]).toEqual([...slotsOf(after)]);
		expect([...slotsOf(after)]).toEqual([
			['ada', 0],
			['eve', 1],
		]);
		const shown = new Set(text(layoutCommands(before, streams)));
		const changed = text(layoutCommands(after, streams)).filter((c) => !shown.has(c));
		expect(changed.length).toBeGreaterThan(0);
		// Nothing the pin does not touch is resent: the highlight stays parked, nobody talks.
		expect(changed.some((c) => c.startsWith('drawbox@active'))).toBe(false);
		expect(changed).toContain('scale@cam0 w 482');
		// Side by side they were panned apart; pinned on top and alone below, both sit in the centre of the stereo field.
		expect(changed.filter((c) => c.startsWith('volume@pan'))).toEqual(['volume@panl1 volume 0.7071', 'volume@panr1 volume 0.7071', 'volume@panl0 volume 0.7071', 'volume@panr0 volume 0.7071']);
	});

	it('agrees with the plan: a composite planned for a layout needs no command to show it but its labels', () => {
		const layout = computeLayout(stage(['ada'], { activeSpeakerId: 'eve' }), canvas);
		const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, {
			composite: true,
			sdpPath: '/tmp/j/stage.sdp',
			streams,
			workDir: '/tmp/j',
			fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			outputs: { '720p': 'a', '360p': 'b', audio: 'c' },
		});
		// Each filter of the graph by name, without its link labels.
		const filters = plan.filterGraph.split(/[;,]/).map((f) => f.replace(/^(\[[^\]]*\])+/, '').replace(/(\[[^\]]*\])+$/, ''));
		for (const c of layoutCommands(layout, streams)) {
			if (c.target.startsWith('drawtext@name')) continue;
			const filter = filters.find((f) => f.startsWith(`${c.target}=`));
			expect(filter, c.target).toBeDefined();
			const args = filter!.slice(c.target.length + 1);
			if (c.command === 'reinit') expect(args).toContain(c.arg);
			else if (c.command === 'volume') expect(args).toBe(c.arg);
			else expect(`:${args}:`, `${c.target} ${c.command}`).toContain(`:${c.command}=${c.arg}:`);
		}
	});

	it('quotes hostile label text so drawtext takes it literally', () => {
		expect(quoteOptionValue("Eve'; [x]:text=%{pts}\\ $(id)")).toBe("'Eve'\\''; [x]:text=%{pts}\\ $(id)'");
		const hostile = computeLayout({ speakers: [{ id: 'eve', name: "O'Hara:\n%{localtime}", video: false, muted: true }], pinned: [] }, canvas);
		const label = text(layoutCommands(hostile, new Map())).find((c) => c.startsWith('drawtext@name0'))!;
		expect(label.endsWith(":text='O'\\''Hara: %{localtime} (muted)'")).toBe(true);
	});
});
