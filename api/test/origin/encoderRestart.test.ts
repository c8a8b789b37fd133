import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { get } from './support/fetchText.js';
import { LiveStream } from './support/liveStream.js';
import type { ParsedMediaPlaylist } from './support/parsePlaylist.js';

describe('an encoder restart during a live stream', () => {
	let live: LiveStream;
	beforeAll(async () => {
		live = new LiveStream({ redisUrl: inject('redisUrl') });
		await live.listen();
	});
	afterAll(async () => live?.close());

	const playlistWith = (what: string, accept: (p: ParsedMediaPlaylist) => boolean): Promise<ParsedMediaPlaylist> => live.playlistWith('360p', what, accept);

	it('continues the media sequence after EXT-X-DISCONTINUITY with the new init section', { timeout: 60_000 }, async () => {
		live.startEncoder();
		const before = await playlistWith('three segments', (p) => p.segments.length >= 3);
		await live.stopEncoder();
		live.startEncoder();
		const after = await playlistWith('a segment after the restart', (p) => p.segments.some((s) => s.discontinuity) && p.segments.at(-1)?.map === 'init-1.mp4' && (p.segments.at(-1)?.parts.length ?? 0) > 1);
		const restart = after.segments.findIndex((s) => s.discontinuity);
		expect(after.segments[restart]?.map).toBe('init-1.mp4');
		expect(after.segments[restart - 1]?.map).toBe('init-0.mp4');
		expect(after.segments[restart]?.parts[0]?.independent).toBe(true);
		expect(after.text).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1.mp4"\n#EXT-X-PROGRAM-DATE-TIME:/);
		// Media sequence numbers and part numbers run on; program date-times never go back.
		after.segments.forEach((s, i) => i > 0 && expect(s.msn).toBe((after.segments[i - 1]?.msn as number) + 1));
		const pdts = after.segments.map((s) => Date.parse(s.pdt as string));
		pdts.forEach((t, i) => i > 0 && expect(t).toBeGreaterThan(pdts[i - 1] as number));
		expect(after.segments[0]?.msn).toBe(before.segments[0]?.msn);
		const init = await get(live.url('360p/init-1.mp4'));
		expect(init.status).toBe(200);
		expect(init.body.toString('latin1', 4, 8)).toBe('ftyp');
	});
});
