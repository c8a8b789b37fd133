import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changedOutside, LabelRig, nameRegions, prng } from './support/labelRig.js';

/**
 * Names are drawn, never parsed: hostile display names go through the broadcast's real label path (layoutCommands →
 * LiveComposite → ZmqControl → ffmpeg's zmq filter → drawtext reinit) into a real ffmpeg running the plan's composite,
 * and the decoded picture is compared with a baseline (nothing outside the label may change) and with the same
 * labels drawn from text files (each label as typed).
 *
 * `npm run fuzz`: TRIBUNE_BENCH=1, 5 000 random names (TRIBUNE_FUZZ_LABELS); otherwise 1 000. Seeded
 * (TRIBUNE_FUZZ_SEED) so a failure replays. The counts go to stdout (JSON) and are merged into the JSON line in
 * TRIBUNE_BENCH_OUT.
 */
const randomNames = Number(process.env.TRIBUNE_FUZZ_LABELS ?? (process.env.TRIBUNE_BENCH === '1' ? 5000 : 1000));
const seed = Number(process.env.TRIBUNE_FUZZ_SEED ?? 20261205);

/** Names that once rewrote the picture, made ffmpeg read a file, or were refused; and text any parser might take. */
const hostile = [
	'E:boxcolor=white:boxborderw=2000',
	'x:textfile=/etc/hostname',
	'%{localtime}',
	'Eve:expansion=normal:text=%{localtime}',
	':fontfile=/etc/passwd',
	'%{eif:1/0:d}',
	'Dr: Who',
	'a\\b',
	"O'Hara",
	'"double" quotes',
	`it's "both"`,
	"'starts with a quote",
	"ends with a quote'",
	"'",
	'ends with a backslash\\',
	'\\',
	"\\'",
	'a;b',
	'a,b',
	'[x]',
	'[in]null[out];[x]',
	"'; drawtext@name1 reinit text=pwned",
	'مرحبا بالعالم',
	'שלום עולם',
	'\u202Eevil\u202C',
	'😀 👩‍👩‍👧 emoji',
	'  spaces around  ',
	"'".repeat(32),
	'\\'.repeat(32),
	':='.repeat(16),
	"x'\\:=,;[]%{}".repeat(4),
];

/** Random text within (and past) the 32-character limit, from characters every parser on the way treats specially and any script. */
function randomName(random: () => number): string {
	const special = [...`'"\\:=,;[]{}%@ \t\n`];
	const ranges: [number, number][] = [[0x20, 0x7e], [0xa0, 0x24f], [0x590, 0x6ff], [0x900, 0x97f], [0x3040, 0x30ff], [0x4e00, 0x4fff], [0x1f300, 0x1f6ff], [0x300, 0x36f], [0x200b, 0x202e]];
	const length = 1 + Math.floor(random() * 40);
	let name = '';
	for (let i = 0; i < length; i++) {
		if (random() < 0.4) {
			name += special[Math.floor(random() * special.length)];
		} else {
			const [from, to] = ranges[Math.floor(random() * ranges.length)]!;
			name += String.fromCodePoint(from + Math.floor(random() * (to - from + 1)));
		}
	}
	return name;
}

