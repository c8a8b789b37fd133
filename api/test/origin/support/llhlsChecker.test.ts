import { describe, expect, it } from 'vitest';
import { checkLlhls, type LlhlsObservations, type PlaylistFetch } from './llhlsChecker.js';

/**
 * A model LL-HLS stream written by hand (not by Tribune's writer): two muxed video variants of 1 s segments made of
 * five 0.2 s parts, and WebVTT subtitles of whole 1 s segments, as a conforming origin lists them at time `t` (ms
 * since the first part began). Each test breaks one rule and expects the checker to name it.
 */
const master = [
	'#EXTM3U',
	'#EXT-X-VERSION:9',
	'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Captions",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="subs/index.m3u8"',
	'#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,SUBTITLES="subs"',
	'360p/index.m3u8',
	'#EXT-X-STREAM-INF:BANDWIDTH=350000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=320x180,SUBTITLES="subs"',
	'180p/index.m3u8',
	'',
].join('\n');
const renditions = ['360p', '180p', 'subs'];
const epochMs = Date.parse('2026-12-05T12:00:00.000Z');
const control = '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000';

interface RenderOptions {
	skip?: boolean;
	/** Segments a delta update leaves out instead of the conforming count. */
	skipped?: number;
	reports?: boolean;
	subsControl?: string;
	subsExtinfS?: number;
	/** The part window, in segments before the open one (conforming: 3). */
	partWindow?: number;
	hintOffset?: number;
	/** A segment this many before the open one is listed without its parts. */
	bareMsnOffset?: number;
}

/** The playlist of `rendition` at `t` ms. */
function render(rendition: string, t: number, o: RenderOptions = {}): string {
	const lastPart = Math.floor(t / 200) - 1;
	const openMsn = Math.floor(lastPart / 5);
	const subs = rendition === 'subs';
	const lastMsn = subs ? openMsn - 1 : openMsn;
	const first = Math.max(0, lastMsn - 11);
	const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:1', '#EXT-X-PART-INF:PART-TARGET=0.20000', subs && o.subsControl !== undefined ? o.subsControl : control, `#EXT-X-MEDIA-SEQUENCE:${first}`];
	// Complete segments starting more than 6 s before the end (the end is the last part's end).
	const endS = subs ? openMsn : (lastPart + 1) * 0.2;
	const skippable = Array.from({ length: lastMsn - first + 1 }, (_, i) => first + i).filter((msn) => msn < openMsn && endS - msn > 6).length;
	const skipped = o.skip ? (o.skipped ?? skippable) : 0;
	if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
	for (let msn = first + skipped; msn <= lastMsn; msn++) {
		lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(epochMs + msn * 1000).toISOString()}`);
		if (!subs && msn >= openMsn - (o.partWindow ?? 3) && msn !== openMsn - (o.bareMsnOffset ?? -1)) {
			const last = msn === openMsn ? lastPart : msn * 5 + 4;
			for (let k = msn * 5; k <= last; k++) lines.push(`#EXT-X-PART:DURATION=0.20000,URI="part-${k}.m4s"${k % 5 === 0 ? ',INDEPENDENT=YES' : ''}`);
		}
		if (subs) lines.push(`#EXTINF:${(o.subsExtinfS ?? 1).toFixed(5)},`, `seg-${msn}.vtt`);
		else if (msn < openMsn) lines.push('#EXTINF:1.00000,', `seg-${msn}.m4s`);
	}
	if (!subs) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${lastPart + 1 + (o.hintOffset ?? 0)}.m4s"`);
	if (o.reports !== false) {
		for (const other of renditions.filter((r) => r !== rendition)) {
			lines.push(other === 'subs' ? `#EXT-X-RENDITION-REPORT:URI="../subs/index.m3u8",LAST-MSN=${openMsn - 1}` : `#EXT-X-RENDITION-REPORT:URI="../${other}/index.m3u8",LAST-MSN=${openMsn},LAST-PART=${lastPart % 5}`);
		}
	}
	return `${lines.join('\n')}\n`;
}

