import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { promisify } from 'node:util';
import { BoxParser, feedPositionOf, Packager, planStreamResume, renderMediaPlaylist, type HlsEvent, type HlsMessage } from '@tribune/transcoder';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { OriginStream } from '../../src/origin/OriginStream.js';
import { parseMediaPlaylist, type ParsedMediaPlaylist } from './support/parsePlaylist.js';

const run = promisify(execFile);

interface Fmp4 {
	init: Buffer;
	/** moof + mdat of each fragment (200 ms, each one independent). */
	parts: Buffer[];
}

/** Real fMP4 from ffmpeg, 200 ms fragments: an all-keyframe H.264 one and an AAC one. */
async function encode(kind: 'video' | 'audio'): Promise<Fmp4> {
	const input = kind === 'video'
		? ['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5', '-keyint_min', '5', '-sc_threshold', '0']
		: ['-f', 'lavfi', '-i', 'sine=f=440:r=48000:d=6', '-c:a', 'aac'];
	const { stdout } = await run('ffmpeg', ['-v', 'error', ...input, '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '200000', 'pipe:1'], {
		encoding: 'buffer',
		maxBuffer: 1 << 25,
	});
	const boxes = new BoxParser().push(stdout);
	const init = Buffer.concat(boxes.filter((b) => b.type === 'ftyp' || b.type === 'moov').map((b) => b.bytes));
	const parts: Buffer[] = [];
	boxes.forEach((b, i) => b.type === 'moof' && boxes[i + 1]?.type === 'mdat' && parts.push(Buffer.concat([b.bytes, boxes[i + 1]!.bytes])));
	return { init, parts };
}

/** Each segment's discontinuity count, as hls.js numbers them (`cc`; a tag on the first segment counts too). */
function ccByMsn(p: ParsedMediaPlaylist): Map<number, number> {
	const map = new Map<number, number>();
	let cc = p.discontinuitySequence;
	p.segments.forEach((s) => map.set(s.msn, (cc += s.discontinuity ? 1 : 0)));
	return map;
}

/** What a player saw of one playlist across its reloads: each msn's URI and discontinuity count must never change. */
class PlaylistHistory {
	readonly uris = new Map<number, string>();
	readonly ccs = new Map<number, number>();
	readonly #problems = new Set<string>();

	constructor(readonly name: string, readonly uriOf: (msn: number) => string) {}

	get problems(): string[] {
		return [...this.#problems];
	}

	check(text: string): void {
		const p = parseMediaPlaylist(text);
		const ccs = ccByMsn(p);
		for (const s of p.segments) {
			if (s.uri === undefined) continue; // the open segment of a low-latency playlist: parts only
			if (s.uri !== this.uriOf(s.msn)) this.#problems.add(`${this.name}: msn ${s.msn} is ${s.uri}`);
			const seen = this.uris.get(s.msn);
			if (seen !== undefined && seen !== s.uri) this.#problems.add(`${this.name}: msn ${s.msn} was ${seen}, now ${s.uri}`);
			this.uris.set(s.msn, s.uri);
			const cc = ccs.get(s.msn)!;
			const seenCc = this.ccs.get(s.msn);
			if (seenCc !== undefined && seenCc !== cc) this.#problems.add(`${this.name}: msn ${s.msn} was in cc ${seenCc}, now ${cc}`);
			this.ccs.set(s.msn, cc);
		}
	}
}

/**
 * Feeds packagers' events to an origin in process, and after each event renders every live playlist as a player
 * reloading it would see it.
 */
class Harness {
	readonly origin = new OriginStream('s', { windowSegments: 5 });
	readonly events: HlsEvent[] = [];
	readonly histories = {
		v: new PlaylistHistory('v', (msn) => `seg-${msn}.m4s`),
		a: new PlaylistHistory('a', (msn) => `seg-${msn}.m4s`),
		subs: new PlaylistHistory('subs', (msn) => `seg-${msn}.vtt`),
	};

	/** The bytes of every subtitle segment published, by number (the last one for a number sent twice). */
	readonly vttTexts = new Map<number, string>();

