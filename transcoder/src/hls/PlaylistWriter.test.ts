import { describe, expect, it } from 'vitest';
import { MediaTimeline } from './MediaTimeline.js';
import { renderMediaPlaylist, type LowLatencyOptions, type MediaPlaylistOptions } from './PlaylistWriter.js';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const lowLatency: LowLatencyOptions = {
	partTargetS: 0.2,
	partHoldBackS: 0.6,
	canSkipUntilS: 6,
	partWindowS: 3,
	renditionReports: [{ uri: '../v360/index.m3u8', lastMsn: 3, lastPart: 1 }],
};
const live: MediaPlaylistOptions = { targetDurationS: 1, type: 'live', lowLatency };

/** A timeline of `segments` one-second segments of five 200 ms parts, the last one `openParts` parts long. */
function timeline(segments: number, openParts: number, options: { restartAt?: number; firstMsn?: number } = {}): MediaTimeline {
	const result = new MediaTimeline();
	let seq = 0;
	let init = 0;
	const first = options.firstMsn ?? 0;
	for (let msn = first; msn < first + segments; msn++) {
		const parts = msn === first + segments - 1 ? openParts : 5;
		for (let i = 0; i < parts; i++) {
			const discontinuity = i === 0 && msn === options.restartAt;
			if (discontinuity) init++;
			const segment = i === 0 ? { pdtMs: t0 + msn * 1000, discontinuity, initIndex: init } : undefined;
			result.addPart({ seq: seq++, msn, durationS: 0.2, independent: i === 0, segment });
		}
	}
	return result;
}

