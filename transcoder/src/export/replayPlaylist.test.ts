import { describe, expect, it } from 'vitest';
import { chooseExportRendition, parseReplayPlaylist, replayStreamSchema } from './replayPlaylist.js';

// As PlaylistWriter renders a replay with one encoder restart.
const vod = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-29T04:45:38.243Z
#EXTINF:1.00000,
seg-0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-29T04:45:39.243Z
#EXTINF:0.96000,
seg-1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-29T04:45:41.264Z
#EXTINF:1.10133,
seg-3.m4s
#EXT-X-ENDLIST
`;

describe('parseReplayPlaylist()', () => {
	it('splits a replay into encoder runs at discontinuities', () => {
		expect(parseReplayPlaylist(vod)).toEqual([
			{ initUri: 'init-0.mp4', segments: [{ uri: 'seg-0.m4s', durationS: 1 }, { uri: 'seg-1.m4s', durationS: 0.96 }] },
			{ initUri: 'init-1.mp4', segments: [{ uri: 'seg-3.m4s', durationS: 1.10133 }] },
		]);
	});

	it('starts a new run when the init section changes, even without a discontinuity tag', () => {
		const runs = parseReplayPlaylist(vod.replace('#EXT-X-DISCONTINUITY\n', ''));
		expect(runs.map((r) => r.initUri)).toEqual(['init-0.mp4', 'init-1.mp4']);
	});

	it('keeps gap placeholders (EXT-X-GAP, no file) out of the files and counts their time after the run they follow', () => {
		// A rendition that was a segment behind when its run died: two numbers of placeholders, then the next run.
		const withGap = vod.replace('seg-1.m4s\n', 'seg-1.m4s\n#EXT-X-PROGRAM-DATE-TIME:2026-11-29T04:45:40.203Z\n#EXT-X-GAP\n#EXTINF:0.96000,\nseg-2.m4s\n#EXT-X-GAP\n#EXTINF:0.04000,\nseg-2.m4s\n');
		expect(parseReplayPlaylist(withGap)).toEqual([
			{ initUri: 'init-0.mp4', segments: [{ uri: 'seg-0.m4s', durationS: 1 }, { uri: 'seg-1.m4s', durationS: 0.96 }], gapAfterS: 1 },
			{ initUri: 'init-1.mp4', segments: [{ uri: 'seg-3.m4s', durationS: 1.10133 }] },
		]);
	});

	it('starts a new run after a gap even without a discontinuity tag (the media after it is not continuous)', () => {
		const withGap = vod.replace('#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1.mp4"\n', '').replace('seg-1.m4s\n', 'seg-1.m4s\n#EXT-X-GAP\n#EXTINF:0.50000,\nseg-2.m4s\n');
		expect(parseReplayPlaylist(withGap)).toEqual([
			{ initUri: 'init-0.mp4', segments: [{ uri: 'seg-0.m4s', durationS: 1 }, { uri: 'seg-1.m4s', durationS: 0.96 }], gapAfterS: 0.5 },
			{ initUri: 'init-0.mp4', segments: [{ uri: 'seg-3.m4s', durationS: 1.10133 }] },
		]);
	});

	it('reads an empty replay as no runs', () => {
		expect(parseReplayPlaylist('#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-ENDLIST\n')).toEqual([]);
	});

	it.each([
		['an unfinished playlist', vod.replace('#EXT-X-ENDLIST\n', ''), /not finished/],
		['a segment name that is not Tribune\'s', vod.replace('seg-3.m4s', '../../etc/passwd'), /unexpected segment name/],
		['a protocol in a segment name', vod.replace('seg-0.m4s', 'http://x/seg-0.m4s'), /unexpected segment name/],
		['an init name that is not Tribune\'s', vod.replace('init-1.mp4', 'init-1.mp4|/etc/passwd'), /unexpected init section name/],
		['a segment without EXTINF', vod.replace('#EXTINF:0.96000,\n', ''), /without EXT-X-MAP or EXTINF/],
		['something else', 'hello', /not an HLS playlist/],
	])('rejects %s', (_what, text, error) => {
		expect(() => parseReplayPlaylist(text)).toThrow(error);
	});
});

describe('chooseExportRendition()', () => {
	const stream = (renditions: unknown[]) => replayStreamSchema.parse({ descriptor: { streamId: 's', renditions }, endedAtMs: 1 });

	it('takes the tallest video rendition of a video space', () => {
		const chosen = chooseExportRendition(stream([
			{ name: '360p', kind: 'video', bandwidth: 800_000, width: 640, height: 360, codecs: [] },
			{ name: '720p', kind: 'video', bandwidth: 2_800_000, width: 1280, height: 720, codecs: [] },
			{ name: 'audio', kind: 'audio', bandwidth: 80_000, codecs: [] },
		]));
		expect(chosen?.name).toBe('720p');
	});

	it('takes the audio rendition of an audio space', () => {
		expect(chooseExportRendition(stream([{ name: 'audio', kind: 'audio', bandwidth: 80_000 }]))?.name).toBe('audio');
	});

	it('rejects rendition names that are not Tribune\'s', () => {
		expect(() => stream([{ name: '../x', kind: 'audio', bandwidth: 1 }])).toThrow();
	});
});