	publish(message: HlsMessage): void {
		this.events.push(message.event);
		if (message.event.type === 'vtt') this.vttTexts.set(message.event.msn, message.bytes.toString());
		this.origin.apply(message);
		for (const name of ['v', 'a'] as const) {
			const playlist = this.origin.mediaPlaylist(name, false);
			if (playlist) this.histories[name].check(playlist.text);
		}
		const subs = this.origin.subtitlesPlaylist();
		if (subs) this.histories.subs.check(subs.text);
		if (subs && this.origin.mediaPlaylist('v', false)) for (const problem of this.alignment()) this.misaligned.add(problem);
		if (subs) for (const segment of parseMediaPlaylist(subs.text).segments) this.subsTimings.set(segment.msn, new Set([...(this.subsTimings.get(segment.msn) ?? []), `${segment.durationS} s at ${Date.parse(segment.pdt as string)}`]));
	}

	/** Each subtitle segment number's duration and date, as every reload of the subtitles playlist listed them. */
	readonly subsTimings = new Map<number, Set<string>>();

	/**
	 * The subtitles' timing over the whole scenario: a segment's EXTINF and PROGRAM-DATE-TIME never change between
	 * reloads (RFC 8216bis §6.2.1), and equal those of the reference rendition's (`v`) segment of its number (gap
	 * placeholders included: a segment cut short at a switch, then a gap dated by another rendition). A number the
	 * reference never had (filled by the origin) starts where the previous subtitle segment ends.
	 */
	timing(): string[] {
		const problems: string[] = [];
		const reference = new Map<number, { durationS: number; pdtMs: number }>();
		for (const e of this.events) {
			if (e.type === 'part' && e.rendition === 'v') {
				const known = reference.get(e.msn);
				if (e.segment) reference.set(e.msn, { durationS: e.durationS, pdtMs: e.segment.pdtMs });
				else if (known) known.durationS += e.durationS;
			} else if (e.type === 'gap' && e.rendition === 'v') reference.set(e.msn, { durationS: e.durationS, pdtMs: e.pdtMs });
		}
		const listed = [...this.subsTimings].sort(([a], [b]) => a - b);
		listed.forEach(([msn, timings], i) => {
			if (timings.size !== 1) return void problems.push(`subs msn ${msn} changed: ${[...timings].join(' / ')}`);
			const [durationS, pdtMs] = /^(\S+) s at (\S+)$/.exec([...timings][0]!)!.slice(1).map(Number) as [number, number];
			const ref = reference.get(msn);
			if (ref) {
				if (durationS.toFixed(5) !== ref.durationS.toFixed(5) || pdtMs !== ref.pdtMs) problems.push(`subs msn ${msn}: ${durationS} s at ${pdtMs}, reference ${ref.durationS.toFixed(5)} s at ${ref.pdtMs}`);
				return;
			}
			const previous = listed[i - 1];
			if (!previous || previous[0] !== msn - 1) return;
			const [previousS, previousMs] = /^(\S+) s at (\S+)$/.exec([...previous[1]][0]!)!.slice(1).map(Number) as [number, number];
			if (Math.abs(pdtMs - previousMs - previousS * 1000) > 1) problems.push(`subs msn ${msn} at ${pdtMs}: the previous one ends at ${previousMs + previousS * 1000}`);
		});
		return problems;
	}

	/** Every time the subtitles and the reference rendition disagreed on a segment's discontinuity count. */
	readonly misaligned = new Set<string>();

	packager(resume?: ReturnType<typeof planStreamResume>): Packager {
		return new Packager({
			streamId: 's',
			renditions: [
				{ name: 'v', kind: 'video', bandwidth: 500_000, frameRate: 25 },
				{ name: 'a', kind: 'audio', bandwidth: 64_000 },
			],
			partTargetMs: 200,
			segmentTargetMs: 1000,
			subtitles: true,
			switchWarmupMs: 0,
			sink: { publish: (m) => this.publish(m) },
			logger: pino({ level: 'silent' }),
			...(resume && { resume }),
		});
	}

	/** Where a packager taking the stream over would continue it (as `readFeedPosition` reads it from Redis). */
	resume(): ReturnType<typeof planStreamResume> {
		const initIndexes: Record<string, number> = {};
		for (const e of this.events) if (e.type === 'init') initIndexes[e.rendition] = e.index;
		const feed = feedPositionOf([...this.events].reverse(), initIndexes);
		if (feed.state === 'ended') throw new Error('ended');
		return planStreamResume(feed, {}, ['v', 'a']);
	}