describe('renderMediaPlaylist', () => {
	it('lists a live window with parts of the last three target durations, a preload hint and rendition reports', () => {
		expect(renderMediaPlaylist(timeline(5, 2), live)).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:00.000Z
#EXTINF:1.00000,
seg-0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-5.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-6.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-7.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-8.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-9.m4s"
#EXTINF:1.00000,
seg-1.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:02.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-10.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-11.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-12.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-13.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-14.m4s"
#EXTINF:1.00000,
seg-2.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:03.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-15.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-16.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-17.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-18.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-19.m4s"
#EXTINF:1.00000,
seg-3.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:04.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-20.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-21.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-22.m4s"
#EXT-X-RENDITION-REPORT:URI="../v360/index.m3u8",LAST-MSN=3,LAST-PART=1
`);
	});

	it('renders a delta update that skips segments older than CAN-SKIP-UNTIL', () => {
		const window = timeline(9, 1, { firstMsn: 20 });
		window.trim(8);
		expect(renderMediaPlaylist(window, { ...live, skip: true, lowLatency: { ...lowLatency, renditionReports: [] } })).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000
#EXT-X-MEDIA-SEQUENCE:21
#EXT-X-SKIP:SKIPPED-SEGMENTS=2
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:23.000Z
#EXTINF:1.00000,
seg-23.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:24.000Z
#EXTINF:1.00000,
seg-24.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:25.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-25.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-26.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-27.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-28.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-29.m4s"
#EXTINF:1.00000,
seg-25.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:26.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-30.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-31.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-32.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-33.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-34.m4s"
#EXTINF:1.00000,
seg-26.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:27.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-35.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part-36.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-37.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-38.m4s"
#EXT-X-PART:DURATION=0.20000,URI="part-39.m4s"
#EXTINF:1.00000,
seg-27.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:28.000Z
#EXT-X-PART:DURATION=0.20000,URI="part-40.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-41.m4s"
`);
	});

	it('does not skip when the whole window is within CAN-SKIP-UNTIL', () => {
		const short = timeline(4, 3);
		expect(renderMediaPlaylist(short, { ...live, skip: true })).toBe(renderMediaPlaylist(short, live));
	});

	it('marks an encoder restart with EXT-X-DISCONTINUITY and the new EXT-X-MAP, and counts it once it leaves', () => {
		const restarted = timeline(4, 1, { restartAt: 2 });
		restarted.end();
		const options: MediaPlaylistOptions = { ...live, lowLatency: { ...lowLatency, partWindowS: 0, renditionReports: [] } };
		expect(renderMediaPlaylist(restarted, options)).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:00.000Z
#EXTINF:1.00000,
seg-0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.000Z
#EXTINF:1.00000,
seg-1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:02.000Z
#EXTINF:1.00000,
seg-2.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:03.000Z
#EXTINF:0.20000,
seg-3.m4s
#EXT-X-ENDLIST
`);
		// While the restarted segment leads the window it keeps its tag (not yet counted in the sequence)…
		restarted.trim(2);
		expect(renderMediaPlaylist(restarted, options)).toContain('#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1.mp4"\n');
		expect(renderMediaPlaylist(restarted, options)).not.toContain('#EXT-X-DISCONTINUITY-SEQUENCE');
		// …and once it has left, the sequence counts it: segment 3 is in discontinuity 1 both times.
		restarted.trim(1);
		expect(renderMediaPlaylist(restarted, options)).toContain('#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="init-1.mp4"\n');
	});

	it('lists a placeholder for a skipped number with EXT-X-GAP, its init section unchanged, before the discontinuity', () => {
		const gapped = new MediaTimeline();
		gapped.addPart({ seq: 0, msn: 0, durationS: 1, independent: true, segment: { pdtMs: t0, discontinuity: false, initIndex: 0 } });
		gapped.addGap({ msn: 1, pdtMs: t0 + 1000, durationS: 0.5 });
		gapped.addPart({ seq: 1, msn: 2, durationS: 1, independent: true, segment: { pdtMs: t0 + 1500, discontinuity: true, initIndex: 1 } });
		gapped.end();
		expect(renderMediaPlaylist(gapped, { targetDurationS: 1, type: 'vod' })).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:00.000Z
#EXTINF:1.00000,
seg-0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.000Z
#EXT-X-GAP
#EXTINF:0.50000,
seg-1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.500Z
#EXTINF:1.00000,
seg-2.m4s
#EXT-X-ENDLIST
`);
	});

	it('ends a live playlist with EXT-X-ENDLIST and no preload hint', () => {
		const ended = timeline(2, 2);
		ended.end();
		const text = renderMediaPlaylist(ended, live);
		expect(text.endsWith('#EXTINF:0.40000,\nseg-1.m4s\n#EXT-X-RENDITION-REPORT:URI="../v360/index.m3u8",LAST-MSN=3,LAST-PART=1\n#EXT-X-ENDLIST\n')).toBe(true);
		expect(text).not.toContain('PRELOAD-HINT');
	});

	it('renders a replay as a VOD playlist of whole segments', () => {
		const replay = timeline(3, 5);
		replay.end();
		expect(renderMediaPlaylist(replay, { targetDurationS: 1, type: 'vod' })).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:00.000Z
#EXTINF:1.00000,
seg-0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.000Z
#EXTINF:1.00000,
seg-1.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:02.000Z
#EXTINF:1.00000,
seg-2.m4s
#EXT-X-ENDLIST
`);
	});

	it('renders a subtitles playlist of whole WebVTT segments with the media renditions\' server control and reports, without a preload hint', () => {
		const subtitles = new MediaTimeline();
		for (const msn of [4, 5]) subtitles.addSegment({ msn, pdtMs: t0 + msn * 1000, durationS: 1, discontinuity: false, mapUri: '' });
		const reports = [{ uri: '../v360/index.m3u8', lastMsn: 6, lastPart: 2 }];
		expect(renderMediaPlaylist(subtitles, { ...live, lowLatency: { ...lowLatency, renditionReports: reports }, segmentUri: (msn) => `seg-${msn}.vtt` })).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000
#EXT-X-MEDIA-SEQUENCE:4
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:04.000Z
#EXTINF:1.00000,
seg-4.vtt
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:05.000Z
#EXTINF:1.00000,
seg-5.vtt
#EXT-X-RENDITION-REPORT:URI="../v360/index.m3u8",LAST-MSN=6,LAST-PART=2
`);
	});

	it('reports a rendition without parts with LAST-MSN alone, and delta-updates subtitles like media', () => {
		const subtitles = new MediaTimeline();
		for (let msn = 0; msn < 10; msn++) subtitles.addSegment({ msn, pdtMs: t0 + msn * 1000, durationS: 1, discontinuity: false, mapUri: '' });
		const options: MediaPlaylistOptions = { ...live, lowLatency: { ...lowLatency, renditionReports: [{ uri: '../subs/index.m3u8', lastMsn: 9 }] } };
		expect(renderMediaPlaylist(timeline(2, 1), options)).toContain('\n#EXT-X-RENDITION-REPORT:URI="../subs/index.m3u8",LAST-MSN=9\n');
		// Ten 1 s segments: the first four start more than 6 s before the end.
		expect(renderMediaPlaylist(subtitles, { ...options, skip: true })).toContain('#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:04.000Z\n#EXTINF:1.00000,\nseg-4.m4s\n');
	});

	it('leaves out of a delta update no segment from the one before a blocking request\'s _HLS_msn on', () => {
		const window = timeline(12, 1);
		const delta = (skipBeforeMsn?: number): string => renderMediaPlaylist(window, { ...live, skip: true, ...(skipBeforeMsn !== undefined && { skipBeforeMsn }) });
		// 11.2 s: segments 0–5 start more than 6 s before the end.
		expect(delta()).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n');
		expect(delta(11)).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n');
		// A client that asks for segment 4 last saw a playlist ending in segment 3 or 4: 0–2 may go.
		expect(delta(4)).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n');
		expect(delta(1)).not.toContain('EXT-X-SKIP');
	});

	it('hints the part after the last one listed when a gap segment ends the playlist', () => {
		const gapped = timeline(2, 2);
		gapped.addGap({ msn: 2, pdtMs: t0 + 1400, durationS: 0.5 });
		expect(renderMediaPlaylist(gapped, live)).toContain('#EXT-X-GAP\n#EXTINF:0.50000,\nseg-2.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-7.m4s"\n');
	});
});
