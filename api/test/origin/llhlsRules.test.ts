import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { get, until, type Fetched } from './support/fetchText.js';
import { checkLlhls, type PlaylistFetch } from './support/llhlsChecker.js';
import { LiveStream } from './support/liveStream.js';
import { attributes, lastPosition, parseMediaPlaylist, type ParsedMediaPlaylist } from './support/parsePlaylist.js';

const run = promisify(execFile);
const runSeconds = 20;

/** Every rule an LL-HLS playlist from this origin must satisfy on its own (RFC 8216bis §4.4, Tribune's settings). */
function checkPlaylistRules(p: ParsedMediaPlaylist, renditions: string[], self: string): void {
	expect(p.version).toBeGreaterThanOrEqual(9);
	expect(p.targetDurationS).toBe(1);
	expect(p.partTargetS).toBe(0.2);
	const control = p.serverControl;
	expect(control['CAN-BLOCK-RELOAD']).toBe('YES');
	expect(Number(control['PART-HOLD-BACK'])).toBeGreaterThanOrEqual(3 * 0.2 - 1e-9);
	expect(Number(control['CAN-SKIP-UNTIL'])).toBeGreaterThanOrEqual(6 * p.targetDurationS);
	const partTarget = p.partTargetS as number;
	p.segments.forEach((segment, i) => {
		expect(segment.pdt, `PDT on segment ${segment.msn}`).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		if (segment.uri) {
			expect(segment.uri).toBe(`seg-${segment.msn}.m4s`);
			expect(Math.round(segment.durationS as number)).toBeLessThanOrEqual(p.targetDurationS);
		}
		if (segment.parts.length > 0) expect(segment.parts[0]?.independent, `segment ${segment.msn} starts independent`).toBe(true);
		segment.parts.forEach((part, k) => {
			expect(part.durationS).toBeLessThanOrEqual(partTarget + 1e-9);
			const lastOfSegment = k === segment.parts.length - 1 && (segment.uri !== undefined || i < p.segments.length - 1);
			if (!lastOfSegment && k < segment.parts.length - 1) expect(part.durationS).toBeGreaterThanOrEqual(0.85 * partTarget);
		});
		if (segment.uri && segment.parts.length > 0) {
			const sum = segment.parts.reduce((s, part) => s + part.durationS, 0);
			expect(sum).toBeCloseTo(segment.durationS as number, 4);
		}
	});
	const allParts = p.segments.flatMap((s) => s.parts.map((part) => Number(/^part-(\d+)\.m4s$/.exec(part.uri)?.[1])));
	allParts.forEach((seq, i) => i > 0 && expect(seq).toBe((allParts[i - 1] as number) + 1));
	if (!p.endList) {
		expect(p.preloadHint).toBe(`part-${(allParts.at(-1) as number) + 1}.m4s`);
		expect(p.segments.at(-1)?.uri, 'live playlists end with the open segment').toBeUndefined();
		// Every other rendition of the multivariant playlist, subtitles included (Appendix B.1).
		expect(p.renditionReports.map((r) => r.uri).sort()).toEqual([...renditions, 'subs'].filter((r) => r !== self).map((r) => `../${r}/index.m3u8`).sort());
		for (const report of p.renditionReports) expect(Number.isNaN(report.lastPart), report.uri).toBe(report.uri === '../subs/index.m3u8');
	}
}

/** Rules between two successive reloads of one rendition: nothing moves backwards, nothing already listed changes. */
function checkContinuity(before: ParsedMediaPlaylist, after: ParsedMediaPlaylist): void {
	expect(after.mediaSequence).toBeGreaterThanOrEqual(before.mediaSequence);
	const a = lastPosition(before);
	const b = lastPosition(after);
	expect(b.msn > a.msn || (b.msn === a.msn && b.part >= a.part), 'position never goes back').toBe(true);
	for (const old of before.segments) {
		const now = after.segments.find((s) => s.msn === old.msn);
		if (!now) continue;
		expect(now.pdt).toBe(old.pdt);
		if (old.uri) expect(now).toMatchObject({ uri: old.uri, durationS: old.durationS });
		const shared = Math.min(old.parts.length, now.parts.length);
		if (now.parts.length > 0 && old.parts.length > 0) expect(now.parts.slice(0, shared)).toEqual(old.parts.slice(0, shared));
	}
}

