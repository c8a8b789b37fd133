import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { get, until } from './support/fetchText.js';
import { checkLlhls, type PlaylistFetch } from './support/llhlsChecker.js';
import { LiveStream } from './support/liveStream.js';
import { lastPosition, parseMediaPlaylist, type ParsedMediaPlaylist } from './support/parsePlaylist.js';

const runSeconds = 60;
const mediaRenditions = ['360p', '180p', 'audio'];

/**
 * The origin over a live minute of a video stream with captions, read as an independent LL-HLS client would and
 * judged by checkLlhls: every rendition (subtitles included) followed with blocking reloads, some of them delta
 * updates; full reloads beside them; every complete segment downloaded (for BANDWIDTH); and probes of the blocking
 * limits. The test asserts that the checker finds nothing.
 */
describe('LL-HLS conformance over a live minute', () => {
	let live: LiveStream;
	const fetches: PlaylistFetch[] = [];
	const segmentBytes: Record<string, Record<number, number>> = {};

	/** GETs a media playlist with directives and records the exchange. */
	async function fetchPlaylist(rendition: string, directives: { msn?: number; part?: number; skip?: 'YES' } = {}): Promise<ParsedMediaPlaylist | undefined> {
		const uri = `${rendition}/index.m3u8`;
		const query = [directives.msn !== undefined && `_HLS_msn=${directives.msn}`, directives.part !== undefined && `_HLS_part=${directives.part}`, directives.skip && `_HLS_skip=${directives.skip}`].filter(Boolean).join('&');
		const sentAtMs = Date.now();
		const reply = await get(live.url(query ? `${uri}?${query}` : uri), { timeoutMs: 10_000 });
		fetches.push({ uri, ...directives, sentAtMs, answeredAtMs: Date.now(), status: reply.status, text: reply.text });
		return reply.status === 200 ? parseMediaPlaylist(reply.text) : undefined;
	}

	/** Downloads the complete segments of `playlist` not downloaded yet (their bytes, for BANDWIDTH). */
	async function downloadSegments(rendition: string, playlist: ParsedMediaPlaylist): Promise<void> {
		const known = (segmentBytes[`${rendition}/index.m3u8`] ??= {});
		for (const segment of playlist.segments) {
			if (segment.uri === undefined || segment.gap || known[segment.msn] !== undefined) continue;
			const reply = await get(live.url(`${rendition}/${segment.uri}`));
			if (reply.status === 200) known[segment.msn] = reply.body.length;
		}
	}

	/** Follows a media rendition as hls.js in low-latency mode does: a blocking reload for the next part, a delta every other time. */
	async function followMedia(rendition: string, deadlineMs: number): Promise<void> {
		let playlist = await fetchPlaylist(rendition);
		for (let i = 0; Date.now() < deadlineMs && i < 2000; i++) {
			if (!playlist) {
				playlist = await fetchPlaylist(rendition);
				continue;
			}
			const { msn, part } = lastPosition(playlist);
			const next = await fetchPlaylist(rendition, { msn, part: part + 1, ...(i % 2 === 1 && { skip: 'YES' as const }) });
			if (next) await downloadSegments(rendition, next);
			playlist = next ?? (await fetchPlaylist(rendition));
		}
	}

	/** Follows the subtitles with blocking reloads for the next segment, every other one a delta update. */
	async function followSubtitles(deadlineMs: number): Promise<void> {
		let last = (await fetchPlaylist('subs'))?.segments.at(-1)?.msn ?? 0;
		for (let i = 0; Date.now() < deadlineMs && i < 500; i++) {
			const next = await fetchPlaylist('subs', { msn: last + 1, ...(i % 2 === 1 && { skip: 'YES' as const }) });
			last = next?.segments.at(-1)?.msn ?? last;
		}
	}

	/**
	 * Every 2 s: full reloads of every rendition beside a delta of the same moment, a request for a segment the
	 * playlist already holds (answered at once), and one three past the last complete segment (a 400).
	 */
	async function probe(deadlineMs: number): Promise<void> {
		for (let i = 0; Date.now() < deadlineMs && i < 100; i++) {
			await new Promise((resolve) => setTimeout(resolve, 2000));
			for (const rendition of [...mediaRenditions, 'subs']) {
				const [full] = await Promise.all([fetchPlaylist(rendition), fetchPlaylist(rendition, { skip: 'YES' })]);
				if (!full || full.endList) continue;
				const lastComplete = Math.max(...full.segments.filter((s) => s.uri !== undefined).map((s) => s.msn));
				await fetchPlaylist(rendition, { msn: full.mediaSequence + 1 });
				await fetchPlaylist(rendition, { msn: lastComplete + 3 });
			}
		}
	}

	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl') });
		await live.listen();
		// A cue every 4 s of media time, so the subtitle segments are not all empty.
		for (let startS = 2; startS < runSeconds + 10; startS += 4) live.packager.addCue({ startS, endS: startS + 2, text: `Cue at ${startS} s` });
		live.startEncoder();
		await until(async () => ((await get(live.url('360p/index.m3u8'))).status === 200 ? true : undefined), 15_000, 'the first playlist');
	});
	afterAll(async () => live?.close());

	it(`finds no rule broken in ${runSeconds} s of playlists, segments and blocking requests`, { timeout: (runSeconds + 40) * 1000 }, async () => {
		const master = await get(live.url('master.m3u8'));
		expect(master.status).toBe(200);
		const deadlineMs = Date.now() + runSeconds * 1000;
		await Promise.all([...mediaRenditions.map((r) => followMedia(r, deadlineMs)), followSubtitles(deadlineMs), probe(deadlineMs)]);

		// The observations are rich enough for every rule to have had its chance.
		expect(fetches.filter((f) => f.msn !== undefined && f.part !== undefined).length).toBeGreaterThan(runSeconds * 3 * 3);
		expect(fetches.filter((f) => f.uri === 'subs/index.m3u8' && f.msn !== undefined && f.status === 200).length).toBeGreaterThan(runSeconds / 2);
		expect(fetches.filter((f) => f.skip && f.text.includes('#EXT-X-SKIP:')).length).toBeGreaterThan(50);
		expect(fetches.filter((f) => f.status === 400).length).toBeGreaterThan(40);
		for (const rendition of mediaRenditions) expect(Object.keys(segmentBytes[`${rendition}/index.m3u8`] ?? {}).length).toBeGreaterThan(runSeconds - 10);
		const subtitles = fetches.filter((f) => f.uri === 'subs/index.m3u8' && f.status === 200).at(-1)?.text ?? '';
		expect(subtitles).toContain('seg-');

		expect(checkLlhls({ multivariant: master.text, fetches, segmentBytes })).toEqual([]);
	});
});
