import type { Redis } from 'ioredis';
import { decodeHlsMessage, type HlsEvent } from './HlsEvent.js';
import { parseFragment } from './FragmentInfo.js';
import type { HlsDiskWriter } from './HlsDiskWriter.js';
import { initName, replayJournalName, segmentName, subtitlesRendition, vttName } from './hlsNames.js';
import { parseInitSection } from './InitSection.js';
import { childBoxes } from './mp4Boxes.js';
import { hlsRedisKeys } from './RedisHlsPublisher.js';
import type { RenditionResume, ReplaySegment } from './RenditionPackager.js';
import { renderWebVtt } from './WebVttSegmenter.js';

/**
 * Where a stream stands when a packager takes it over — a broadcast job moved from a transcoder that died, or run
 * again after a crash. Origins drop events whose `seq` they have seen and players expect part and segment numbers
 * to keep growing, so the new packager continues the numbering (after a discontinuity) instead of starting over.
 */
export interface StreamResume {
	/** `seq` of the next event. */
	nextSeq: number;
	/** The end of the last packaged media in wall-clock time: the next PDT must not be earlier. */
	lastPdtEndMs: number;
	renditions: Record<string, RenditionResume>;
	/**
	 * The subtitle segment the packager that stopped still owed: that of the reference rendition's (the first's)
	 * last segment, which it publishes when the segment closes. The new packager publishes it without cues, with the
	 * reference segment's timing, so the subtitles list every number the reference does, with its duration and date.
	 */
	owedSubtitle?: { msn: number; pdtMs: number; durationS: number; discontinuity: boolean };
}

/** A rendition's last segment as the feed shows it: its first part's date and the parts it received. */
export interface FeedSegment {
	msn: number;
	pdtMs: number;
	durationS: number;
	discontinuity: boolean;
}

/** What the feed in Redis says of a stream: never published, ended, or where it stopped. */
export type FeedPosition =
	| { state: 'new' }
	| { state: 'ended' }
	| {
			state: 'live';
			nextSeq: number;
			lastPdtEndMs: number;
			renditions: Record<string, { lastSeq: number; lastMsn: number; lastInitIndex: number; lastSegment?: FeedSegment }>;
			/** Number of the newest subtitle segment in the feed, or -1. */
			lastVttMsn: number;
	  };

/**
 * Reads a stream's position from its recent events, newest first (the Redis log, read backwards) and the init
 * section indexes in its head. Pure.
 */
export function feedPositionOf(newestFirst: readonly HlsEvent[], initIndexes: Readonly<Record<string, number>>): FeedPosition {
	const newest = newestFirst[0];
	if (!newest) return Object.keys(initIndexes).length > 0 ? { state: 'live', nextSeq: 0, lastPdtEndMs: 0, renditions: {}, lastVttMsn: -1 } : { state: 'new' };
	if (newest.type === 'end') return { state: 'ended' };
	const renditions: Extract<FeedPosition, { state: 'live' }>['renditions'] = {};
	let lastVttMsn = -1;
	// Per rendition: parts of its last segment seen so far (walking back), until the part that opened that segment.
	const open = new Map<string, { msn: number; durationS: number; done: boolean }>();
	let lastPdtEndMs = 0;
	for (const event of newestFirst) {
		if (event.type === 'vtt') lastVttMsn = Math.max(lastVttMsn, event.msn);
		if (event.type !== 'part') continue;
		let last = open.get(event.rendition);
		if (!last) {
			last = { msn: event.msn, durationS: 0, done: false };
			open.set(event.rendition, last);
			renditions[event.rendition] = { lastSeq: event.partSeq, lastMsn: event.msn, lastInitIndex: initIndexes[event.rendition] ?? -1 };
		}
		if (last.done || event.msn !== last.msn) continue;
		last.durationS += event.durationS;
		if (event.segment) {
			last.done = true;
			lastPdtEndMs = Math.max(lastPdtEndMs, event.segment.pdtMs + last.durationS * 1000);
			const position = renditions[event.rendition];
			if (position) position.lastSegment = { msn: event.msn, pdtMs: event.segment.pdtMs, durationS: last.durationS, discontinuity: event.segment.discontinuity };
		}
	}
	for (const [name, index] of Object.entries(initIndexes)) renditions[name] ??= { lastSeq: -1, lastMsn: -1, lastInitIndex: index };
	return { state: 'live', nextSeq: newest.seq + 1, lastPdtEndMs, renditions, lastVttMsn };
}

