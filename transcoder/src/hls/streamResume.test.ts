import { describe, expect, it } from 'vitest';
import type { HlsEvent } from './HlsEvent.js';
import type { ReplaySegment } from './RenditionPackager.js';
import { feedPositionOf, planStreamResume } from './streamResume.js';

/** Two renditions, 0.2 s parts, segments of 2 parts; the packager died inside segment 3. Oldest first. */
function history(): HlsEvent[] {
	const events: HlsEvent[] = [{ type: 'stream', seq: 0, descriptor: { streamId: 's', partTargetMs: 200, segmentTargetMs: 400, targetDurationS: 1, renditions: [], subtitles: false } }];
	let seq = 1;
	for (let msn = 0; msn <= 3; msn++) {
		for (let index = 0; index < (msn === 3 ? 1 : 2); index++) {
			for (const rendition of ['360p', 'audio']) {
				const partSeq = msn * 2 + index;
				events.push({
					type: 'part', seq: seq++, rendition, partSeq, msn, durationS: 0.2, independent: index === 0,
					...(index === 0 && { segment: { pdtMs: 1_000_000 + msn * 400, discontinuity: false, initIndex: 0 } }),
				});
			}
		}
	}
	return events;
}

describe('feedPositionOf()', () => {
	it('finds the next seq, each rendition\'s last part and segment, and where the last media ends', () => {
		const position = feedPositionOf(history().reverse(), { '360p': 0, audio: 0 });
		expect(position).toEqual({
			state: 'live',
			nextSeq: 15,
			lastPdtEndMs: 1_000_000 + 3 * 400 + 200,
			renditions: {
				'360p': { lastSeq: 6, lastMsn: 3, lastInitIndex: 0, lastSegment: { msn: 3, pdtMs: 1_001_200, durationS: 0.2, discontinuity: false } },
				audio: { lastSeq: 6, lastMsn: 3, lastInitIndex: 0, lastSegment: { msn: 3, pdtMs: 1_001_200, durationS: 0.2, discontinuity: false } },
			},
			lastVttMsn: -1,
		});
	});

	it('says a stream that has ended is ended, and a stream never published is new', () => {
		expect(feedPositionOf([{ type: 'end', seq: 9 }, ...history().reverse()], { '360p': 0 })).toEqual({ state: 'ended' });
		expect(feedPositionOf([], {})).toEqual({ state: 'new' });
	});

	it('keeps a rendition that has an init section but no part yet', () => {
		const position = feedPositionOf(history().reverse(), { '360p': 1, audio: 0, '720p': 0 });
		expect(position.state === 'live' && position.renditions['720p']).toEqual({ lastSeq: -1, lastMsn: -1, lastInitIndex: 0 });
		expect(position.state === 'live' && position.renditions['360p']?.lastInitIndex).toBe(1);
	});
});

describe('planStreamResume()', () => {
	const journal: ReplaySegment[] = [0, 1, 2].map((msn) => ({ msn, pdtMs: 1_000_000 + msn * 400, discontinuity: false, initIndex: 0, durationS: 0.4 }));

	it('continues every rendition one segment past the highest, with the replay\'s completed segments', () => {
		const feed = feedPositionOf(history().reverse(), { '360p': 0, audio: 0 });
		if (feed.state === 'ended') throw new Error('unexpected');
		const resume = planStreamResume(feed, { '360p': journal, audio: journal }, ['360p', 'audio']);
		expect(resume?.nextSeq).toBe(15);
		expect(resume?.renditions['360p']).toEqual({ lastSeq: 6, lastMsn: 3, placedMsn: 3, lastInitIndex: 0, replaySegments: journal });
		expect(resume?.lastPdtEndMs).toBe(1_001_400);
	});

	it('owes the subtitle segment of the reference rendition\'s last segment unless the feed already has it', () => {
		const feed = feedPositionOf(history().reverse(), { '360p': 0, audio: 0 });
		if (feed.state === 'ended') throw new Error('unexpected');
		expect(planStreamResume(feed, {}, ['360p', 'audio'])?.owedSubtitle).toEqual({ msn: 3, pdtMs: 1_001_200, durationS: 0.2, discontinuity: false });
		const published = feedPositionOf([{ type: 'vtt', seq: 15, msn: 3, durationS: 0.4, pdtMs: 1_001_200, discontinuity: false }, ...history().reverse()], { '360p': 0, audio: 0 });
		if (published.state === 'ended') throw new Error('unexpected');
		expect(planStreamResume(published, {}, ['360p', 'audio'])?.owedSubtitle).toBeUndefined();
	});

	it('keeps the last number each rendition reached, so one that was behind gets gap segments up to the common one', () => {
		// The audio's part of segment 3 never came: it was a segment behind the video when the packager died.
		const events = history().filter((e) => !(e.type === 'part' && e.rendition === 'audio' && e.msn === 3));
		const feed = feedPositionOf(events.reverse(), { '360p': 0, audio: 0 });
		if (feed.state === 'ended') throw new Error('unexpected');
		const resume = planStreamResume(feed, {}, ['360p', 'audio']);
		expect(resume?.renditions['audio']).toMatchObject({ lastMsn: 3, placedMsn: 2 });
		expect(resume?.renditions['360p']).toMatchObject({ lastMsn: 3, placedMsn: 3 });
	});

	it('starts from nothing for a new stream without a replay, and from the journal alone when the feed expired', () => {
		expect(planStreamResume({ state: 'new' }, {}, ['audio'])).toBeUndefined();
		const resume = planStreamResume({ state: 'new' }, { audio: journal }, ['audio']);
		expect(resume).toEqual({ nextSeq: 0, lastPdtEndMs: 1_001_200, renditions: { audio: { lastSeq: -1, lastMsn: 2, placedMsn: 2, lastInitIndex: 0, replaySegments: journal } } });
	});
});
