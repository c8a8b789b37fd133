import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan } from './buildFfmpegPlan.js';
import { computeLayout, type Layout, type StageSnapshot } from './computeLayout.js';
import { defaultLadder, defaultLatency } from './ladder.js';
import { quoteFfmpegToken, zmqCommandText } from './ffmpegToken.js';
import { assignBySpeakerId, layoutCommands, slotsOf, type LiveCommand, type SlotAssignment } from './liveLayout.js';

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
/** Each filter of a graph by name and options, without its link labels (commas inside quotes are not separators). */
const filtersOf = (graph: string): string[] =>
	(graph.match(/(?:'[^']*'|[^;,'])+/g) ?? []).map((f) => f.replace(/^(\[[^\]]*\])+/, '').replace(/(\[[^\]]*\])+$/, ''));
/** That the plan's graph already shows what command `c` would set (the filter named by its target has that value). */
function expectDrawn(filters: string[], c: LiveCommand): void {
	const filter = filters.find((f) => f.startsWith(`${c.target}=`));
	expect(filter, c.target).toBeDefined();
	const args = filter!.slice(c.target.length + 1);
	if (c.command === 'reinit') expect(args).toContain(c.arg);
	else if (c.command === 'volume') expect(args).toBe(c.arg);
	else expect(`:${args.replace(/'/g, '')}:`, `${c.target} ${c.command}`).toContain(`:${c.command}=${c.arg}:`);
}
/** The commands for a layout of an encode planned for exactly its speakers (one slot each, by id). */
const commandsOf = (layout: Layout, with_ = streams) => layoutCommands(layout, assignBySpeakerId(layout, with_));

