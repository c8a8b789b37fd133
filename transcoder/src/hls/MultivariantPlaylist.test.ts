import { describe, expect, it } from 'vitest';
import type { StreamDescriptor } from './HlsEvent.js';
import { renderMultivariantPlaylist } from './MultivariantPlaylist.js';

const stream: StreamDescriptor = {
	streamId: 's1',
	partTargetMs: 200,
	segmentTargetMs: 1000,
	targetDurationS: 1,
	subtitles: true,
	subtitlesDefault: true,
	renditions: [
		{ name: 'audio', kind: 'audio', codecs: ['mp4a.40.2'], bandwidth: 72_000 },
		{ name: 'v360', kind: 'video', codecs: ['avc1.64001e', 'mp4a.40.2'], bandwidth: 900_000, width: 640, height: 360, frameRate: 30 },
		{ name: 'v720', kind: 'video', codecs: ['avc1.64001f', 'mp4a.40.2'], bandwidth: 2_600_000, width: 1280, height: 720, frameRate: 30 },
	],
};

describe('renderMultivariantPlaylist', () => {
	it('lists video renditions by bandwidth, then audio-only, with the subtitles group', () => {
		expect(renderMultivariantPlaylist(stream, 'index.m3u8')).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Captions",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2600000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,SUBTITLES="subs"
v720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,SUBTITLES="subs"
v360/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=72000,CODECS="mp4a.40.2",SUBTITLES="subs"
audio/index.m3u8
`);
	});

	it('lists the subtitles, auto-selectable but not shown by default, while the stream has no captions to show', () => {
		const off = renderMultivariantPlaylist({ ...stream, subtitlesDefault: false }, 'index.m3u8');
		expect(off).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Captions",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/index.m3u8"\n');
		const { subtitlesDefault: _, ...older } = stream;
		expect(renderMultivariantPlaylist(older, 'index.m3u8')).toBe(off);
	});

	it('states AVERAGE-BANDWIDTH beside BANDWIDTH when it was measured (a replay)', () => {
		const measured = { ...stream, renditions: [{ name: 'audio', kind: 'audio' as const, codecs: ['mp4a.40.2'], bandwidth: 86_512, averageBandwidth: 61_003 }] };
		expect(renderMultivariantPlaylist(measured, 'vod.m3u8')).toContain('\n#EXT-X-STREAM-INF:BANDWIDTH=86512,AVERAGE-BANDWIDTH=61003,CODECS="mp4a.40.2",SUBTITLES="subs"\naudio/vod.m3u8\n');
	});

	it('points a replay at the VOD playlists, without subtitles when there are none', () => {
		const text = renderMultivariantPlaylist({ ...stream, subtitles: false }, 'vod.m3u8');
		expect(text).not.toContain('SUBTITLES');
		expect(text).toContain('\nv720/vod.m3u8\n');
	});
});