	/** The subtitles and the reference rendition (`v`) have the same segments and discontinuities in the window. */
	alignment(): string[] {
		const subs = parseMediaPlaylist(this.origin.subtitlesPlaylist()!.text);
		// By the origin's timeline: a rendition that skipped a number lists its later segments one number too low.
		const video = this.origin.rendition('v')!.timeline;
		const videoCc = new Map<number, number>();
		let cc = video.discontinuitySequence;
		video.segments.forEach((s) => videoCc.set(s.msn, (cc += s.discontinuity ? 1 : 0)));
		const subsCc = ccByMsn(subs);
		const problems: string[] = [];
		// A subtitle segment goes out when its reference segment closes: the open one has none yet.
		const complete = new Set(video.segments.filter((s) => s.complete).map((s) => s.msn));
		for (const [msn, cc] of videoCc) {
			if (!complete.has(msn)) continue;
			const own = subsCc.get(msn);
			if (own === undefined) {
				if (msn >= subs.mediaSequence) problems.push(`subs lack msn ${msn}`);
			} else if (own !== cc) problems.push(`msn ${msn}: subs cc ${own}, video cc ${cc}`);
		}
		return problems;
	}
}

/** One encoder run's outputs, fed part by part in the order a test chooses. */
class Run {
	readonly #streams = new Map<string, PassThrough>();
	readonly #done: Promise<void>[] = [];
	readonly #next = new Map<string, number>();

	constructor(readonly packager: Packager, readonly number: number, readonly media: Record<'v' | 'a', Fmp4>) {
		for (const name of ['v', 'a'] as const) {
			const stream = new PassThrough();
			this.#streams.set(name, stream);
			this.#done.push(packager.attachRun(number, name, stream));
			stream.write(media[name].init);
			this.#next.set(name, 0);
		}
	}

	/** Writes the next `count` parts of a rendition and lets the packager take them. */
	async parts(name: 'v' | 'a', count = 1): Promise<void> {
		for (let i = 0; i < count; i++) {
			const n = this.#next.get(name)!;
			const part = this.media[name].parts[n];
			if (!part) throw new Error(`run ${this.number} has no part ${n} of ${name}`);
			this.#next.set(name, n + 1);
			this.#streams.get(name)!.write(part);
			for (let t = 0; t < 5; t++) await tick();
		}
	}

	/** Parts of both renditions in turn (video first), as a steady encoder writes them. */
	async both(count: number): Promise<void> {
		for (let i = 0; i < count; i++) {
			await this.parts('v');
			await this.parts('a');
		}
	}