describe('LL-HLS origin with real ffmpeg and Redis', () => {
	let live: LiveStream;
	const renditions = ['360p', '180p', 'audio'];
	const fetched: ParsedMediaPlaylist[] = [];
	/** The first playlists the origin gave, asked for from the moment the encoder started. */
	let firstPlaylist: ParsedMediaPlaylist;
	let firstSubtitles: ParsedMediaPlaylist;

	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl') });
		await live.listen();
		live.startEncoder();
		const first = (rendition: string): Promise<ParsedMediaPlaylist> =>
			until(async () => {
				const reply = await get(live.url(`${rendition}/index.m3u8`));
				return reply.status === 200 ? parseMediaPlaylist(reply.text) : undefined;
			}, 15_000, `the first ${rendition} playlist`);
		[firstPlaylist, firstSubtitles] = await Promise.all([first('360p'), first('subs')]);
	});
	afterAll(async () => live?.close());

	it('holds the first playlist request of a starting stream until a player can start PART-HOLD-BACK from the edge with a segment behind it', () => {
		const heldS = firstPlaylist.segments.reduce((sum, s) => sum + (s.durationS ?? s.parts.reduce((p, part) => p + part.durationS, 0)), 0);
		const partHoldBackS = Number(firstPlaylist.serverControl['PART-HOLD-BACK']);
		expect(partHoldBackS).toBeCloseTo(0.6, 3);
		// Asked for from the first moment, answered only with 0.6 s + one 1 s segment (part durations are whole frames).
		expect(heldS).toBeGreaterThanOrEqual(partHoldBackS + 1 - 0.05);
		expect(heldS).toBeLessThan(partHoldBackS + 1 + 0.5);
	});

	it('holds the first subtitles playlist request until it has a segment (an empty live playlist is an error to hls.js)', () => {
		expect(firstSubtitles.segments.length).toBeGreaterThan(0);
	});

	it('lists every rendition with CODECS, BANDWIDTH, RESOLUTION and the subtitles group', async () => {
		const master = await get(live.url('master.m3u8'), { gzip: true });
		expect(master.status).toBe(200);
		expect(master.gzipped).toBe(true);
		expect(master.headers['content-type']).toBe('application/vnd.apple.mpegurl');
		expect(master.headers['access-control-allow-origin']).toBe('*');
		const variants = master.text.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:')).map((l) => attributes(l.slice(18)));
		expect(variants.map((v) => [v.CODECS?.replace(/avc1\.[0-9a-f]{6}/, 'avc1'), v.RESOLUTION])).toEqual([
			['avc1,mp4a.40.2', '640x360'],
			['avc1,mp4a.40.2', '320x180'],
			['mp4a.40.2', undefined],
		]);
		for (const v of variants) expect(Number(v.BANDWIDTH)).toBeGreaterThan(0);
		expect(master.text).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"');
	});

	it(`follows the stream with blocking reloads for ${runSeconds} s, and every playlist obeys the rules`, { timeout: 90_000 }, async () => {
		const first = parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text);
		checkPlaylistRules(first, renditions, '360p');
		fetched.push(first);
		const watchedPart = first.segments.at(-1)?.parts[0]?.uri as string;
		let sawDropped = false;
		const deadline = Date.now() + runSeconds * 1000;
		let previous = first;
		for (let i = 0; Date.now() < deadline && i < 500; i++) {
			const { msn, part } = lastPosition(previous);
			const hint = previous.preloadHint as string;
			// An LL client asks for the next part and fetches the hinted part at the same time; both are held.
			const [reply, hinted] = await Promise.all([get(live.url(`360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part + 1}`), { gzip: i % 2 === 0 }), get(live.url(`360p/${hint}`))]);
			expect(reply.status).toBe(200);
			expect(reply.headers['cache-control']).toBe('public, max-age=6');
			expect(hinted.status).toBe(200);
			expect(hinted.headers['content-type']).toBe('video/mp4');
			expect(hinted.headers['cache-control']).toContain('immutable');
			expect(hinted.body.toString('latin1', 4, 8)).toBe('moof');
			const playlist = parseMediaPlaylist(reply.text);
			checkPlaylistRules(playlist, renditions, '360p');
			checkContinuity(previous, playlist);
			expect(playlist.segments.flatMap((s) => s.parts).some((p) => p.uri === hint), 'the hinted part is now listed').toBe(true);
			fetched.push(playlist);
			previous = playlist;
			if (!sawDropped && !playlist.segments.some((s) => s.parts.some((p) => p.uri === watchedPart))) {
				// Parts leave the playlist after ~3 target durations but stay downloadable.
				expect((await get(live.url(`360p/${watchedPart}`))).status).toBe(200);
				sawDropped = true;
			}
			if (i % 10 === 5) {
				for (const other of ['180p', 'audio']) {
					const sibling = await get(live.url(`${other}/index.m3u8`));
					const parsed = parseMediaPlaylist(sibling.text);
					checkPlaylistRules(parsed, renditions, other);
					fetched.push(parsed);
				}
			}
		}
		expect(sawDropped).toBe(true);
		expect(fetched.length).toBeGreaterThan(runSeconds * 4);
		// Its segment has left the 12-segment window: the part stays downloadable as long again (plus a segment,
		// RFC 8216bis §6.2.2), then it is gone from memory.
		const watchedMsn = first.mediaSequence + first.segments.length - 1;
		expect(parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text).mediaSequence).toBeGreaterThan(watchedMsn);
		expect((await get(live.url(`360p/${watchedPart}`))).status).toBe(200);
		const stillThere = Date.now();
		let status = 200;
		for (let i = 0; i < 40 && status === 200; i++) {
			await new Promise((resolve) => setTimeout(resolve, 500));
			status = (await get(live.url(`360p/${watchedPart}`))).status;
		}
		expect(status).toBe(404);
		console.log(`a part ${runSeconds} s old was still downloadable, gone ${((Date.now() - stillThere) / 1000).toFixed(1)} s later`);
	});

	it('serves delta updates that equal the full playlist once the skipped segments are put back', async () => {
		let compared = 0;
		for (let attempt = 0; attempt < 20 && compared < 3; attempt++) {
			const full = await get(live.url('360p/index.m3u8'));
			const delta = await get(live.url('360p/index.m3u8?_HLS_skip=YES'));
			const again = await get(live.url('360p/index.m3u8'));
			if (full.text !== again.text) continue;
			const whole = parseMediaPlaylist(full.text);
			const skip = parseMediaPlaylist(delta.text);
			expect(skip.skipped).toBeGreaterThan(0);
			expect(delta.text).toContain(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skip.skipped}`);
			expect(skip.mediaSequence).toBe(whole.mediaSequence);
			const expanded = [...whole.segments.slice(0, skip.skipped), ...skip.segments];
			expect(expanded).toEqual(whole.segments);
			expect(skip.preloadHint).toBe(whole.preloadHint);
			const v2 = parseMediaPlaylist((await get(live.url('360p/index.m3u8?_HLS_skip=v2'))).text);
			expect(v2.skipped).toBeGreaterThan(0);
			compared++;
		}
		expect(compared).toBe(3);
	});

	it('answers 400 to impossible blocking requests and 503 when the part does not come in time', async () => {
		const now = parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text);
		const { msn, part } = lastPosition(now);
		expect((await get(live.url(`360p/index.m3u8?_HLS_part=1`))).status).toBe(400);
		// "The last Media Segment in the current Playlist" is the last complete one (msn − 1; msn is still parts): two
		// past it is the open segment + 1, which comes within two segments; one more is refused at once.
		const refused = await get(live.url(`360p/index.m3u8?_HLS_msn=${msn + 2}`));
		expect(refused.status).toBe(400);
		expect(refused.text).toContain(`past the last complete segment (${msn - 1})`);
		expect((await get(live.url(`360p/index.m3u8?_HLS_msn=${msn + 3}`))).status).toBe(400);
		expect((await get(live.url(`360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part + 16}`))).status).toBe(400);
		expect((await get(live.url(`360p/index.m3u8?_HLS_msn=abc`))).status).toBe(400);
		const bad = await get(live.url(`360p/index.m3u8?_HLS_msn=${msn + 3}`));
		expect(bad.headers['cache-control']).toBe('no-store');
		const waited = await get(live.url(`360p/index.m3u8?_HLS_msn=${msn + 1}`));
		expect(waited.status).toBe(200);
		expect(parseMediaPlaylist(waited.text).segments.find((s) => s.msn === msn + 1)?.uri).toBe(`seg-${msn + 1}.m4s`);

		const pid = live.encoderPid;
		if (pid === undefined) throw new Error('no encoder running');
		process.kill(pid, 'SIGSTOP');
		try {
			const latest = parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text);
			const next = lastPosition(latest);
			const held = await get(live.url(`360p/index.m3u8?_HLS_msn=${next.msn + 1}&_HLS_part=0`), { timeoutMs: 10_000 });
			expect(held.status).toBe(503);
			expect(held.elapsedMs).toBeGreaterThanOrEqual(2500);
			expect(held.elapsedMs).toBeLessThan(6000);
		} finally {
			process.kill(pid, 'SIGCONT');
		}
	});

	it('serves only Tribune names, with the right types and caching', async () => {
		for (const path of ['../package.json', `${live.streamId}/360p/..%2f..%2fpackage.json`, `${live.streamId}/360p/seg-01.m4s`, `${live.streamId}/360p/index.m3u8.tmp`, `${live.streamId}/nope/x`]) {
			const reply = await get(`${live.baseUrl}/hls/${path}`);
			expect(reply.status, path).toBe(404);
		}
		// A well-formed id that no packager publishes: a short-lived 404, and nothing is followed.
		const unknown = await get(`${live.baseUrl}/hls/nosuchstream/master.m3u8`);
		expect(unknown.status).toBe(404);
		expect(unknown.headers['cache-control']).toBe('public, max-age=2');
		const missing = await get(live.url('360p/seg-999999.m4s'));
		expect(missing.status).toBe(404);
		expect(missing.headers['cache-control']).toBe('public, max-age=2');
		// The replay asked for before it is written: the live window answers, kept a few seconds only (the replay
		// takes its place once written; an hour-long copy hid it from players and CDNs).
		const early = await get(live.url('vod.m3u8'));
		expect(early.status).toBe(200);
		expect(early.text).toContain('360p/index.m3u8');
		expect(early.headers['cache-control']).toBe('public, max-age=2');
		const plain = await get(live.url('360p/index.m3u8'));
		expect(plain.headers['cache-control']).toBe('public, max-age=0');
		expect(plain.headers.vary).toBe('Accept-Encoding');
		const init = await get(live.url('audio/init-0.mp4'));
		expect(init.headers['content-type']).toBe('audio/mp4');
		expect(init.body.toString('latin1', 4, 8)).toBe('ftyp');
		const segment = await get(live.url(`360p/seg-${parseMediaPlaylist(plain.text).segments[0]?.msn}.m4s`));
		expect(segment.status).toBe(200);
		expect(segment.body.toString('latin1', 4, 8)).toBe('moof');
		const subs = await get(live.url('subs/index.m3u8'));
		expect(subs.status).toBe(200);
		const vttUri = subs.text.split('\n').find((l) => l.endsWith('.vtt')) as string;
		const vtt = await get(live.url(`subs/${vttUri}`));
		expect(vtt.headers['content-type']).toBe('text/vtt; charset=utf-8');
		expect(vtt.text).toMatch(/^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:/);
	});

	it('holds a subtitles playlist request until the next WebVTT segment is published', async () => {
		const subs = await get(live.url('subs/index.m3u8'));
		const video = await get(live.url('360p/index.m3u8'));
		// The same server control as the media renditions (Appendix B.1; Shaka fails the track without PART-HOLD-BACK).
		const control = (text: string): string[] => text.split('\n').filter((l) => /^#EXT-X-(SERVER-CONTROL|PART-INF):/.test(l));
		expect(control(subs.text)).toEqual(control(video.text));
		expect(control(subs.text)).toHaveLength(2);
		const last = parseMediaPlaylist(subs.text).segments.at(-1)?.msn as number;
		const held = await get(live.url(`subs/index.m3u8?_HLS_msn=${last + 1}`));
		expect(held.status).toBe(200);
		expect(held.elapsedMs).toBeLessThan(2500);
		// Answered once segment last + 1 exists (a plain reload could still end at `last`).
		expect(parseMediaPlaylist(held.text).segments.at(-1)?.msn).toBeGreaterThanOrEqual(last + 1);
		expect((await get(live.url(`subs/index.m3u8?_HLS_msn=${last + 4}`))).status).toBe(400);
		// Delta updates too: the segments left out are those of the full playlist that start over 6 s before its end.
		for (let attempt = 0; attempt < 20; attempt++) {
			const [full, delta] = await Promise.all([get(live.url('subs/index.m3u8')), get(live.url('subs/index.m3u8?_HLS_skip=YES'))]);
			const whole = parseMediaPlaylist(full.text);
			const skip = parseMediaPlaylist(delta.text);
			if (whole.segments.at(-1)?.msn !== skip.segments.at(-1)?.msn) continue;
			expect(skip.skipped).toBeGreaterThan(0);
			expect([...whole.segments.slice(0, skip.skipped), ...skip.segments]).toEqual(whole.segments);
			return;
		}
		throw new Error('no full and delta subtitles playlist of the same moment in 20 attempts');
	});

	it('a client that stops polling for 6 s finds the hinted part\'s segment complete on its next reload, and a delta keeps what it has not seen', { timeout: 30_000 }, async () => {
		const sentAt = Date.now();
		const first = await get(live.url('360p/index.m3u8'));
		const before = parseMediaPlaylist(first.text);
		const hint = Number(/part-(\d+)\.m4s/.exec(before.preloadHint ?? '')?.[1]);
		const { msn, part } = lastPosition(before);
		await new Promise((resolve) => setTimeout(resolve, 6000));
		// The reloads a client makes then: full, a plain delta, and (as Shaka does, whatever its copy's age) a
		// blocking delta for the part after its last.
		const query = [`360p/index.m3u8`, `360p/index.m3u8?_HLS_skip=YES`, `360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part + 1}&_HLS_skip=YES`];
		const reloadAt = Date.now();
		const [full, delta, blocking] = await Promise.all(query.map((q) => get(live.url(q))));
		const after = parseMediaPlaylist((full as Fetched).text);
		const listed = after.segments.flatMap((s) => s.parts.map((p) => Number(/part-(\d+)/.exec(p.uri)?.[1])));
		// The part window (3 target durations) has moved past the hinted part: its segment is listed whole.
		expect(listed[0]).toBeGreaterThan(hint);
		expect(after.segments.find((s) => s.msn === msn)?.uri).toBe(`seg-${msn}.m4s`);
		expect((await get(live.url(`360p/seg-${msn}.m4s`))).status).toBe(200);
		const kept = parseMediaPlaylist((blocking as Fetched).text);
		expect(kept.mediaSequence + kept.skipped, 'the blocking delta keeps the segment before the one asked for').toBeLessThanOrEqual(msn - 1);
		expect(kept.segments.find((s) => s.msn === msn)?.uri).toBe(`seg-${msn}.m4s`);
		const fetches: PlaylistFetch[] = [
			{ uri: '360p/index.m3u8', sentAtMs: sentAt, answeredAtMs: sentAt + first.elapsedMs, status: first.status, text: first.text },
			...[full, delta, blocking].map((reply, i) => ({
				uri: '360p/index.m3u8',
				...(i > 0 && { skip: 'YES' as const }),
				...(i === 2 && { msn, part: part + 1 }),
				sentAtMs: reloadAt,
				answeredAtMs: reloadAt + (reply as Fetched).elapsedMs,
				status: (reply as Fetched).status,
				text: (reply as Fetched).text,
			})),
		];
		const master = await get(live.url('master.m3u8'));
		expect(checkLlhls({ multivariant: master.text, fetches })).toEqual([]);
	});

	it('can be read by ffprobe live', async () => {
		const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', live.url('360p/index.m3u8')], { timeout: 30_000 });
		// ffprobe lists streams once per program and once more: compare the set.
		expect([...new Set(stdout.split('\n').filter(Boolean))].sort()).toEqual(['aac', 'h264']);
	});

	it('ends with EXT-X-ENDLIST and leaves a replay that plays from the start', { timeout: 60_000 }, async () => {
		await live.end();
		const ended = await until(async () => {
			const p = parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text);
			return p.endList ? p : undefined;
		}, 5000, 'EXT-X-ENDLIST');
		expect(ended.preloadHint).toBeUndefined();
		const { msn } = lastPosition(ended);
		expect((await get(live.url(`360p/index.m3u8?_HLS_msn=${msn + 1}&_HLS_part=0`))).status).toBe(200);
		const master = await get(live.url('master.m3u8'));
		expect(master.text).toContain('360p/vod.m3u8');
		const replay = await get(live.url('vod.m3u8'));
		expect(replay.text).toContain('360p/vod.m3u8');
		expect(replay.headers['cache-control']).toBe('public, max-age=3600');
		const vod = parseMediaPlaylist((await get(live.url('360p/vod.m3u8'))).text);
		expect(vod.playlistType).toBe('VOD');
		expect(vod.endList).toBe(true);
		expect(vod.segments[0]?.msn).toBe(0);
		expect(vod.segments.at(-1)?.msn).toBe(msn);
		const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', live.url('vod.m3u8')], { timeout: 30_000 });
		expect(Number(stdout.trim())).toBeGreaterThan(runSeconds);
	});
});
