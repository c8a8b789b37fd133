import type { HlsEvent, HlsMessage, StreamDescriptor } from '@tribune/transcoder';
import { describe, expect, it } from 'vitest';
import { OriginStream } from './OriginStream.js';

const descriptor: StreamDescriptor = {
	streamId: 's',
	partTargetMs: 200,
	segmentTargetMs: 1000,
	targetDurationS: 1,
	subtitles: false,
	renditions: [
		{ name: 'a', kind: 'video', codecs: ['avc1.42c01e', 'mp4a.40.2'], bandwidth: 1 },
		{ name: 'b', kind: 'audio', codecs: ['mp4a.40.2'], bandwidth: 1 },
	],
};

/** Feeds `parts` 200 ms parts (five per segment) of renditions a and b, events numbered from `seq`. */
function feed(stream: OriginStream, firstPart: number, parts: number): void {
	let seq = stream.lastSeq + 1;
	const message = (event: HlsEvent, bytes = Buffer.alloc(0)): HlsMessage => ({ event, bytes });
	if (seq === 0) stream.apply(message({ type: 'stream', seq: seq++, descriptor }));
	for (let n = firstPart; n < firstPart + parts; n++) {
		for (const rendition of ['a', 'b']) {
			const segment = n % 5 === 0 ? { pdtMs: 1_000_000 + n * 200, discontinuity: false, initIndex: 0 } : undefined;
			stream.apply(message({ type: 'part', seq: seq++, rendition, partSeq: n, msn: Math.floor(n / 5), durationS: 0.2, independent: n % 5 === 0, segment }, Buffer.from(`p${n}`)));
		}
	}
}

describe('OriginStream', () => {
	it('holds startup media once a rendition has PART-HOLD-BACK (3 parts) plus a segment: 8 parts of 200 ms', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		expect(stream.holdsStartupMedia('a')).toBe(false);
		feed(stream, 0, 7);
		expect(stream.holdsStartupMedia('a')).toBe(false);
		feed(stream, 7, 1);
		expect(stream.holdsStartupMedia('a')).toBe(true);
		expect(stream.holdsStartupMedia('b')).toBe(true);
		expect(stream.holdsStartupMedia('nope')).toBe(false);
	});

	it('renders a playlist once per change and shares it between requests', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		feed(stream, 0, 7);
		const first = stream.mediaPlaylist('a', false);
		expect(stream.mediaPlaylist('a', false)).toBe(first);
		expect(first?.gzip).toBe(first?.gzip);
		expect(first?.text).toContain('#EXT-X-RENDITION-REPORT:URI="../b/index.m3u8",LAST-MSN=1,LAST-PART=1');
		feed(stream, 7, 1);
		expect(stream.mediaPlaylist('a', false)).not.toBe(first);
	});

	it('gives every live playlist of an audio-only stream with captions a report of each other rendition and the same server control', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		const audioOnly: StreamDescriptor = { ...descriptor, subtitles: true, renditions: [{ name: 'b', kind: 'audio', codecs: ['mp4a.40.2'], bandwidth: 1 }] };
		stream.apply({ event: { type: 'stream', seq: 0, descriptor: audioOnly }, bytes: Buffer.alloc(0) });
		for (let n = 0; n < 12; n++) {
			const segment = n % 5 === 0 ? { pdtMs: 1_000_000 + n * 200, discontinuity: false, initIndex: 0 } : undefined;
			stream.apply({ event: { type: 'part', seq: 1 + 2 * n, rendition: 'b', partSeq: n, msn: Math.floor(n / 5), durationS: 0.2, independent: n % 5 === 0, segment }, bytes: Buffer.from(`p${n}`) });
			if (n % 5 === 4) stream.apply({ event: { type: 'vtt', seq: 2 + 2 * n, msn: Math.floor(n / 5), durationS: 1, pdtMs: 1_000_000 + (n - 4) * 200, discontinuity: false }, bytes: Buffer.from('WEBVTT\n') });
		}
		const audio = stream.mediaPlaylist('b', false)?.text ?? '';
		const subs = stream.subtitlesPlaylist()?.text ?? '';
		expect(audio).toContain('\n#EXT-X-RENDITION-REPORT:URI="../subs/index.m3u8",LAST-MSN=1\n');
		expect(subs).toContain('\n#EXT-X-RENDITION-REPORT:URI="../b/index.m3u8",LAST-MSN=2,LAST-PART=1\n');
		const control = (text: string): string[] => text.split('\n').filter((l) => /^#EXT-X-(SERVER-CONTROL|PART-INF):/.test(l));
		expect(control(subs)).toEqual(control(audio));
		expect(control(subs)).toEqual(['#EXT-X-PART-INF:PART-TARGET=0.20000', '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.60000']);
		expect(subs).not.toContain('#EXT-X-PART:');
		expect(subs).not.toContain('PRELOAD-HINT');
	});

	it('ignores events it has already applied (history and live messages overlap)', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		feed(stream, 0, 3);
		const before = stream.mediaPlaylist('a', false)?.text;
		stream.apply({ event: { type: 'part', seq: 2, rendition: 'a', partSeq: 99, msn: 0, durationS: 0.2, independent: false }, bytes: Buffer.alloc(0) });
		expect(stream.mediaPlaylist('a', false)?.text).toBe(before);
	});

	it('joins segments from their parts, and keeps segments and their parts downloadable for a window after they leave it', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		feed(stream, 0, 45);
		const a = stream.rendition('a');
		expect(a?.segments.get(1)?.toString()).toBe('p5p6p7p8p9');
		expect(a?.parts.get(44)?.toString()).toBe('p44');
		expect(a?.timeline.segments[0]?.msn).toBe(0);
		feed(stream, 45, 40);
		expect(a?.timeline.segments.map((s) => s.msn)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
		// A whole segment's parts are its bytes, part by part.
		expect(a?.parts.get(7)?.toString()).toBe('p7');
		expect(a?.parts.get(7)?.buffer).toBe(a?.segments.get(1)?.buffer);
		feed(stream, 85, 115);
		// Segments 28–39 are listed; 15–27 have left the playlist within the last 12 segments (13 with the one
		// that just closed), and stay downloadable with their parts; 14 and before are gone.
		expect(a?.timeline.segments[0]?.msn).toBe(28);
		expect(a?.segments.get(15)?.toString()).toBe('p75p76p77p78p79');
		expect(a?.parts.get(75)?.toString()).toBe('p75');
		expect(a?.segments.has(14)).toBe(false);
		expect(a?.parts.has(74)).toBe(false);
		expect(a?.parts.size).toBe(200 - 75);
	});

	it('starts at a whole segment when its history begins mid-segment', () => {
		const stream = new OriginStream('s', { windowSegments: 12 });
		stream.apply({ event: { type: 'stream', seq: 0, descriptor }, bytes: Buffer.alloc(0) });
		stream.apply({ event: { type: 'part', seq: 1, rendition: 'a', partSeq: 3, msn: 0, durationS: 0.2, independent: false }, bytes: Buffer.alloc(0) });
		expect(stream.mediaPlaylist('a', false)).toBeUndefined();
		stream.apply({ event: { type: 'part', seq: 2, rendition: 'a', partSeq: 5, msn: 1, durationS: 0.2, independent: true, segment: { pdtMs: 0, discontinuity: false, initIndex: 0 } }, bytes: Buffer.alloc(0) });
		expect(stream.mediaPlaylist('a', false)?.text).toContain('#EXT-X-MEDIA-SEQUENCE:1\n');
	});
});
