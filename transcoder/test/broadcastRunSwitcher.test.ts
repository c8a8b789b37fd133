import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { childBoxes } from '../src/hls/mp4Boxes.js';
import { RunSwitcher, type RunItem } from '../src/hls/RunSwitcher.js';

const run = promisify(execFile);

/** A real fMP4 (AAC, 200 ms fragments) from ffmpeg, cut into the init section and its parts. */
async function fragmentedAudio(): Promise<{ init: RunItem; parts: RunItem[] }> {
	const { stdout } = await run(
		'ffmpeg',
		['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=48000:d=2', '-c:a', 'aac', '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '200000', 'pipe:1'],
		{ encoding: 'buffer', maxBuffer: 1 << 24 },
	);
	const boxes = childBoxes(stdout);
	const box = (type: string, from = 0) => boxes.findIndex((b, i) => i >= from && b.type === type);
	const whole = (i: number) => boxes[i]!.box;
	const init: RunItem = { kind: 'init', ftyp: whole(box('ftyp')), moov: whole(box('moov')) };
	const parts: RunItem[] = [];
	for (let i = box('moof'); i >= 0 && i + 1 < boxes.length; i = box('moof', i + 1)) parts.push({ kind: 'part', moof: whole(i), mdat: whole(i + 1) });
	return { init, parts };
}

describe('RunSwitcher', () => {
	let media: Awaited<ReturnType<typeof fragmentedAudio>>;
	beforeAll(async () => {
		media = await fragmentedAudio();
		expect(media.parts.length).toBeGreaterThan(3);
	});

	it('puts a new run on air once every rendition has a part that arrived a warm-up after the run\'s first part of any rendition', () => {
		let now = 0;
		const switched: [number, boolean][] = [];
		const delivered: string[] = [];
		const switcher = new RunSwitcher({
			renditions: ['a', 'b'],
			warmupMs: 100,
			nowMs: () => now,
			deliver: (rendition, item) => delivered.push(`${rendition}:${item.kind}`),
			switched: (n, hadPrevious) => switched.push([n, hadPrevious]),
		});
		const [p0, p1, p2] = media.parts;
		// The first run goes on air at its first parts: nothing else is.
		for (const r of ['a', 'b']) switcher.opened(0, r);
		for (const r of ['a', 'b']) switcher.push(0, r, media.init);
		switcher.push(0, 'a', p0!);
		expect(switched).toEqual([]);
		switcher.push(0, 'b', p0!);
		expect(switched).toEqual([[0, false]]);

		// The next run, while run 0 stays alive: its first part (rendition a) at 1000 ms starts the warm-up.
		for (const r of ['a', 'b']) switcher.opened(1, r);
		for (const r of ['a', 'b']) switcher.push(1, r, media.init);
		now = 1000;
		switcher.push(1, 'a', p0!);
		now = 1050;
		switcher.push(1, 'b', p0!);
		now = 1090;
		switcher.push(1, 'a', p1!);
		expect(switched).toEqual([[0, false]]);
		// b's part at 1120 is 120 ms after the run's first part, though only 70 ms after b's own first one.
		now = 1120;
		switcher.push(1, 'a', p2!);
		expect(switched).toEqual([[0, false]]);
		switcher.push(1, 'b', p1!);
		expect(switched).toEqual([[0, false], [1, true]]);
		// Each rendition of the new run starts with its init section, then only the newest part (all are independent).
		expect(delivered.slice(-4)).toEqual(['a:init', 'a:part', 'b:init', 'b:part']);
		// The old run's output is dropped from then on.
		switcher.push(0, 'a', p1!);
		expect(delivered.at(-1)).toBe('b:part');
	});

	it('never puts an abandoned run on air, and puts a run on air at once when the one on air has ended', () => {
		let now = 0;
		const switched: number[] = [];
		const switcher = new RunSwitcher({ renditions: ['a'], warmupMs: 100, nowMs: () => now, deliver: () => {}, switched: (n) => switched.push(n) });
		const [p0, p1] = media.parts;
		switcher.opened(0, 'a');
		switcher.push(0, 'a', media.init);
		switcher.push(0, 'a', p0!);
		switcher.opened(1, 'a');
		switcher.push(1, 'a', media.init);
		switcher.push(1, 'a', p0!);
		switcher.abandon(1);
		now = 500;
		switcher.push(1, 'a', p1!);
		expect(switched).toEqual([0]);
		switcher.opened(2, 'a');
		switcher.push(2, 'a', media.init);
		switcher.push(2, 'a', p0!);
		expect(switched).toEqual([0]);
		switcher.closed(0, 'a');
		expect(switched).toEqual([0, 2]);
	});
});
