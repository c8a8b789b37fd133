import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { childBoxes } from '../src/hls/mp4Boxes.js';
import { RunSwitcher, type RunItem, type SwitchDetails } from '../src/hls/RunSwitcher.js';

const run = promisify(execFile);

/** A real fMP4 (AAC, 213 ms fragments, 4 s unless said) from ffmpeg, cut into the init section and its parts. */
async function fragmentedAudio(seconds = 4): Promise<{ init: RunItem; parts: RunItem[] }> {
	const { stdout } = await run(
		'ffmpeg',
		['-v', 'error', '-f', 'lavfi', '-i', `sine=f=440:r=48000:d=${seconds}`, '-c:a', 'aac', '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '200000', 'pipe:1'],
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
	let long: Awaited<ReturnType<typeof fragmentedAudio>>;
	beforeAll(async () => {
		media = await fragmentedAudio();
		expect(media.parts.length).toBeGreaterThan(3);
		long = await fragmentedAudio(20);
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
		// Every rendition is past the warm-up, but b is a part behind a: run 0 stays on air until b reaches a's p2.
		expect(switched).toEqual([[0, false]]);
		switcher.push(1, 'b', p2!);
		expect(switched).toEqual([[0, false], [1, true]]);
		// Each rendition of the new run starts with its init section, then its part of that one instant (p2).
		expect(delivered.slice(-4)).toEqual(['a:init', 'a:part', 'b:init', 'b:part']);
		// The old run's output is dropped from then on.
		switcher.push(0, 'a', p1!);
		expect(delivered.at(-1)).toBe('b:part');
	});

	it('tells how late the output on air is, by its encoder clock (else its arrivals), growing while nothing arrives', () => {
		let now = 0;
		const switcher = new RunSwitcher({ renditions: ['a', 'b'], warmupMs: 100, nowMs: () => now, deliver: () => {}, switched: () => {} });
		const [p0, p1] = media.parts;
		const endS = (item: RunItem, index: number) => (item.kind === 'part' ? (index + 1) * 0.2133 : 0);
		expect(switcher.outputLagMs()).toBeUndefined();
		for (const r of ['a', 'b']) {
			switcher.opened(0, r);
			switcher.push(0, r, media.init);
		}
		// Its encoder read media instant 0 at 10 s; the first part (0.213 s of media) reaches both renditions at 10.5 s.
		switcher.mediaOrigin(0, 10_000);
		now = 10_500;
		switcher.push(0, 'a', p0!);
		expect(switcher.outputLagMs()).toBeUndefined();
		switcher.push(0, 'b', p0!);
		expect(switcher.outputLagMs()).toBeCloseTo(10_500 - 10_000 - endS(p0!, 0) * 1000, 0);
		// Nothing more for 1.5 s: the output is that much later; a part of one rendition alone does not make it earlier.
		now = 12_000;
		switcher.push(0, 'a', p1!);
		expect(switcher.outputLagMs()).toBeCloseTo(2000 - endS(p0!, 0) * 1000, 0);
		switcher.push(0, 'b', p1!);
		expect(switcher.outputLagMs()).toBeCloseTo(2000 - endS(p1!, 1) * 1000, 0);

		// A run whose encoder told no clock: measured from its quickest part (arrival less its media's end).
		const byArrivals = new RunSwitcher({ renditions: ['a'], warmupMs: 100, nowMs: () => now, deliver: () => {}, switched: () => {} });
		byArrivals.opened(0, 'a');
		byArrivals.push(0, 'a', media.init);
		now = 20_000;
		byArrivals.push(0, 'a', p0!);
		expect(byArrivals.outputLagMs()).toBeCloseTo(0, 0);
		expect(byArrivals.outputLagMs(21_000)).toBeCloseTo(1000, 0);
	});

	it('starts every rendition of a new run at one media instant, however far one arrives ahead of another', () => {
		const delivered: { rendition: string; item: RunItem }[] = [];
		const switcher = new RunSwitcher({ renditions: ['lead', 'lag'], warmupMs: 100, nowMs: () => 0, deliver: (rendition, item) => delivered.push({ rendition, item }), switched: () => {} });
		// The run on air has died: the next goes on air as soon as every rendition has an independent part.
		for (const r of ['lead', 'lag']) {
			switcher.opened(1, r);
			switcher.push(1, r, media.init);
		}
		// 'lead' is six parts (1.2 s) ahead of 'lag' when 'lag' delivers its first part.
		for (const part of media.parts.slice(0, 7)) switcher.push(1, 'lead', part);
		expect(delivered).toEqual([]);
		switcher.push(1, 'lag', media.parts[0]!);
		const startOf = (item: RunItem) => (item.kind === 'part' ? item.moof : undefined);
		const partsOf = (rendition: string) => delivered.filter((d) => d.rendition === rendition && d.item.kind === 'part').map((d) => startOf(d.item));
		// Both start at the same part (the same media time); 'lead' then delivers the rest it holds, nothing is skipped.
		expect(partsOf('lag')).toEqual([media.parts[0]!.kind === 'part' && media.parts[0]!.moof]);
		expect(partsOf('lead')).toEqual(media.parts.slice(0, 7).map((p) => p.kind === 'part' && p.moof));
	});

	it('keeps the run on air until a lagging rendition of the new run reaches the leading one, for at most 2 s', () => {
		let now = 0;
		const delivered: { rendition: string; item: RunItem }[] = [];
		const switched: number[] = [];
		const switcher = new RunSwitcher({ renditions: ['lead', 'lag'], warmupMs: 100, nowMs: () => now, deliver: (rendition, item) => delivered.push({ rendition, item }), switched: (n) => switched.push(n) });
		const opened = (run: number) => {
			for (const r of ['lead', 'lag']) {
				switcher.opened(run, r);
				switcher.push(run, r, media.init);
			}
		};
		opened(0);
		for (const r of ['lead', 'lag']) switcher.push(0, r, media.parts[0]!);
		expect(switched).toEqual([0]);
		const moofOf = (item: RunItem) => (item.kind === 'part' ? item.moof : undefined);
		const parts = media.parts.map(moofOf);
		const deliveredOf = (rendition: string, from: number) => delivered.slice(from).filter((d) => d.rendition === rendition && d.item.kind === 'part').map((d) => moofOf(d.item));

		// Run 1: 'lead' is three parts ahead of 'lag' once both are past the warm-up.
		opened(1);
		for (const [i, part] of media.parts.slice(0, 4).entries()) {
			now = 1000 + i * 200;
			switcher.push(1, 'lead', part);
		}
		now = 1700;
		switcher.push(1, 'lag', media.parts[0]!);
		expect(switched).toEqual([0]);
		const before = delivered.length;
		for (const [i, part] of media.parts.slice(1, 4).entries()) {
			now = 1900 + i * 200;
			switcher.push(1, 'lag', part);
		}
		// Both start at 'lead''s newest part when the switch became possible: nothing run 0 showed is repeated.
		expect(switched).toEqual([0, 1]);
		expect(deliveredOf('lead', before)).toEqual([parts[3]]);
		expect(deliveredOf('lag', before)).toEqual([parts[3]]);

		// Run 2: 'lag' does not catch up within 2 s; then both start at the newest instant both have reached.
		opened(2);
		now = 5000;
		for (const part of media.parts.slice(0, 4)) switcher.push(2, 'lead', part);
		now = 5200;
		switcher.push(2, 'lag', media.parts[0]!);
		switcher.push(2, 'lead', media.parts[4]!);
		now = 7100;
		switcher.push(2, 'lag', media.parts[1]!);
		expect(switched).toEqual([0, 1]);
		const atFallback = delivered.length;
		now = 7300;
		switcher.push(2, 'lead', media.parts[5]!);
		expect(switched).toEqual([0, 1, 2]);
		expect(deliveredOf('lag', atFallback)).toEqual([parts[1]]);
		expect(deliveredOf('lead', atFallback)).toEqual(parts.slice(1, 6));
	});

	it('keeps a slow run on air until it has delivered its backlog up to where the new run begins, while it delivers (5 s at most)', () => {
		let now = 0;
		const delivered: { run: number; rendition: string; item: RunItem }[] = [];
		const switched: number[] = [];
		let runOf = 0;
		const switcher = new RunSwitcher({
			renditions: ['a'],
			warmupMs: 100,
			nowMs: () => now,
			deliver: (rendition, item) => delivered.push({ run: runOf, rendition, item }),
			switched: (n) => {
				runOf = n;
				switched.push(n);
			},
		});
		const moofOf = (item: RunItem) => (item.kind === 'part' ? item.moof : undefined);
		const parts = media.parts.map(moofOf);
		const open = (run: number) => {
			switcher.opened(run, 'a');
			switcher.push(run, 'a', media.init);
		};
		// Parts of 10 AAC frames: 213 ms. Run 0 keeps real time for its first five (each arrives as its media ends),
		// then falls to a third of real time: its part 5 (media to 1280 ms, captured by then) arrives at 1600.
		const partMs = (10 * 1024) / 48;
		open(0);
		for (let i = 0; i < 5; i++) {
			now = Math.round(partMs * (i + 1));
			switcher.push(0, 'a', media.parts[i]!);
		}
		now = 1600;
		switcher.push(0, 'a', media.parts[5]!);
		// Run 1 starts at real time, its media beginning at 1900 ms.
		open(1);
		const run1 = (i: number) => {
			now = Math.round(1900 + partMs * (i + 1));
			switcher.push(1, 'a', media.parts[i]!);
		};
		run1(0);
		run1(1);
		// Ready (past its warm-up), but run 0 has delivered only to 1280 ms (then 1493) of the 1900 where run 1 begins:
		// it stays on air, and so it does at 1707.
		switcher.push(0, 'a', media.parts[6]!);
		expect(switched).toEqual([0]);
		for (let i = 2; i <= 4; i++) run1(i);
		switcher.push(0, 'a', media.parts[7]!);
		expect(switched).toEqual([0]);
		for (let i = 5; i <= 7; i++) run1(i);
		// Run 0's part 8 takes it to 1920 ms: run 1 goes on air from its first part (media 0: 1900 ms), not its newest
		// (1.5 s of media later); what run 0 had not delivered when run 1 was ready is not lost.
		switcher.push(0, 'a', media.parts[8]!);
		expect(switched).toEqual([0, 1]);
		const ofRun = (run: number) => delivered.filter((d) => d.run === run && d.item.kind === 'part').map((d) => moofOf(d.item));
		expect(ofRun(0)).toEqual(parts.slice(0, 9));
		expect(ofRun(1)).toEqual(parts.slice(0, 8));

		// Run 2 while run 1 has gone quiet (stuck): no wait for a backlog that will not come; it starts at its newest part.
		open(2);
		for (const [i, part] of media.parts.slice(0, 3).entries()) {
			now = 5000 + 200 * i;
			switcher.push(2, 'a', part);
		}
		expect(switched).toEqual([0, 1, 2]);
		expect(ofRun(2)).toEqual(parts.slice(1, 3));
	});

	it('waits for a slow run\'s backlog 5 s at most', () => {
		let now = 0;
		const switched: number[] = [];
		const switcher = new RunSwitcher({ renditions: ['a'], warmupMs: 100, nowMs: () => now, deliver: () => {}, switched: (n) => switched.push(n) });
		const open = (run: number) => {
			switcher.opened(run, 'a');
			switcher.push(run, 'a', media.init);
		};
		open(0);
		now = 200;
		switcher.push(0, 'a', media.parts[0]!);
		// Run 1 begins at 1000 ms; run 0 delivers a part every 900 ms, none of it later media (it never catches up).
		open(1);
		now = 1200;
		switcher.push(1, 'a', media.parts[0]!);
		now = 1300;
		switcher.push(0, 'a', media.parts[1]!);
		now = 1400;
		switcher.push(1, 'a', media.parts[1]!);
		expect(switched).toEqual([0]);
		for (let i = 1; i < 9 && switched.length < 2; i++) {
			now = 1400 + 900 * i;
			switcher.push(0, 'a', media.parts[1]!);
		}
		expect(switched).toEqual([0, 1]);
		expect(now).toBeGreaterThanOrEqual(1400 + 5000);
		expect(now).toBeLessThan(1400 + 5000 + 900);
	});

	it('reads a new run\'s clock only once its start-up burst has arrived, and starts it where the run on air delivered to', () => {
		let now = 0;
		const delivered: { run: number; item: RunItem }[] = [];
		const switched: number[] = [];
		let runOf = 0;
		const switcher = new RunSwitcher({
			renditions: ['a'],
			warmupMs: 100,
			nowMs: () => now,
			deliver: (_, item) => delivered.push({ run: runOf, item }),
			switched: (n) => {
				runOf = n;
				switched.push(n);
			},
		});
		const partMs = (10 * 1024) / 48;
		const open = (run: number) => {
			switcher.opened(run, 'a');
			switcher.push(run, 'a', media.init);
		};
		// Run 0 keeps real time: each part arrives as its media ends.
		open(0);
		let next0 = 0;
		const run0Until = (ms: number) => {
			for (; Math.round(partMs * (next0 + 1)) <= ms; next0++) {
				now = Math.round(partMs * (next0 + 1));
				switcher.push(0, 'a', media.parts[next0]!);
			}
		};
		run0Until(2000);
		// Run 1's media begins at 850 ms; starting, it writes its first six parts in a burst with a pause in it (what its
		// input held), then keeps real time.
		open(1);
		const run1 = (i: number, at: number) => {
			run0Until(at);
			now = at;
			switcher.push(1, 'a', media.parts[i]!);
		};
		run1(0, 2000);
		run1(1, 2005);
		run1(2, 2110);
		// Past its warm-up, but its clock would put its media 620 ms later than it began: it stays off the air.
		expect(switched).toEqual([0]);
		run1(3, 2115);
		run1(4, 2120);
		run1(5, 2125);
		run1(6, Math.round(850 + partMs * 7));
		expect(switched).toEqual([0]);
		// Two parts in a row at real-time pace: its clock holds, and it goes on air right after what run 0 delivered
		// (parts 0–10: 2347 ms, run 1's 1493 ms), not 620 ms before it.
		run1(7, Math.round(850 + partMs * 8));
		expect(switched).toEqual([0, 1]);
		const moofOf = (item: RunItem) => (item.kind === 'part' ? item.moof : undefined);
		const ofRun = (run: number) => delivered.filter((d) => d.run === run && d.item.kind === 'part').map((d) => moofOf(d.item));
		expect(ofRun(0)).toEqual(media.parts.slice(0, 11).map(moofOf));
		expect(ofRun(1)).toEqual([moofOf(media.parts[7]!)]);
	});

	/**
	 * Plays `arrivals` (each a run's part, by its index in `fixture`, of a rendition, at a time) into a switcher of
	 * `renditions` whose runs' encoders told their media origins (`originsMs`, by run, unless undefined); returns each
	 * rendition's parts as they went on air (run, index) and each switch (run, when, how).
	 */
	function playArrivals(fixture: { init: RunItem; parts: RunItem[] }, renditions: string[], arrivals: { at: number; run: number; rendition: string; index: number }[], originsMs?: number[]) {
		let now = 0;
		let runOf = 0;
		const delivered: { run: number; rendition: string; index: number }[] = [];
		const switches: { run: number; atMs: number; details: SwitchDetails }[] = [];
		const indexOf = (item: RunItem) => fixture.parts.findIndex((p) => p.kind === 'part' && item.kind === 'part' && p.moof === item.moof);
		const switcher = new RunSwitcher({
			renditions,
			warmupMs: 100,
			nowMs: () => now,
			deliver: (rendition, item) => {
				if (item.kind === 'part') delivered.push({ run: runOf, rendition, index: indexOf(item) });
			},
			switched: (run, _, details) => {
				runOf = run;
				switches.push({ run, atMs: now, details });
			},
		});
		const runs = [...new Set(arrivals.map((a) => a.run))].sort();
		for (const run of runs) {
			for (const rendition of renditions) switcher.opened(run, rendition);
			if (originsMs) switcher.mediaOrigin(run, originsMs[run]!);
		}
		const started = new Set<string>();
		for (const { at, run, rendition, index } of [...arrivals].sort((x, y) => x.at - y.at || x.run - y.run)) {
			now = at;
			if (!started.has(`${run}/${rendition}`)) switcher.push(run, rendition, fixture.init);
			started.add(`${run}/${rendition}`);
			switcher.push(run, rendition, fixture.parts[index]!);
		}
		return { delivered, switches };
	}

	/** On the wall clock, ms: where run 0's media on air ends and where run 1's begins (its media origin `run1OriginMs`). */
	function handOver(delivered: { run: number; rendition: string; index: number }[], partMs: number, run1OriginMs: number) {
		const ofFirst = delivered.filter((d) => d.rendition === delivered[0]!.rendition);
		return { run0EndMs: ofFirst.filter((d) => d.run === 0).length * partMs, run1StartMs: run1OriginMs + ofFirst.find((d) => d.run === 1)!.index * partMs };
	}

	it('places a new run by its encoder\'s clock: one started on a starved machine, its parts late by its encode, repeats no more than a part', () => {
		const partMs = (10 * 1024) / 48;
		// Run 0's media begins at 0 ms: its first parts arrive as their media ends, then it falls behind, 2 s at most
		// (a slow encode). Run 1's media begins at 1000 ms, and every part of it arrives 1.5 s after its media ends
		// (an encode started on a starved machine), at real-time pace.
		const arrivals = media.parts.flatMap((_, i) => [
			{ at: Math.round(partMs * (i + 1) + Math.min(2000, Math.max(0, i - 2) * 300)), run: 0, rendition: 'a', index: i },
			{ at: Math.round(1000 + partMs * (i + 1) + 1500), run: 1, rendition: 'a', index: i },
		]);
		const byEncoder = playArrivals(media, ['a'], arrivals, [0, 1000]);
		expect(byEncoder.switches.map((s) => s.details.placedBy)).toEqual(['none', 'encoder']);
		expect(byEncoder.switches[1]!.details.arrivalLagMs).toBeCloseTo(1500, -1);
		const { run0EndMs, run1StartMs } = handOver(byEncoder.delivered, partMs, 1000);
		expect(run0EndMs - run1StartMs).toBeGreaterThanOrEqual(-partMs);
		expect(run0EndMs - run1StartMs).toBeLessThanOrEqual(partMs);
		// By arrivals alone, run 1's clock carries its 1.5 s of encode, and it repeated about that much.
		const byArrivals = playArrivals(media, ['a'], arrivals);
		expect(byArrivals.switches.map((s) => s.details.placedBy)).toEqual(['none', 'arrivals']);
		const arrived = handOver(byArrivals.delivered, partMs, 1000);
		expect(arrived.run0EndMs - arrived.run1StartMs).toBeGreaterThan(1200);
	});

	it('keeps the run on air while a new run started on a starved machine catches up (15 s at most), then follows it within a part', () => {
		const partMs = (10 * 1024) / 48;
		// Run 0 (media from 0 ms) delivers each part 300 ms after its media ends. Run 1 (media from 1000 ms) starts 8 s
		// behind its input and catches up at 2.2× real time to 300 ms behind (after about 14 s of its media).
		const arrivals = long.parts.flatMap((_, i) => [
			{ at: Math.round(partMs * (i + 1) + 300), run: 0, rendition: 'a', index: i },
			{ at: Math.round(1000 + partMs * (i + 1) + Math.max(300, 8000 - 0.55 * partMs * (i + 1))), run: 1, rendition: 'a', index: i },
		]);
		const { delivered, switches } = playArrivals(long, ['a'], arrivals, [0, 1000]);
		// It waited past the 5 s a slow run on air gets (going on air then repeated 1.2 s), less than 15 s.
		const readyAtMs = arrivals.find((a) => a.run === 1 && a.index === 1)!.at;
		expect(switches[1]!.atMs - readyAtMs).toBeGreaterThan(5000);
		expect(switches[1]!.atMs - readyAtMs).toBeLessThan(15_000);
		const { run0EndMs, run1StartMs } = handOver(delivered, partMs, 1000);
		expect(run0EndMs - run1StartMs).toBeGreaterThanOrEqual(-partMs);
		expect(run0EndMs - run1StartMs).toBeLessThanOrEqual(partMs);
	});

	it('waits for a run on air whose renditions are all late (a starved encoder) and keeps its backlog, not for one whose picture stopped while its sound goes on', () => {
		const partMs = (10 * 1024) / 48;
		// Run 0's media begins at 0 ms, run 1's at 1000 ms (their encoders' clocks). Run 0 delivers parts 0–2 as their
		// media ends, then `a` (and `b` unless it keeps going) nothing until 3500 ms, when its backlog comes: parts 3–10.
		// Run 1's parts arrive 300 ms after their media ends.
		const replay = (bKeepsGoing: boolean) => {
			const arrivals: { at: number; run: number; rendition: string; index: number }[] = [];
			for (let i = 0; i <= 10; i++) {
				const onTime = Math.round(partMs * (i + 1));
				arrivals.push({ at: i <= 2 ? onTime : Math.max(3500, onTime), run: 0, rendition: 'a', index: i });
				arrivals.push({ at: i <= 2 || bKeepsGoing ? onTime : Math.max(3500, onTime), run: 0, rendition: 'b', index: i });
			}
			for (let i = 0; i < 12; i++) for (const rendition of ['a', 'b']) arrivals.push({ at: Math.round(1000 + partMs * (i + 1) + 300), run: 1, rendition, index: i });
			return handOver(playArrivals(media, ['a', 'b'], arrivals, [0, 1000]).delivered, partMs, 1000);
		};
		// Starved: run 1 waited for run 0's backlog up to where its own media begins (1000 ms) and follows it within a
		// part: nothing lost, nothing twice.
		const starved = replay(false);
		expect(starved.run0EndMs).toBeGreaterThanOrEqual(1000);
		expect(starved.run1StartMs).toBeLessThanOrEqual(starved.run0EndMs + 1);
		expect(starved.run1StartMs).toBeGreaterThan(starved.run0EndMs - partMs);
		// Only the picture stopped (`a` more than a second behind `b`): run 1 went on air from its newest part once that
		// was so, without waiting for 3500 ms; what `a` never delivered is lost.
		const stopped = replay(true);
		expect(stopped.run0EndMs).toBeLessThan(1000);
		expect(stopped.run1StartMs).toBeGreaterThan(1000);
	});

	it('starts a new run that waited for the renditions on air to align where the run on air had delivered to by then', () => {
		let now = 0;
		const delivered: { run: number; rendition: string; item: RunItem }[] = [];
		let runOf = 0;
		const switched: number[] = [];
		// The renditions on air are at different segment numbers until 2300 ms (the packager's check).
		const switcher = new RunSwitcher({
			renditions: ['a', 'b'],
			warmupMs: 100,
			nowMs: () => now,
			aligned: () => now >= 2300,
			maxAlignWaitMs: 1000,
			deliver: (rendition, item) => delivered.push({ run: runOf, rendition, item }),
			switched: (n) => {
				runOf = n;
				switched.push(n);
			},
		});
		const partMs = (10 * 1024) / 48;
		const open = (run: number) => {
			for (const r of ['a', 'b']) {
				switcher.opened(run, r);
				switcher.push(run, r, media.init);
			}
		};
		// Every part arrives as its media ends: run 0's media begins at 0 ms, run 1's at 1000.
		const arrivals = [
			...media.parts.slice(0, 18).flatMap((part, i) => ['a', 'b'].map((rendition) => ({ run: 0, rendition, part, i, at: partMs * (i + 1) }))),
			...media.parts.slice(0, 14).flatMap((part, i) => ['a', 'b'].map((rendition) => ({ run: 1, rendition, part, i, at: 1000 + partMs * (i + 1) }))),
		].sort((a, b) => a.at - b.at);
		open(0);
		let opened = false;
		let deliveredToMs = 0;
		for (const { run, rendition, part, i, at } of arrivals) {
			if (switched.includes(1)) break;
			if (run === 1 && !opened) {
				open(1);
				opened = true;
			}
			now = Math.round(at);
			switcher.push(run, rendition, part);
			if (run === 0 && rendition === 'b' && !switched.includes(1)) deliveredToMs = (i + 1) * partMs;
		}
		expect(switched).toEqual([0, 1]);
		expect(now).toBeGreaterThanOrEqual(2300);
		// Run 1 starts with the part after the last one run 0 delivered (on the wall clock: its media time + 1000 ms), not
		// where it was ready before the wait: what run 0 delivered meanwhile is not shown twice.
		for (const rendition of ['a', 'b']) {
			const first = delivered.find((d) => d.run === 1 && d.rendition === rendition && d.item.kind === 'part')!;
			const index = media.parts.findIndex((p) => p.kind === 'part' && first.item.kind === 'part' && p.moof === first.item.moof);
			expect(Math.abs(1000 + index * partMs - deliveredToMs), rendition).toBeLessThanOrEqual(partMs / 2 + 100);
		}
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
