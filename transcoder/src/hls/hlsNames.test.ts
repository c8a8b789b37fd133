import { describe, expect, it } from 'vitest';
import { initName, parseHlsPath, partName, segmentName, vttName } from './hlsNames.js';

describe('parseHlsPath', () => {
	it('accepts the names the packager writes', () => {
		expect(parseHlsPath('abc_-1/master.m3u8')).toEqual({ kind: 'multivariant', streamId: 'abc_-1', vod: false });
		expect(parseHlsPath('s/vod.m3u8')).toEqual({ kind: 'multivariant', streamId: 's', vod: true });
		expect(parseHlsPath('s/v720/index.m3u8')).toEqual({ kind: 'media-playlist', streamId: 's', rendition: 'v720', vod: false });
		expect(parseHlsPath(`s/v720/${initName(2)}`)).toEqual({ kind: 'init', streamId: 's', rendition: 'v720', index: 2 });
		expect(parseHlsPath(`s/audio/${partName(1234)}`)).toEqual({ kind: 'part', streamId: 's', rendition: 'audio', seq: 1234 });
		expect(parseHlsPath(`s/v360/${segmentName(0)}`)).toEqual({ kind: 'segment', streamId: 's', rendition: 'v360', msn: 0 });
		expect(parseHlsPath(`s/subs/${vttName(7)}`)).toEqual({ kind: 'vtt', streamId: 's', msn: 7 });
		expect(parseHlsPath('s/subs/vod.m3u8')).toEqual({ kind: 'media-playlist', streamId: 's', rendition: 'subs', vod: true });
	});

	it('rejects anything else, including traversal and non-canonical numbers', () => {
		for (const path of [
			'../etc/passwd',
			's/../../etc/passwd',
			's/v720/../../x',
			's/%2e%2e/index.m3u8',
			's/v720/seg-01.m4s',
			's/v720/seg-1.m4s.tmp',
			's/v720/part--1.m4s',
			's/v720/seg-1.vtt',
			's/subs/seg-1.m4s',
			's/V720/index.m3u8',
			's/7.20/index.m3u8',
			's/v720/stream.json',
			's/v720/x/index.m3u8',
			'a.b/master.m3u8',
			'',
			's',
			`${'x'.repeat(65)}/master.m3u8`,
			's/v720/seg-99999999999999999.m4s',
		]) {
			expect(parseHlsPath(path), path).toBeUndefined();
		}
	});
});