/** Events of the log read back to find every rendition's last segment start (~20 s of three renditions). */
const historyEvents = 300;

/** Reads a stream's {@link FeedPosition} from its Redis feed (see RedisHlsPublisher for the keys). */
export async function readFeedPosition(redis: Redis, prefix: string, streamId: string): Promise<FeedPosition> {
	const keys = hlsRedisKeys(prefix, streamId);
	const results = await redis.multi().hkeys(keys.head).xrevrangeBuffer(keys.log, '+', '-', 'COUNT', historyEvents).exec();
	if (!results) throw new Error('Redis transaction aborted while reading the HLS feed');
	for (const [error] of results) if (error) throw error;
	const headKeys = results[0]?.[1] as string[];
	const log = results[1]?.[1] as [Buffer, Buffer[]][];
	const initIndexes: Record<string, number> = {};
	for (const key of headKeys) {
		const match = /^init:(.+):(\d+)$/.exec(key);
		if (match) initIndexes[match[1]!] = Math.max(initIndexes[match[1]!] ?? -1, Number(match[2]));
	}
	const events = log.flatMap(([, fields]) => {
		const frame = fields[1];
		try {
			return frame ? [decodeHlsMessage(frame).event] : [];
		} catch {
			return [];
		}
	});
	return feedPositionOf(events, initIndexes);
}

/**
 * Reads the replay journal of each rendition; entries that are not well-formed segments are skipped. Given the feed
 * of a stream taken over, it first completes the segment each rendition had open when the packager before stopped
 * (see {@link recoverOpenSegment}), so the replay keeps it.
 */
export async function readReplayJournals(disk: HlsDiskWriter, renditions: readonly string[], feed?: FeedPosition): Promise<Record<string, ReplaySegment[]>> {
	const journals: Record<string, ReplaySegment[]> = {};
	for (const name of renditions) {
		const read = async () => (await disk.readLines(`${name}/${replayJournalName}`)).filter(isReplaySegment).sort((a, b) => a.msn - b.msn);
		journals[name] = await read();
		const open = feed?.state === 'live' ? feed.renditions[name] : undefined;
		if (open?.lastSegment && !journals[name].some((s) => s.msn === open.lastSegment!.msn)) {
			const recovered = await recoverOpenSegment(disk, name, open.lastSegment, open.lastInitIndex, name === renditions[0]);
			if (recovered) journals[name] = [...journals[name], recovered].sort((a, b) => a.msn - b.msn);
		}
	}
	await disk.flush();
	return journals;
}

/**
 * The segment a packager had open when its transcoder died: its parts reached origins (the feed says its number,
 * date and discontinuity) and its file (`seg-<msn>.m4s.tmp`, written part by part), but it never closed, so no journal
 * has it and the replay lost up to a segment per takeover. Its whole fragments (a torn last one is cut off) become
 * `seg-<msn>.m4s` with a journal line, timed by what they hold; the subtitles' reference rendition also gets the
 * segment's (empty) WebVTT file, which the packager before wrote only at a segment's close. Undefined when there is
 * nothing to recover.
 */