/** Merges `result` into the JSON line already in TRIBUNE_BENCH_OUT (the fuzz run's other counts), or writes it. */
function report(result: Record<string, unknown>): void {
	console.log(JSON.stringify(result));
	const out = process.env.TRIBUNE_BENCH_OUT;
	if (!out) return;
	let merged: Record<string, unknown> = {};
	try {
		merged = JSON.parse(fs.readFileSync(out, 'utf8').trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
	} catch {
		// No earlier counts (or not JSON): this line stands alone.
	}
	fs.writeFileSync(out, `${JSON.stringify({ ...merged, ...result })}\n`);
}

describe('live labels through the real control path', () => {
	describe('hostile names on a two-speaker composite', () => {
		let rig: LabelRig;
		let baseline: Buffer;
		beforeAll(async () => {
			rig = await LabelRig.start(['Eve', 'Ada']);
			await rig.show(['Eve', 'Ada']);
			baseline = await rig.frameLike(await rig.reference(['Eve', 'Ada']));
		}, 60_000);
		afterAll(() => rig?.close());

		it('an ordinary name is drawn as typed (the comparison itself works)', async () => {
			expect(changedOutside(baseline, await rig.reference(['Eve', 'Ada']), [])).toBe(0);
			// And a different name does change the picture, only where names are drawn.
			const other = await rig.reference(['Bartholomew', 'Ada']);
			expect(changedOutside(baseline, other, [])).toBeGreaterThan(0);
			expect(changedOutside(baseline, other, nameRegions(rig.layout, 's0'))).toBe(0);
		});

		it.each(hostile)('%j changes nothing outside its tile and label and is drawn as typed, with no refusal or reconnect', async (name) => {
			const before = rig.composite.counts;
			await rig.show([name, 'Ada']);
			const expected = await rig.reference([name, 'Ada']);
			const frame = await rig.frameLike(expected);
			expect(changedOutside(baseline, frame, nameRegions(rig.layout, 's0')), 'pixels changed outside the name').toBe(0);
			expect(changedOutside(frame, expected, []), 'pixels differing from the label drawn from a file').toBe(0);
			const after = rig.composite.counts;
			expect({ refused: after.refused - before.refused, reconnects: after.reconnects - before.reconnects }, rig.warnings.slice(-3).join(' | ')).toEqual({ refused: 0, reconnects: 0 });
		});
	});

	it('a command ffmpeg refuses is logged with its target and skipped: the commands queued behind it on the same connection are applied, with no reconnect', async () => {
		// One connection, so the order is certain: the labels, then every command of a slot the encode was not planned
		// with (no such filter: refused), then the active-speaker frame, which must still move.
		const rig = await LabelRig.start(['Eve', 'Ada'], { connections: 1 });
		try {
			await rig.show(['Eve', 'Ada']);
			await rig.show(['Zed', 'Ada'], { active: 's0', extraSlots: 1 });
			const zed = await rig.reference(['Zed', 'Ada'], 's0');
			expect(changedOutside(await rig.frameLike(zed), zed, [])).toBe(0);
			// drawbox@tile2 x, y, w, h, drawtext@initials2 and drawtext@name2.
			expect(rig.composite.counts).toMatchObject({ refused: 6, reconnects: 0 });
			const refusals = rig.warnings.filter((line) => line.includes('ffmpeg refused a live command')).map((line) => (JSON.parse(line) as { target: string }).target);
			expect(refusals.sort()).toEqual(['drawbox@tile2', 'drawbox@tile2', 'drawbox@tile2', 'drawbox@tile2', 'drawtext@initials2', 'drawtext@name2']);
			// A refused value is not sent again while it is still the one wanted; the next name is applied.
			await rig.show(['Bo', 'Ada'], { active: 's0', extraSlots: 1 });
			const bo = await rig.reference(['Bo', 'Ada'], 's0');
			expect(changedOutside(await rig.frameLike(bo), bo, [])).toBe(0);
			expect(rig.composite.counts).toMatchObject({ refused: 6, reconnects: 0 });
		} finally {
			rig.close();
		}
	});

	it(`${randomNames} random names go through the label path with no refusal, no reconnect and no change outside the names`, async () => {
		const speakers = 8;
		const random = prng(seed);
		const started = performance.now();
		const ordinary = Array.from({ length: speakers }, (_, i) => `Speaker ${i + 1}`);
		const rig = await LabelRig.start(ordinary);
		try {
			await rig.show(ordinary);
			const baseline = await rig.frame();
			const regions = rig.layout.tiles.flatMap((t) => nameRegions(rig.layout, t.speakerId));
			let sent = 0;
			let pictureChanges = 0;
			const samples: string[] = [];
			// Bounded: one round per `speakers` names, each waiting for ffmpeg's acknowledgement and a frame.
			for (let round = 0; sent < randomNames; round++) {
				const names = Array.from({ length: Math.min(speakers, randomNames - sent) }, () => randomName(random));
				while (names.length < speakers) names.push(ordinary[names.length]!);
				await rig.show(names);
				sent += Math.min(speakers, randomNames - sent);
				if (changedOutside(baseline, await rig.frame(), regions) > 0) {
					pictureChanges++;
					if (samples.length < 5) samples.push(JSON.stringify(names));
				}
			}
			const { refused, reconnects, applied } = rig.composite.counts;
			report({
				label_names: sent,
				label_commands_applied: applied,
				label_refused: refused,
				label_reconnects: reconnects,
				label_picture_changes: pictureChanges,
				label_seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
				label_seed: seed,
			});
			expect({ refused, reconnects, pictureChanges, samples }).toEqual({ refused: 0, reconnects: 0, pictureChanges: 0, samples: [] });
			expect(sent).toBe(randomNames);
		} finally {
			rig.close();
		}
	}, 600_000);
});