const fetchAt = (rendition: string, t: number, o: RenderOptions = {}, extra: Partial<PlaylistFetch> = {}): PlaylistFetch => ({
	uri: `${rendition}/index.m3u8`,
	sentAtMs: t,
	answeredAtMs: t + 5,
	status: 200,
	text: render(rendition, t + 5, o),
	...(o.skip ? { skip: 'YES' as const } : {}),
	...extra,
});

/** A client following every rendition for 20 s: a full reload, a delta and a blocking request for the next part. */
function follow(o: RenderOptions = {}, subsOptions: RenderOptions = o): LlhlsObservations {
	const fetches: PlaylistFetch[] = [];
	for (let t = 8000; t < 28_000; t += 1000) {
		for (const rendition of renditions) {
			const options = rendition === 'subs' ? subsOptions : o;
			fetches.push(fetchAt(rendition, t, options), fetchAt(rendition, t + 1, { ...options, skip: true }));
		}
		// The next part of 360p: asked for at t + 10, it exists at the next multiple of 200 ms.
		const lastPart = Math.floor((t + 10) / 200) - 1;
		const next = lastPart + 1;
		const readyAt = (next + 1) * 200;
		fetches.push({ ...fetchAt('360p', t + 10, o), msn: Math.floor(next / 5), part: next % 5, answeredAtMs: readyAt, text: render('360p', readyAt, o) });
	}
	const segmentBytes = { '360p/index.m3u8': { 10: 100_000, 11: 110_000, 12: 90_000 }, '180p/index.m3u8': { 10: 40_000, 11: 41_000 } };
	return { multivariant: master, fetches, segmentBytes };
}