	async end(): Promise<void> {
		for (const stream of this.#streams.values()) stream.end();
		await Promise.all(this.#done);
	}
}

describe('the subtitles playlist stays a valid sliding window across run switches and takeovers', () => {
	let media: Record<'v' | 'a', Fmp4>;
	beforeAll(async () => {
		media = { v: await encode('video'), a: await encode('audio') };
		expect(media.v.parts.length).toBeGreaterThanOrEqual(25);
		expect(media.a.parts.length).toBeGreaterThanOrEqual(25);
	});

	/** The subtitles: the sliding window rules, and the reference rendition's numbers and discontinuities. */
	const expectValidSubtitles = (h: Harness) => {
		expect(h.histories.subs.problems).toEqual([]);
		expect(h.alignment()).toEqual([]);
		expect([...h.misaligned]).toEqual([]);
		expect(h.timing()).toEqual([]);
	};

	const scenarios: Record<string, () => Promise<Harness>> = {
		'a run switch while the reference rendition is a segment behind another': async () => {
			const h = new Harness();
			const packager = h.packager();
			const first = new Run(packager, 0, media);
			await first.both(9);
			// The audio starts segment 2 (its 10th part) before the video's 10th part arrives: then the next run goes on air.
			await first.parts('a');
			const second = new Run(packager, 1, media);
			await second.parts('a');
			await second.parts('v');
			await second.both(20);
			await first.end();
			await second.end();
			await packager.end();
			return h;
		},
		'a run switch while the reference rendition is a segment ahead of another': async () => {
			const h = new Harness();
			const packager = h.packager();
			const first = new Run(packager, 0, media);
			await first.both(9);
			await first.parts('v');
			const second = new Run(packager, 1, media);
			await second.parts('v');
			await second.parts('a');
			await second.both(20);
			await first.end();
			await second.end();
			await packager.end();
			return h;
		},
		'a run switch with both renditions in the same segment, then another': async () => {
			const h = new Harness();
			const packager = h.packager();
			const first = new Run(packager, 0, media);
			await first.both(7);
			const second = new Run(packager, 1, media);
			await second.parts('v');
			await second.parts('a');
			await second.both(12);
			const third = new Run(packager, 2, media);
			await third.parts('a');
			await third.parts('v');
			await third.both(12);
			for (const r of [first, second, third]) await r.end();
			await packager.end();
			return h;
		},
		'make before break: the reference rendition catches up on the old run before the switch': async () => {
			const h = new Harness();
			const packager = h.packager();
			const first = new Run(packager, 0, media);
			await first.both(9);
			await first.parts('a');
			const second = new Run(packager, 1, media);
			await second.parts('a');
			await second.parts('v');
			// The new run is ready but the old run's renditions are at different numbers (audio parts are ~213 ms, so
			// the audio reaches each segment boundary first): it waits until the old run's video reaches segment 2 too.
			await first.parts('v', 2);
			await second.both(20);
			await first.end();
			await second.end();
			await packager.end();
			return h;
		},
		'make before break: another rendition catches up on the old run before the switch': async () => {
			const h = new Harness();
			const packager = h.packager();
			const first = new Run(packager, 0, media);
			await first.both(9);
			// The old run's video reaches segment 2 first this time.
			await first.parts('v', 2);
			const second = new Run(packager, 1, media);
			await second.parts('v');
			await second.parts('a');
			await first.parts('a');
			await second.both(20);
			await first.end();
			await second.end();
			await packager.end();
			return h;
		},
		'a takeover by a new packager while the reference rendition is a segment behind another': async () => {
			const h = new Harness();
			const dead = h.packager();
			const first = new Run(dead, 0, media);
			await first.both(14);
			await first.parts('a');
			// The transcoder dies here (nothing more from `dead`); another continues the stream.
			const packager = h.packager(h.resume());
			const next = new Run(packager, 0, media);
			await next.both(20);
			await next.end();
			await packager.end();
			return h;
		},
		'a takeover by a new packager while the reference rendition is a segment ahead of another': async () => {
			const h = new Harness();
			const dead = h.packager();
			const first = new Run(dead, 0, media);
			await first.both(14);
			await first.parts('v');
			const packager = h.packager(h.resume());
			const next = new Run(packager, 0, media);
			await next.both(20);
			await next.end();
			await packager.end();
			return h;
		},
	};

	for (const [name, scenario] of Object.entries(scenarios)) {
		it(`subtitles: ${name}`, async () => {
			const h = await scenario();
			expectValidSubtitles(h);
			// The switch or takeover happened: a discontinuity the subtitles carry at the reference's number.
			expect(h.events.some((e) => e.type === 'vtt' && e.discontinuity)).toBe(true);
		});
	}

	it('subtitles: the packager publishes an empty segment, once, for the number the reference rendition skipped at a switch', async () => {
		const h = await scenarios['a run switch while the reference rendition is a segment behind another']!();
		const vtts = h.events.filter((e) => e.type === 'vtt').map((e) => e.msn);
		expect(vtts).toEqual(vtts.map((_, i) => i));
		const reference = new Set(h.events.filter((e) => e.type === 'part' && e.rendition === 'v' && e.segment).map((e) => (e as { msn: number }).msn));
		const skipped = vtts.filter((msn) => !reference.has(msn));
		expect(skipped.length).toBe(1);
		const filler = h.vttTexts.get(skipped[0]!);
		expect(filler).toMatch(/^WEBVTT\n/);
		expect(filler).not.toContain('-->');
	});

	it('the origin replaces a subtitle segment it already holds, ignores one older than its window, and fills a skipped number', () => {
		const origin = new OriginStream('s', { windowSegments: 3 });
		let seq = 0;
		const vtt = (msn: number, text: string) =>
			origin.apply({ event: { type: 'vtt', seq: seq++, msn, durationS: 1, pdtMs: 1_000 * msn, discontinuity: msn === 5 }, bytes: Buffer.from(text) });
		origin.apply({ event: { type: 'stream', seq: seq++, descriptor: { streamId: 's', partTargetMs: 200, segmentTargetMs: 1000, targetDurationS: 1, renditions: [], subtitles: true } }, bytes: Buffer.alloc(0) });
		vtt(0, 'zero');
		vtt(1, 'one');
		vtt(2, 'two');
		vtt(1, 'one again');
		expect(origin.subtitles.segments.map((s) => s.msn)).toEqual([0, 1, 2]);
		expect(origin.vtt.get(1)?.toString()).toBe('one again');
		vtt(5, 'five');
		expect(origin.subtitles.segments.map((s) => s.msn)).toEqual([3, 4, 5]);
		expect(origin.vtt.get(3)?.toString()).toMatch(/^WEBVTT\n/);
		expect(origin.vtt.get(4)?.toString()).not.toContain('-->');
		vtt(1, 'late');
		expect(origin.subtitles.segments.map((s) => s.msn)).toEqual([3, 4, 5]);
		const playlist = parseMediaPlaylist(origin.subtitlesPlaylist()!.text);
		expect(playlist.segments.map((s) => s.uri)).toEqual(['seg-3.vtt', 'seg-4.vtt', 'seg-5.vtt']);
		expect(playlist.segments.map((s) => s.discontinuity)).toEqual([false, false, true]);
		const pdts = playlist.segments.map((s) => Date.parse(s.pdt as string));
		pdts.forEach((t, i) => i > 0 && expect(t).toBeGreaterThanOrEqual(pdts[i - 1]!));
	});

	/** Segment numbers each rendition published, in order, and the numbers whose segment follows a discontinuity. */
	const numbering = (h: Harness, rendition: 'v' | 'a') => {
		const starts = h.events.flatMap((e) => (e.type === 'part' && e.rendition === rendition && e.segment ? [{ msn: e.msn, discontinuity: e.segment.discontinuity }] : []));
		return { msns: starts.map((s) => s.msn), discontinuities: starts.filter((s) => s.discontinuity).map((s) => s.msn) };
	};

	for (const name of ['make before break: the reference rendition catches up on the old run before the switch', 'make before break: another rendition catches up on the old run before the switch']) {
		it(`audio and video: ${name}`, async () => {
			const h = await scenarios[name]!();
			expect([...h.histories.v.problems, ...h.histories.a.problems]).toEqual([]);
			const v = numbering(h, 'v');
			const a = numbering(h, 'a');
			// No number skipped, and both renditions switched at one number, after a discontinuity.
			expect(v.msns).toEqual(v.msns.map((_, i) => i));
			expect(a.msns).toEqual(v.msns);
			expect(v.discontinuities).toEqual([3]);
			expect(a.discontinuities).toEqual([3]);
		});
	}

	// The run on air dies (or never aligns) with a rendition a segment behind, or a packager takes over: that
	// rendition cannot catch up, so it gets an EXT-X-GAP placeholder for each number it skipped.
	for (const name of [
		'a run switch while the reference rendition is a segment behind another',
		'a takeover by a new packager while the reference rendition is a segment behind another',
		'a takeover by a new packager while the reference rendition is a segment ahead of another',
	]) {
		it(`audio and video: ${name}: gap segments for skipped numbers`, async () => {
			const h = await scenarios[name]!();
			expect([...h.histories.v.problems, ...h.histories.a.problems]).toEqual([]);
			const gaps = h.events.filter((e) => e.type === 'gap');
			if (name.includes('behind')) expect(gaps.map((e) => e.type === 'gap' && e.rendition)).toContain('v');
			for (const rendition of ['v', 'a'] as const) {
				const placed = h.events.flatMap((e) => (e.type === 'part' && e.rendition === rendition && e.segment) || (e.type === 'gap' && e.rendition === rendition) ? [e.msn] : []);
				expect(placed).toEqual(placed.map((_, i) => i));
				// Live, the placeholder carries EXT-X-GAP; it never has parts.
				const text = h.origin.mediaPlaylist(rendition, false)!.text;
				for (const gap of gaps) if (gap.type === 'gap' && gap.rendition === rendition && text.includes(`seg-${gap.msn}.m4s`)) expect(text).toContain(`#EXT-X-GAP\n#EXTINF:${gap.durationS.toFixed(5)},\nseg-${gap.msn}.m4s`);
			}
		});
	}

	it('the replay playlist of a rendition that skipped a number at a switch lists a gap segment for it', async () => {
		const h = new Harness();
		const packager = h.packager();
		const first = new Run(packager, 0, media);
		await first.both(9);
		await first.parts('a');
		const second = new Run(packager, 1, media);
		await second.parts('a');
		await second.parts('v');
		await first.end(); // the run on air dies a segment behind: the new run takes over at once
		await second.both(5);
		await second.end();
		await packager.end();
		const replay = parseMediaPlaylist(renderMediaPlaylist(packager.timeline('v'), { targetDurationS: 1, type: 'vod' }));
		expect(replay.segments.map((s) => s.msn)).toEqual(replay.segments.map((_, i) => i));
		expect(replay.text).toMatch(/#EXT-X-GAP\n#EXTINF:[0-9.]+,\nseg-2\.m4s\n#EXT-X-DISCONTINUITY\n/);
	});
});
