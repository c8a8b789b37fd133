import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { get, until, type Fetched } from './support/fetchText.js';
import { LiveStream } from './support/liveStream.js';
import { parseMediaPlaylist } from './support/parsePlaylist.js';

/**
 * The API serves `/hls/…` from its request listener ahead of Express (createOrigin's serveHls) and leaves `/HLS/…`
 * to the Express app's router (Express matches mount paths case-insensitively). Both must answer alike: same
 * status, headers and body for every kind of answer the origin gives, errors included (which Express used to shape).
 */
describe('the origin ahead of Express', () => {
	let live: LiveStream;

	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl'), ladder: [{ name: 'audio', audioKbps: 48 }] });
		await live.listen();
		live.startEncoder();
		await live.playlistWith('audio', 'two segments', (p) => p.segments.length >= 2);
	}, 60_000);
	afterAll(async () => {
		await live?.close();
	});

	/**
	 * Status, headers and body: what must not depend on the path a request took. Not Date, nor the X-Powered-By this
	 * test's bare Express app adds to what reaches it (the production app, createApp, disables it).
	 */
	const answer = (reply: Fetched): unknown => {
		const { date: _date, 'x-powered-by': _poweredBy, ...headers } = reply.headers;
		return { status: reply.status, headers, body: reply.text };
	};

	it('answers /hls/ and /HLS/ alike: media, playlists, errors, preflight and methods it refuses', { timeout: 60_000 }, async () => {
		const playlist = parseMediaPlaylist((await get(live.url('audio/index.m3u8'))).text);
		const segment = playlist.segments[0] as { msn: number };
		const id = live.streamId;
		const targets: { path: string; method?: string; gzip?: boolean }[] = [
			{ path: `${id}/audio/seg-${segment.msn}.m4s` },
			{ path: `${id}/audio/seg-${segment.msn}.m4s`, method: 'HEAD' },
			{ path: `${id}/audio/init-0.mp4` },
			{ path: `${id}/audio/seg-${segment.msn}.m4s?x=1` },
			{ path: `${id}/audio/part-0.m4s` },
			{ path: `${id}/audio/part-99999999.m4s` },
			{ path: `${id}/audio/vod.m3u8` },
			{ path: `${id}/audio/index.m3u8?_HLS_msn=abc` },
			{ path: `${id}/audio/index.m3u8?_HLS_part=1` },
			{ path: `${id}/audio/index.m3u8?_HLS_msn=99999999` },
			{ path: `${id}/audio/index.m3u8?_HLS_msn=${segment.msn}`, gzip: true },
			{ path: `${id}/nope.txt` },
			{ path: `no-such-stream/master.m3u8` },
			{ path: `${id}/master.m3u8`, method: 'POST' },
			{ path: `${id}/master.m3u8`, method: 'DELETE' },
			{ path: `${id}/master.m3u8`, method: 'OPTIONS' },
		];
		let compared = 0;
		for (const target of targets) {
			// A live answer may move on between the two requests (a new part): retry a few times before calling it.
			let lower: Fetched | undefined;
			let upper: Fetched | undefined;
			for (let attempt = 0; attempt < 5; attempt++) {
				const options = { method: target.method, gzip: target.gzip };
				[lower, upper] = [await get(`${live.baseUrl}/hls/${target.path}`, options), await get(`${live.baseUrl}/HLS/${target.path}`, options)];
				if (JSON.stringify(answer(lower)) === JSON.stringify(answer(upper))) break;
			}
			expect(answer(lower as Fetched), `${target.method ?? 'GET'} ${target.path}`).toEqual(answer(upper as Fetched));
			compared++;
		}
		expect(compared).toBe(targets.length);
		// The errors keep the ETag Express gave them.
		const missing = await get(`${live.baseUrl}/hls/${id}/nope.txt`);
		expect(missing.status).toBe(404);
		expect(missing.headers.etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
		expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
		await until(async () => ((await get(`${live.baseUrl}/hls/${id}/master.m3u8`)).status === 200 ? true : undefined), 10_000, 'the multivariant playlist');
	});
});
