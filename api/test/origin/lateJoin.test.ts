import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrigin } from '../../src/origin/createOrigin.js';
import { get, until } from './support/fetchText.js';
import { LiveStream } from './support/liveStream.js';
import { parseMediaPlaylist } from './support/parsePlaylist.js';

describe('an origin that starts following a stream mid-broadcast', () => {
	let live: LiveStream;
	let late: { server: http.Server; close: () => void; baseUrl: string } | undefined;

	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl') });
		await live.listen();
		live.startEncoder();
		await until(async () => {
			const reply = await get(live.url('360p/index.m3u8'));
			return reply.status === 200 && parseMediaPlaylist(reply.text).segments.length >= 4 ? true : undefined;
		}, 20_000, 'four segments');
	});
	afterAll(async () => {
		late?.server.closeAllConnections();
		late?.server.close();
		late?.close();
		await live?.close();
	});

	it('rebuilds the same window from the Redis log and follows live from there', async () => {
		const origin = createOrigin({ redisUrl: inject('redisUrl'), redisPrefix: live.prefix, dataDir: live.dataDir, windowSegments: 12, logger: pino({ level: 'warn' }) });
		const server = http.createServer(express().use('/hls', origin.router));
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		late = { server, close: origin.close, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
		const lateUrl = (relative: string): string => `${late?.baseUrl}/hls/${live.streamId}/${relative}`;

		// Both origins answer the same blocking request with the same playlist, part for part.
		const first = parseMediaPlaylist((await get(live.url('360p/index.m3u8'))).text);
		const next = first.segments.at(-1) as { msn: number; parts: unknown[] };
		const query = `360p/index.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.parts.length}`;
		for (let attempt = 0; attempt < 5; attempt++) {
			const [a, b] = await Promise.all([get(live.url(query)), get(lateUrl(query))]);
			if (a.text === b.text) break;
			expect(attempt, 'playlists differ beyond a part in flight').toBeLessThan(4);
		}
		const joined = parseMediaPlaylist((await get(lateUrl('360p/index.m3u8'))).text);
		expect(joined.mediaSequence).toBe(0);
		expect((await get(lateUrl('master.m3u8'))).status).toBe(200);
		const segment = await get(lateUrl('360p/seg-1.m4s'));
		const original = await get(live.url('360p/seg-1.m4s'));
		expect(segment.status).toBe(200);
		expect(segment.body.equals(original.body)).toBe(true);
		expect((await get(lateUrl('audio/init-0.mp4'))).body.equals((await get(live.url('audio/init-0.mp4'))).body)).toBe(true);
	});
});