describe('checkLlhls', () => {
	it('finds nothing wrong in a conforming stream', () => {
		expect(checkLlhls(follow())).toEqual([]);
	});

	it('names playlists without a rendition report for every other rendition, subtitles included', () => {
		const violations = checkLlhls(follow({ reports: false }));
		expect(violations.some((v) => v.startsWith('360p/index.m3u8 rendition reports'))).toBe(true);
		expect(violations.some((v) => v.startsWith('subs/index.m3u8 rendition reports'))).toBe(true);
	});

	it('names a LAST-PART on a report of a rendition without parts', () => {
		const observations = follow();
		const fetches = observations.fetches.map((f) => ({ ...f, text: f.text.replace(/(URI="\.\.\/subs\/index\.m3u8",LAST-MSN=\d+)/, '$1,LAST-PART=0') }));
		expect(checkLlhls({ ...observations, fetches }).join('\n')).toContain('has no parts but LAST-PART=0');
	});

	it('names a subtitles playlist whose EXT-X-SERVER-CONTROL differs from the others', () => {
		const violations = checkLlhls(follow({}, { subsControl: '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES' }));
		expect(violations.find((v) => v.startsWith('EXT-X-SERVER-CONTROL differs'))).toContain('subs/index.m3u8 → EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES;');
	});

	it('names EXTINF durations that contradict the PROGRAM-DATE-TIME steps', () => {
		const violations = checkLlhls(follow({}, { subsExtinfS: 1.152 }));
		expect(violations.some((v) => v.startsWith('subs/index.m3u8 EXTINF against PROGRAM-DATE-TIME'))).toBe(true);
		expect(violations.some((v) => v.startsWith('360p'))).toBe(false);
	});

	it('names a delta update that skips inside the skip boundary, and one that skips less without _HLS_msn', () => {
		expect(checkLlhls(follow({ skipped: 4 })).some((v) => v.includes('skipped inside the skip boundary'))).toBe(true);
		expect(checkLlhls(follow({ skipped: 0 })).some((v) => v.includes('skipped fewer than it could'))).toBe(true);
	});

	it('names a delta update that differs from the full playlist of the same moment', () => {
		const observations = follow();
		const fetches = observations.fetches.map((f) => (f.skip && f.uri === '180p/index.m3u8' ? { ...f, text: f.text.replace(/seg-(\d+)\.m4s/, 'seg-x$1.m4s') } : f));
		expect(checkLlhls({ ...observations, fetches }).some((v) => v.startsWith('180p/index.m3u8 delta differs from the full playlist'))).toBe(true);
	});

	it('names a BANDWIDTH below the measured peak segment bit rate', () => {
		const observations = follow();
		const violations = checkLlhls({ ...observations, segmentBytes: { '360p/index.m3u8': { 10: 100_000, 11: 140_000 } } });
		expect(violations).toEqual(['360p/index.m3u8 BANDWIDTH under the peak segment bit rate (§4.4.6.2): BANDWIDTH=900000, segments 11–11 ran at 1120000 b/s']);
	});

	it('names a preload hint that is never listed, but not one that a late reload finds in a complete segment', () => {
		expect(checkLlhls(follow({ hintOffset: 1 })).some((v) => v.includes('preload hint is not the next part'))).toBe(true);
		// Hinted part 50, and the next reload goes on with parts 63–65 (as a packager that renumbered would).
		const jumped = { ...fetchAt('360p', 10_600), text: render('360p', 10_605).replace(/part-5([0-2])\.m4s/g, (_, k: string) => `part-6${Number(k) + 3}.m4s`) };
		expect(checkLlhls({ multivariant: master, fetches: [fetchAt('360p', 10_000), jumped] }).join('\n')).toContain('hinted part 50; 360p/index.m3u8 sent at +600 ms lists parts 35…65 without it');
		// A client that stops polling for 6 s: the part window (3 segments) has moved past the hinted part.
		const late = [fetchAt('360p', 10_000), fetchAt('360p', 16_100), fetchAt('360p', 16_101, { skip: true })];
		expect(checkLlhls({ multivariant: master, fetches: late }).filter((v) => !v.includes('rendition reports'))).toEqual([]);
		// A reload that lists only parts after the hinted one while the hinted part's segment is still open is wrong.
		const renumbered = { ...fetchAt('360p', 10_100), text: render('360p', 10_005).replace(/part-(\d+)\.m4s/g, (_, k: string) => `part-${Number(k) + 30}.m4s`) };
		expect(checkLlhls({ multivariant: master, fetches: [late[0] as PlaylistFetch, renumbered] }).join('\n')).toContain('lists parts from 60 and segment 9 open');
	});

	it('names parts that are not contiguous, and complete segments without parts inside the part window', () => {
		const observations = follow();
		const fetches = observations.fetches.map((f) => ({ ...f, text: f.text.replace(/#EXT-X-PART:DURATION=0\.20000,URI="part-(\d+)\.m4s"\n#EXT-X-PART:DURATION=0\.20000,URI="part-\d+\.m4s"\n/, '#EXT-X-PART:DURATION=0.20000,URI="part-$1.m4s"\n') }));
		expect(checkLlhls({ ...observations, fetches }).some((v) => v.startsWith('360p/index.m3u8 parts not contiguous'))).toBe(true);
		const gap = checkLlhls(follow({ bareMsnOffset: 2 }));
		expect(gap.some((v) => v.includes('segment without parts inside the part window'))).toBe(true);
	});

	it('names blocking answers: held for what existed, 400 within the limits, no 400 beyond them, lacking what was asked', () => {
		const base = follow();
		const t = 20_000;
		const lastPart = Math.floor(t / 200) - 1;
		const openMsn = Math.floor(lastPart / 5);
		const existing = { ...fetchAt('360p', t + 300), msn: openMsn - 2, answeredAtMs: t + 2300 };
		const within = { ...fetchAt('360p', t + 300), msn: openMsn + 1, status: 400, text: '{}' };
		const beyond = { ...fetchAt('360p', t + 300), msn: openMsn + 3, answeredAtMs: t + 2800, text: render('360p', t + 2800) };
		const lacking = { ...fetchAt('360p', t + 300), msn: openMsn + 1, part: 2, answeredAtMs: t + 310, text: render('360p', t + 310) };
		const rules = (extra: PlaylistFetch): string[] => checkLlhls({ ...base, fetches: [...base.fetches, extra] });
		expect(rules(existing).join('\n')).toContain('held a request for what existed');
		expect(rules(within).join('\n')).toContain('400 within the limits');
		expect(rules(beyond).join('\n')).toContain('no 400 beyond the limits');
		expect(rules(lacking).join('\n')).toContain('blocking answer lacks what was asked');
	});
});
