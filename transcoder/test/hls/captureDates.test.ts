import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { childBoxes } from '../../src/hls/mp4Boxes.js';
import { Packager, type HlsMessage } from '../../src/index.js';

const run = promisify(execFile);
const logger = pino({ level: 'warn' });

/** A real fMP4 (AAC at 48 kHz, 9-frame fragments: 192 ms parts), as its init section and its parts. */
async function fragmentedAudio(seconds: number): Promise<{ init: Buffer; parts: Buffer[] }> {
	const { stdout } = await run(
		'ffmpeg',
		['-v', 'error', '-f', 'lavfi', '-i', `sine=f=440:r=48000:d=${seconds}`, '-c:a', 'aac', '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '192000', 'pipe:1'],
		{ encoding: 'buffer', maxBuffer: 1 << 24 },
	);
	const boxes = childBoxes(stdout);
	const init = Buffer.concat(boxes.filter((b) => b.type === 'ftyp' || b.type === 'moov').map((b) => b.box));
	const parts: Buffer[] = [];
	for (let i = 0; i + 1 < boxes.length; i++) if (boxes[i]!.type === 'moof') parts.push(Buffer.concat([boxes[i]!.box, boxes[i + 1]!.box]));
	return { init, parts };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A packager of one audio rendition on a clock of the test's, with its first run attached and its init section in. */
async function audioPackager(streamId: string, subtitles: boolean, nowMs: () => number, init: Buffer) {
	const messages: HlsMessage[] = [];
	const packager = new Packager({
		streamId,
		renditions: [{ name: 'audio', kind: 'audio', bandwidth: 80_000 }],
		partTargetMs: 200,
		segmentTargetMs: 1000,
		subtitles,
		nowMs,
		sink: { publish: (message) => messages.push(message) },
		logger,
	});
	const input = new PassThrough();
	const attached = packager.attachRun(0, 'audio', input);
	input.write(init);
	await tick();
	return { packager, messages, input, attached };
}

/** The cue lines (`start --> end`) of a WebVTT segment, on the media timeline. */
function cueTimes(vtt: string): string[] {
	return vtt.split('\n').filter((line) => line.includes(' --> '));
}

describe("a run's program-date-times and the captions placed by them", () => {
	let media: Awaited<ReturnType<typeof fragmentedAudio>>;
	beforeAll(async () => {
		media = await fragmentedAudio(4);
		expect(media.parts.length).toBeGreaterThan(15);
	});

	it('places a wall-clock cue by when the media was captured when the first part came late', async () => {
		// Captured from wall time 10,000 ms on, 192 ms a part; the first part reaches the packager 1,000 ms late (a
		// busy machine, input probing), the others 100 ms after their last sample.
		const partS = 0.192;
		let now = 0;
		const { packager, messages, input, attached } = await audioPackager('dates', true, () => now, media.init);
		// Spoken from 11,000 to 12,500 ms of the wall clock: 1.0 s into the media.
		packager.addWallClockCue({ startMs: 11_000, endMs: 12_500, text: 'on its voice' });
		for (const [i, part] of media.parts.entries()) {
			const capturedEndMs = 10_000 + (i + 1) * partS * 1000;
			now = i === 0 ? capturedEndMs + 1000 : capturedEndMs + 100;
			input.write(part);
			await tick();
		}
		input.end();
		await attached;
		await packager.end();

		// The dates say what the first part made of them: the first sample at 11,000 ms, a second late...
		const segments = packager.timeline('audio').segments;
		expect(segments[0]!.pdtMs).toBe(11_000);
		// ...and the later parts, in the packager 0.1 s after their capture, show them at least 0.9 s late: the cue
		// sits at media time 0.9 s, 0.1 s before its voice (the parts' own delay, which `encodeDelayMs` stands for),
		// where the dates alone put it at 0.
		const vtt = messages.filter((m) => m.event.type === 'vtt').map((m) => m.bytes.toString('utf8'));
		const times = vtt.flatMap(cueTimes);
		expect(times.length).toBeGreaterThan(0);
		const [start] = times[0]!.split(' --> ');
		const [, , seconds] = start!.split(':');
		expect(Number(seconds)).toBeCloseTo(0.9, 2);
		// The transcript maps by the same capture times.
		expect(packager.capturedAtMs(segments.at(-1)!.msn, segments.at(-1)!.pdtMs)).toBe(segments.at(-1)!.pdtMs - 900);
	});

	it('marks with gap segments the capture time a starved run never delivered before the run replacing it went on air', async () => {
		// Run 0 (encoder clock: media 0 read at 10,000 ms) delivers 1.92 s, each part 100 ms after its capture, then
		// stalls without ending (a starved encoder). Run 1, started as the lighter encode, reads its media 0 at 14,000
		// ms and delivers at real-time pace; the switcher waits for run 0's backlog, which never comes, then puts run 1
		// on air. Capture time 12,020–14,100 ms (by arrivals) was never on air.
		const partS = 0.192;
		let now = 0;
		const long = await fragmentedAudio(8);
		const { packager, messages, input, attached } = await audioPackager('lost', true, () => now, media.init);
		packager.runMediaOrigin(0, 10_000);
		for (const [i, part] of media.parts.slice(0, 10).entries()) {
			now = 10_000 + (i + 1) * partS * 1000 + 100;
			input.write(part);
			await tick();
		}
		const next = new PassThrough();
		const nextAttached = packager.attachRun(1, 'audio', next);
		now = 14_000;
		packager.runMediaOrigin(1, 14_000);
		next.write(long.init);
		await tick();
		const onAirAtMs: number[] = [];
		for (const [i, part] of long.parts.entries()) {
			now = 14_000 + (i + 1) * partS * 1000 + 100;
			next.write(part);
			await tick();
			if (onAirAtMs.length === 0 && messages.some((m) => m.event.type === 'gap' || (m.event.type === 'part' && m.event.msn > 3))) onAirAtMs.push(now);
		}
		input.end();
		next.end();
		await Promise.all([attached, nextAttached]);
		await packager.end();
		expect(onAirAtMs.length, 'run 1 went on air').toBe(1);

		const segments = packager.timeline('audio').segments;
		// One timeline on the wall clock: every segment, gaps included, begins where the one before ended.
		for (let i = 1; i < segments.length; i++) {
			const before = segments[i - 1]!;
			expect(Math.abs(segments[i]!.pdtMs - (before.pdtMs + before.durationS * 1000)), `segment ${segments[i]!.msn}`).toBeLessThanOrEqual(1);
		}
		const gaps = segments.filter((s) => s.gap);
		expect(gaps.map((s) => s.msn)).toEqual([2, 3, 4]);
		expect(gaps[0]!.pdtMs).toBe(10_100 + 10 * partS * 1000);
		const gapS = gaps.reduce((sum, s) => sum + s.durationS, 0);
		expect(gapS).toBeCloseTo((14_100 - 12_020) / 1000, 3);
		const resumed = segments.find((s) => s.msn === 5)!;
		expect(resumed).toMatchObject({ pdtMs: 14_100, discontinuity: true });
		expect(resumed.gap).toBeFalsy();
		// Origins got the same placeholders, and the subtitles have the same numbers.
		expect(messages.filter((m) => m.event.type === 'gap').map((m) => (m.event as { msn: number }).msn)).toEqual([2, 3, 4]);
		expect(packager.subtitlesTimeline.segments.map((s) => s.msn)).toEqual(segments.map((s) => s.msn));
	});

	it('gives a rendition that ended earlier its own gap from its end, no segment longer than the target', async () => {
		// As above, with a second rendition whose run 0 delivered 0.77 s less (a slower encode of the same input).
		const partS = 0.192;
		let now = 0;
		const long = await fragmentedAudio(8);
		const messages: HlsMessage[] = [];
		const packager = new Packager({
			streamId: 'lost-behind',
			renditions: [{ name: 'audio', kind: 'audio', bandwidth: 80_000 }, { name: 'echo', kind: 'audio', bandwidth: 80_000 }],
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: false,
			nowMs: () => now,
			sink: { publish: (message) => messages.push(message) },
			logger,
		});
		const inputs = (run: number) => Object.fromEntries(['audio', 'echo'].map((name) => {
			const input = new PassThrough();
			return [name, { input, attached: packager.attachRun(run, name, input) }];
		}));
		const first = inputs(0);
		for (const { input } of Object.values(first)) input.write(media.init);
		await tick();
		packager.runMediaOrigin(0, 10_000);
		for (const [i, part] of media.parts.slice(0, 10).entries()) {
			now = 10_000 + (i + 1) * partS * 1000 + 100;
			first.audio!.input.write(part);
			if (i < 6) first.echo!.input.write(part);
			await tick();
		}
		const next = inputs(1);
		now = 14_000;
		packager.runMediaOrigin(1, 14_000);
		for (const { input } of Object.values(next)) input.write(long.init);
		await tick();
		for (const [i, part] of long.parts.entries()) {
			now = 14_000 + (i + 1) * partS * 1000 + 100;
			for (const { input } of Object.values(next)) input.write(part);
			await tick();
		}
		for (const { input } of [...Object.values(first), ...Object.values(next)]) input.end();
		await Promise.all([...Object.values(first), ...Object.values(next)].map((i) => i.attached));
		await packager.end();

		const gapMsns: number[][] = [];
		for (const name of ['audio', 'echo']) {
			const segments = packager.timeline(name).segments;
			for (let i = 1; i < segments.length; i++) {
				const before = segments[i - 1]!;
				expect(Math.abs(segments[i]!.pdtMs - (before.pdtMs + before.durationS * 1000)), `${name} segment ${segments[i]!.msn}`).toBeLessThanOrEqual(1);
			}
			const gaps = segments.filter((s) => s.gap);
			gapMsns.push(gaps.map((s) => s.msn));
			for (const gap of gaps) expect(gap.durationS, `${name} gap ${gap.msn}`).toBeLessThanOrEqual(1);
			expect(segments.find((s) => !s.gap && s.msn > gaps.at(-1)!.msn)).toMatchObject({ pdtMs: 14_100, discontinuity: true });
		}
		// Echo's gap begins where its own media ended, 0.77 s before audio's: one more second, one more number for both.
		expect(packager.timeline('echo').segments.find((s) => s.gap)!.pdtMs).toBe(10_100 + 6 * partS * 1000);
		expect(gapMsns[0]).toEqual(gapMsns[1]);
		expect(gapMsns[0]!.length).toBe(3);
	});

	it('drops parts dated from the end of the space on: what a stopping encoder flushes is not in the stream', async () => {
		const partS = 0.192;
		let now = 0;
		const { packager, messages, input, attached } = await audioPackager('cut', false, () => now, media.init);
		// Captured from 10,000 ms on, each part 100 ms after its last sample; the space ends at 12,000 ms, and the
		// encoder then flushes the rest of its 4 s at once.
		for (const [i, part] of media.parts.entries()) {
			const capturedEndMs = 10_000 + (i + 1) * partS * 1000;
			now = Math.max(now, Math.min(capturedEndMs + 100, 12_000));
			if (now >= 12_000) packager.cutAt(12_000);
			input.write(part);
			await tick();
		}
		input.end();
		await attached;
		await packager.end();

		const segments = packager.timeline('audio').segments;
		const first = segments[0]!;
		const last = segments.at(-1)!;
		const endMs = last.pdtMs + last.durationS * 1000;
		// Dated from the first part's arrival (100 ms after its capture, less its duration): 10,100 ms. The stream ends
		// with the last part that began before the end, not with the 4 s encoded.
		expect(first.pdtMs).toBe(10_100);
		expect(endMs).toBeGreaterThan(12_000 - partS * 1000);
		expect(endMs).toBeLessThanOrEqual(12_000 + partS * 1000);
		const parts = messages.filter((m) => m.event.type === 'part');
		expect(parts.length).toBe(Math.ceil((12_000 - 10_100) / (partS * 1000)));
	});
});
