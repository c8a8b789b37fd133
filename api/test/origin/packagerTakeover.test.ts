import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { get, until } from './support/fetchText.js';
import { LiveStream } from './support/liveStream.js';
import { parseMediaPlaylist, type ParsedMediaPlaylist } from './support/parsePlaylist.js';

const run = promisify(execFile);

describe('a broadcast taken over by another packager (its transcoder died)', () => {
	let live: LiveStream;
	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl') });
		await live.listen();
	});
	afterAll(async () => live?.close());

	const playlistWith = (what: string, accept: (p: ParsedMediaPlaylist) => boolean): Promise<ParsedMediaPlaylist> => live.playlistWith('360p', what, accept);

	it('continues the numbering origins and players follow, after a discontinuity, and keeps the replay whole', { timeout: 90_000 }, async () => {
		live.startEncoder();
		const before = await playlistWith('three segments and a part of the fourth', (p) => p.segments.length >= 4 && (p.segments.at(-1)?.parts.length ?? 0) >= 2);
		await live.takeOver();
		const after = await playlistWith('two segments of the new packager', (p) => p.segments.filter((s) => s.map === 'init-1.mp4').length >= 2);

		// The origin took the new packager's events (it drops any seq it has seen), and the timeline runs on.
		const restart = after.segments.findIndex((s) => s.discontinuity);
		expect(restart).toBeGreaterThan(0);
		expect(after.segments[restart]?.map).toBe('init-1.mp4');
		expect(after.segments[restart - 1]?.map).toBe('init-0.mp4');
		expect(after.segments[restart]?.parts[0]?.independent).toBe(true);
		after.segments.forEach((s, i) => i > 0 && expect(s.msn).toBe((after.segments[i - 1]?.msn as number) + 1));
		expect(after.segments[0]?.msn).toBeLessThanOrEqual(before.segments.at(-1)?.msn as number);
		const pdts = after.segments.map((s) => Date.parse(s.pdt as string));
		pdts.forEach((t, i) => i > 0 && expect(t).toBeGreaterThan(pdts[i - 1] as number));
		// Part names keep growing across the takeover, so none is reused for other bytes.
		const partNumbers = after.segments.flatMap((s) => s.parts.map((p) => Number(/part-(\d+)\.m4s/.exec(p.uri)?.[1])));
		partNumbers.forEach((n, i) => i > 0 && expect(n).toBe((partNumbers[i - 1] as number) + 1));
		const firstNew = after.segments[restart]?.parts[0]?.uri as string;
		const part = await get(live.url(`360p/${firstNew}`));
		expect(part.status).toBe(200);
		expect(part.body.toString('latin1', 4, 8)).toBe('moof');

		// The replay keeps what the first packager completed, then the new run after a discontinuity.
		await live.end();
		const dir = path.join(live.dataDir, 'hls', live.streamId, '360p');
		await until(async () => (fs.existsSync(path.join(dir, 'vod.m3u8')) ? true : undefined), 10_000, 'the replay playlist');
		const vod = parseMediaPlaylist(fs.readFileSync(path.join(dir, 'vod.m3u8'), 'utf8'));
		const completedBefore = before.segments.slice(0, -1).map((s) => s.msn);
		expect(vod.segments.map((s) => s.msn)).toEqual(expect.arrayContaining(completedBefore));
		const vodRestart = vod.segments.findIndex((s) => s.discontinuity);
		expect(vod.segments[vodRestart]?.map).toBe('init-1.mp4');
		expect(vod.segments.slice(0, vodRestart).every((s) => s.map === 'init-0.mp4')).toBe(true);
		const listed = vod.segments.reduce((sum, s) => sum + (s.durationS ?? 0), 0);
		const { stdout } = await run('ffprobe', ['-v', 'error', '-allowed_extensions', 'ALL', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(dir, 'vod.m3u8')]);
		expect(Number(stdout.trim())).toBeGreaterThan(listed - 1);
	});
});