describe('layoutCommands()', () => {
	it('moves every tile, camera, label and voice of a running composite to a new layout (golden)', () => {
		// Ada pinned: she goes to the top row, Eve to the grid below.
		expect(text(commandsOf(computeLayout(stage(['ada'], { activeSpeakerId: 'ada' }), canvas)))).toEqual([
			'drawbox@tile0 x 284',
			'drawbox@tile0 y 16',
			'drawbox@tile0 w 710',
			'drawbox@tile0 h 400',
			'scale@cam0 w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(710,400*iw/ih)/2)*2))',
			'scale@cam0 h if(lte(iw,16)*lte(ih,16),ih,max(2,trunc(min(400,710*ih/iw)/2)*2))',
			'overlay@cam0 x if(lte(overlay_w,16)*lte(overlay_h,16),-100,284+(710-overlay_w)/2)',
			'overlay@cam0 y if(lte(overlay_w,16)*lte(overlay_h,16),-100,16+(400-overlay_h)/2)',
			// Her camera shows: her initials stay parked.
			'drawtext@initials0 reinit fontsize=8:x=-100:y=-100:fontcolor=white@0:text=-',
			"drawtext@name0 reinit fontsize=28:boxborderw=9:x=312:y=360:fontcolor=white:boxcolor=black@0.55:text='● Ada Lovelace'",
			'volume@panl0 volume 0.7071',
			'volume@panr0 volume 0.7071',
			'drawbox@tile1 x 398',
			'drawbox@tile1 y 432',
			'drawbox@tile1 w 482',
			'drawbox@tile1 h 272',
			'drawtext@initials1 reinit fontsize=91:x=398+(482-tw)/2:y=432+(272-th)/2:fontcolor=white:text=E',
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
		const shown = new Set(text(commandsOf(before)));
		const changed = text(commandsOf(after)).filter((c) => !shown.has(c));
		expect(changed.length).toBeGreaterThan(0);
		// Nothing the pin does not touch is resent: the highlight stays parked, nobody talks.
		expect(changed.some((c) => c.startsWith('drawbox@active'))).toBe(false);
		expect(changed).toContain('scale@cam0 w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(482,272*iw/ih)/2)*2))');
		// Side by side they were panned apart; pinned on top and alone below, both sit in the centre of the stereo field.
		expect(changed.filter((c) => c.startsWith('volume@pan'))).toEqual(['volume@panl0 volume 0.7071', 'volume@panr0 volume 0.7071', 'volume@panl1 volume 0.7071', 'volume@panr1 volume 0.7071']);
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
		const filters = filtersOf(plan.filterGraph);
		for (const c of commandsOf(layout)) {
			if (c.target.startsWith('drawtext@name')) continue;
			expectDrawn(filters, c);
		}
	});

	it('quotes hostile label text once for reinit\'s option parser and once more for the zmq filter (golden)', () => {
		expect(quoteFfmpegToken("Eve'; [x]:text=%{pts}\\ $(id)")).toBe("'Eve'\\''; [x]:text=%{pts}\\ $(id)'");
		const hostile = computeLayout({ speakers: [{ id: 'eve', name: "O'Hara:\n%{localtime}", video: false, muted: true }], pinned: [] }, canvas);
		const label = commandsOf(hostile, new Map()).find((c) => c.target === 'drawtext@name0')!;
		// What drawtext's reinit receives: the text one option value.
		expect(label.arg.endsWith(":text='O'\\''Hara: %{localtime} (muted)'")).toBe(true);
		// What the zmq filter receives: the whole argument one token (its tokenizer strips one level of quoting).
		expect(zmqCommandText(label)).toBe(
			"drawtext@name0 reinit 'fontsize=28:boxborderw=9:x=56:y=648:fontcolor=white:boxcolor=black@0.55:text='\\''O'\\''\\'\\'''\\''Hara: %{localtime} (muted)'\\'''",
		);
		expect(() => zmqCommandText({ target: 'drawtext@name0 x', command: 'reinit', arg: '' })).toThrow(RangeError);
		expect(() => quoteFfmpegToken('a\0b')).toThrow(RangeError);
	});

	describe('a standing encode (slots fixed for its life)', () => {
		// Three slots, each with a voice and a camera input; Ada in slot 2, slots 0 and 1 free.
		const slotStreams = [{ audio: 0, video: 1 }, { audio: 2, video: 3 }, { audio: 4, video: 5 }];
		const assignment = (slotOf: [string, number][], cameras: string[] = []): SlotAssignment => ({ streams: slotStreams, slotOf: new Map(slotOf), cameras: new Set(cameras) });
		const layoutOf = (speakers: { id: string; video?: boolean }[], pinned: string[] = []) =>
			computeLayout({ speakers: speakers.map((s) => ({ id: s.id, name: s.id.toUpperCase(), video: s.video ?? false, muted: false })), pinned }, canvas);

		it('parks every slot nobody is in off the canvas: box, camera, initials and label', () => {
			const commands = text(layoutCommands(layoutOf([{ id: 'ada' }]), assignment([['ada', 2]])));
			for (const slot of [0, 1]) {
				expect(commands).toEqual(expect.arrayContaining([
					`drawbox@tile${slot} x -100`, `drawbox@tile${slot} w 2`, `scale@cam${slot} w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(16,16*iw/ih)/2)*2))`, `overlay@cam${slot} x -100`,
					`drawtext@initials${slot} reinit fontsize=8:x=-100:y=-100:fontcolor=white@0:text=-`,
					`drawtext@name${slot} reinit fontsize=12:boxborderw=4:x=-100:y=-100:fontcolor=white@0:boxcolor=black@0:text=-`,
				]));
			}
			// Ada alone fills the canvas from slot 2, with her initials (no camera flows yet).
			expect(commands).toContain('drawtext@initials2 reinit fontsize=229:x=28+(1222-tw)/2:y=16+(688-th)/2:fontcolor=white:text=A');
		});

		it('shows a join in a free slot and moves the others; a leave parks the slot again', () => {
			const alone = layoutCommands(layoutOf([{ id: 'ada' }]), assignment([['ada', 2]]));
			const joined = layoutCommands(layoutOf([{ id: 'ada' }, { id: 'bob' }]), assignment([['ada', 2], ['bob', 0]]));
			const shown = new Map(alone.map((c) => [`${c.target} ${c.command}`, c.arg]));
			const changed = joined.filter((c) => shown.get(`${c.target} ${c.command}`) !== c.arg).map((c) => c.target);
			// Bob's slot appears, Ada's moves; the free slot 1 is not touched.
			expect(changed).toContain('drawbox@tile0');
			expect(changed).toContain('drawtext@name0');
			expect(changed).toContain('drawbox@tile2');
			expect(changed.some((t) => t.endsWith('1'))).toBe(false);
			// Bob leaves: his slot is parked again, exactly as before he came.
			const left = text(layoutCommands(layoutOf([{ id: 'ada' }]), assignment([['ada', 2]])));
			expect(left).toEqual(text(alone));
		});

		it('shows a camera only once it flows into its slot', () => {
			const speakers = [{ id: 'ada', video: true }];
			const waiting = text(layoutCommands(layoutOf(speakers), assignment([['ada', 1]])));
			expect(waiting).toContain('scale@cam1 w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(16,16*iw/ih)/2)*2))');
			expect(waiting.find((c) => c.startsWith('drawtext@initials1'))).toContain('text=A');
			const flowing = text(layoutCommands(layoutOf(speakers), assignment([['ada', 1]], ['ada'])));
			expect(flowing).toContain('scale@cam1 w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(1222,688*iw/ih)/2)*2))');
			expect(flowing).toContain('drawtext@initials1 reinit fontsize=8:x=-100:y=-100:fontcolor=white@0:text=-');
		});

		it('moves only voices in an audio-only encode', () => {
			const commands = text(layoutCommands(layoutOf([{ id: 'ada' }, { id: 'bob' }]), assignment([['ada', 0], ['bob', 2]]), false));
			expect(commands.every((c) => c.startsWith('volume@pan'))).toBe(true);
			// Ada on the left, Bob on the right, the free slot in the centre (it carries silence).
			expect(commands).toEqual([
				'volume@panl0 volume 0.8874', 'volume@panr0 volume 0.4610',
				'volume@panl1 volume 0.7071', 'volume@panr1 volume 0.7071',
				'volume@panl2 volume 0.4610', 'volume@panr2 volume 0.8874',
			]);
		});

		describe('with a screen share input', () => {
			const withScreen = (slotOf: [string, number][], screenLive: boolean, cameras: string[] = []): SlotAssignment => ({ ...assignment(slotOf, cameras), screen: { video: 6, audio: 7 }, screenLive });
			const sharing = (sharer: string, pinned: string[] = []) =>
				computeLayout({ speakers: ['ada', 'bob'].map((id) => ({ id, name: id.toUpperCase(), video: false, muted: false })), pinned, activeSpeakerId: 'bob', screen: { speakerId: sharer } }, canvas);

			it('parks the share while nobody shares, and puts its box, size and place on the canvas when someone does (golden)', () => {
				const idle = text(layoutCommands(layoutOf([{ id: 'ada' }]), withScreen([['ada', 0]], false)));
				expect(idle.slice(0, 8)).toEqual([
					'drawbox@screen x -100', 'drawbox@screen y -100', 'drawbox@screen w 2', 'drawbox@screen h 2',
					'scale@screen w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(16,16*iw/ih)/2)*2))',
					'scale@screen h if(lte(iw,16)*lte(ih,16),ih,max(2,trunc(min(16,16*ih/iw)/2)*2))',
					'overlay@screen x -100', 'overlay@screen y -100',
				]);
				const shown = text(layoutCommands(sharing('ada'), withScreen([['ada', 0], ['bob', 1]], true)));
				expect(shown.slice(0, 8)).toEqual([
					'drawbox@screen x 8', 'drawbox@screen y 60', 'drawbox@screen w 1064', 'drawbox@screen h 598',
					'scale@screen w if(lte(iw,16)*lte(ih,16),iw,max(2,trunc(min(1064,598*iw/ih)/2)*2))',
					'scale@screen h if(lte(iw,16)*lte(ih,16),ih,max(2,trunc(min(598,1064*ih/iw)/2)*2))',
					'overlay@screen x if(lte(overlay_w,16)*lte(overlay_h,16),-100,8+(1064-overlay_w)/2)',
					'overlay@screen y if(lte(overlay_w,16)*lte(overlay_h,16),-100,60+(598-overlay_h)/2)',
				]);
				// Bob (active) and Ada (sharing) in the strip; their labels inside their tiles, right of the share.
				expect(shown).toContain('drawbox@tile1 x 1080');
				expect(shown.find((c) => c.startsWith('drawtext@name1'))).toContain('x=1092:');
			});

			it('keeps the share box black until its pictures flow, then shows them without moving anything else', () => {
				const waiting = layoutCommands(sharing('ada'), withScreen([['ada', 0], ['bob', 1]], false));
				const flowing = layoutCommands(sharing('ada'), withScreen([['ada', 0], ['bob', 1]], true));
				expect(text(waiting)).toContain('drawbox@screen w 1064');
				expect(text(waiting)).toContain('overlay@screen x -100');
				const before = new Map(waiting.map((c) => [`${c.target} ${c.command}`, c.arg]));
				const changed = flowing.filter((c) => before.get(`${c.target} ${c.command}`) !== c.arg).map((c) => `${c.target} ${c.command}`);
				expect(changed).toEqual(['scale@screen w', 'scale@screen h', 'overlay@screen x', 'overlay@screen y']);
			});

			it('agrees with a plan made for a share: the share chain is drawn as the commands say, its sound is mixed', () => {
				const layout = sharing('bob', ['ada']);
				const slots = withScreen([['ada', 2], ['bob', 0]], true);
				const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, {
					composite: true, sdpPath: '/tmp/j/stage.sdp', slots, workDir: '/tmp/j', fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', outputs: { '720p': 'a', '360p': 'b', audio: 'c' },
				});
				const filters = filtersOf(plan.filterGraph);
				expect(plan.filterGraph).toContain('[0:6]scale@screen=');
				expect(plan.filterGraph).toContain(':eval=frame:flags=lanczos,setsar=1,fps=25[vscreen]');
				expect(plan.filterGraph).toContain('[0:7]aresample=48000:async=1000,aformat=sample_fmts=fltp:channel_layouts=stereo[ascreen]');
				expect(plan.filterGraph).toContain('amix=inputs=4:');
				for (const c of layoutCommands(layout, slots)) {
					if (c.target.startsWith('drawtext@name') && c.arg.includes("text='")) continue;
					expectDrawn(filters, c);
				}
			});
		});

		it('agrees with a plan made for the same slots: nothing to send but the labels of people in them', () => {
			const layout = layoutOf([{ id: 'ada', video: true }, { id: 'bob' }], ['bob']);
			const slots = assignment([['ada', 2], ['bob', 0]], ['ada']);
			const plan = buildFfmpegPlan(layout, defaultLadder, defaultLatency, {
				composite: true, sdpPath: '/tmp/j/stage.sdp', slots, workDir: '/tmp/j', fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', outputs: { '720p': 'a', '360p': 'b', audio: 'c' },
			});
			const filters = filtersOf(plan.filterGraph);
			// Every slot has its chain, the free one too (its inputs carry silence and filler pictures).
			expect(filters.filter((f) => f.startsWith('overlay@cam'))).toHaveLength(3);
			expect(plan.filterGraph).toContain('amix=inputs=3:');
			for (const c of layoutCommands(layout, slots)) {
				if (c.target.startsWith('drawtext@name') && c.arg.includes("text='")) continue;
				expectDrawn(filters, c);
			}
		});
	});
});