async function recoverOpenSegment(disk: HlsDiskWriter, rendition: string, open: FeedSegment, initIndex: number, reference: boolean): Promise<ReplaySegment | undefined> {
	const temporary = `${rendition}/${segmentName(open.msn)}.tmp`;
	const [bytes, init] = await Promise.all([disk.readFile(temporary), initIndex >= 0 ? disk.readFile(`${rendition}/${initName(initIndex)}`) : undefined]);
	if (!bytes || !init) return undefined;
	const initBoxes = childBoxes(init);
	const ftyp = initBoxes.find((b) => b.type === 'ftyp')?.box;
	const moov = initBoxes.find((b) => b.type === 'moov')?.box;
	if (!ftyp || !moov) return undefined;
	const tracks = parseInitSection(ftyp, moov).tracks;
	const track = tracks.find((t) => t.kind === 'video') ?? tracks.find((t) => t.kind === 'audio');
	if (!track) return undefined;
	let wholeBytes = 0;
	let durationS = 0;
	let moof: Buffer | undefined;
	for (const box of childBoxes(bytes)) {
		if (box.type === 'moof') moof = box.box;
		else if (box.type === 'mdat' && moof) {
			const fragment = parseFragment(moof, [track]).tracks[0];
			durationS += fragment ? fragment.duration / track.timescale : 0;
			wholeBytes = box.box.byteOffset - bytes.byteOffset + box.box.length;
			moof = undefined;
		}
	}
	if (wholeBytes === 0 || durationS <= 0) return undefined;
	const segment: ReplaySegment = { msn: open.msn, pdtMs: Math.round(open.pdtMs), discontinuity: open.discontinuity, initIndex, durationS, bytes: wholeBytes };
	disk.writeFile(`${rendition}/${segmentName(open.msn)}`, bytes.subarray(0, wholeBytes));
	disk.removeFile(temporary);
	if (reference) disk.writeFile(`${subtitlesRendition}/${vttName(open.msn)}`, renderWebVtt(0, []));
	disk.appendLine(`${rendition}/${replayJournalName}`, JSON.stringify(segment));
	return segment;
}

/**
 * Combines the feed's position and the replay journals into where a new packager starts; undefined for a stream
 * that starts from nothing. All renditions continue at one media sequence number past the highest any of them
 * used, so they keep sharing segment numbers; a rendition that was behind gets gap segments for the numbers it
 * skipped (`placedMsn` is the last it reached). Pure.
 */
export function planStreamResume(feed: Exclude<FeedPosition, { state: 'ended' }>, journals: Readonly<Record<string, readonly ReplaySegment[]>>, renditions: readonly string[]): StreamResume | undefined {
	const live = feed.state === 'live' ? feed : undefined;
	const journaled = renditions.flatMap((name) => journals[name] ?? []);
	if (!live && journaled.length === 0) return undefined;
	const lastMsn = Math.max(-1, ...Object.values(live?.renditions ?? {}).map((r) => r.lastMsn), ...journaled.map((s) => s.msn));
	const lastPdtEndMs = Math.max(live?.lastPdtEndMs ?? 0, ...journaled.map((s) => s.pdtMs + s.durationS * 1000));
	const resume: StreamResume = { nextSeq: live?.nextSeq ?? 0, lastPdtEndMs, renditions: {} };
	for (const name of renditions) {
		const position = live?.renditions[name];
		const replaySegments = journals[name] ?? [];
		resume.renditions[name] = {
			lastSeq: position?.lastSeq ?? -1,
			lastMsn,
			placedMsn: Math.max(position?.lastMsn ?? -1, ...replaySegments.map((s) => s.msn)),
			lastInitIndex: Math.max(position?.lastInitIndex ?? -1, ...replaySegments.map((s) => s.initIndex)),
			replaySegments,
		};
	}
	const owed = renditions[0] === undefined ? undefined : live?.renditions[renditions[0]]?.lastSegment;
	if (owed && live && owed.msn > live.lastVttMsn) resume.owedSubtitle = owed;
	return resume;
}

function isReplaySegment(value: unknown): value is ReplaySegment {
	if (typeof value !== 'object' || value === null) return false;
	const v = value as Record<string, unknown>;
	const whole = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
	return whole(v.msn) && whole(v.initIndex) && whole(v.pdtMs) && typeof v.discontinuity === 'boolean' && typeof v.durationS === 'number' && (v.durationS as number) >= 0 && (v.gap === undefined || typeof v.gap === 'boolean') && (v.bytes === undefined || whole(v.bytes));
}
