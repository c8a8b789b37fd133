/**
 * A conformance checker for an LL-HLS origin, over what a client observed: the multivariant playlist, each media
 * playlist fetch (directives, when it left and when it was answered, status, body) and the sizes of the segments it
 * downloaded. Pure: it reads observations and returns violations, one line each, so a test can fetch from a live
 * origin (or another player's log) and assert that the list is empty. Section numbers are RFC 8216bis (HLS 2nd
 * Edition, draft 16+).
 */
import { lastPosition, parseMediaPlaylist, parseMultivariant, type ParsedMediaPlaylist, type ParsedMultivariant } from './parsePlaylist.js';

/** One media playlist request and its answer. */
export interface PlaylistFetch {
	/** The media playlist as the multivariant playlist names it (`360p/index.m3u8`, `subs/index.m3u8`). */
	uri: string;
	/** Delivery directives the request carried (§6.2.5). */
	msn?: number;
	part?: number;
	skip?: 'YES' | 'v2';
	/** When the request left and when its answer was complete, ms (any one clock). */
	sentAtMs: number;
	answeredAtMs: number;
	status: number;
	/** The body: a playlist when the status is 200. */
	text: string;
}

export interface LlhlsObservations {
	/** The live multivariant playlist. */
	multivariant: string;
	/** Media playlist fetches, in any order. */
	fetches: readonly PlaylistFetch[];
	/** Bytes of complete media segments downloaded: media playlist URI → media sequence number → bytes. */
	segmentBytes?: Readonly<Record<string, Readonly<Record<number, number>>>>;
}

export interface LlhlsCheckOptions {
	/** Largest difference between a segment's EXTINF and the step to the next segment's PROGRAM-DATE-TIME, s (default 0.01). */
	pdtToleranceS?: number;
	/** A blocking request for what an earlier answer already held must be answered within this, ms (default 1000). */
	immediateMs?: number;
}

interface Seen {
	fetch: PlaylistFetch;
	playlist: ParsedMediaPlaylist;
}

/** Violations grouped by rule: the first instance in full and how many more there were. */
class Violations {
	readonly #rules = new Map<string, { detail: string; count: number }>();

	add(rule: string, detail: string): void {
		const known = this.#rules.get(rule);
		if (known) known.count++;
		else this.#rules.set(rule, { detail, count: 1 });
	}

	list(): string[] {
		return [...this.#rules].map(([rule, { detail, count }]) => `${rule}: ${detail}${count > 1 ? ` (and ${count - 1} more)` : ''}`);
	}
}

/** Checks every rule over the observations; an empty list means none was broken. */
export function checkLlhls(observations: LlhlsObservations, options: LlhlsCheckOptions = {}): string[] {
	const violations = new Violations();
	let master: ParsedMultivariant;
	try {
		master = parseMultivariant(observations.multivariant);
	} catch (error) {
		return [`multivariant playlist: ${(error as Error).message}`];
	}
	const t0 = Math.min(...observations.fetches.map((f) => f.sentAtMs));
	const seen: Seen[] = [];
	for (const fetch of observations.fetches) {
		if (fetch.status !== 200) continue;
		try {
			seen.push({ fetch, playlist: parseMediaPlaylist(fetch.text) });
		} catch (error) {
			violations.add(`${fetch.uri} unreadable`, `${describe(fetch, t0)}: ${(error as Error).message}`);
		}
	}
	seen.sort((a, b) => a.fetch.answeredAtMs - b.fetch.answeredAtMs);
	const ctx: Context = { master, seen, violations, t0, options: { pdtToleranceS: options.pdtToleranceS ?? 0.01, immediateMs: options.immediateMs ?? 1000 } };
	checkRenditionReports(ctx);
	checkServerControl(ctx);
	checkDurations(ctx);
	checkParts(ctx);
	checkPreloadHints(ctx);
	checkBlocking(ctx, observations.fetches);
	checkDeltaUpdates(ctx);
	checkBandwidth(ctx, observations.segmentBytes ?? {});
	return violations.list();
}

interface Context {
	master: ParsedMultivariant;
	seen: Seen[];
	violations: Violations;
	t0: number;
	options: Required<LlhlsCheckOptions>;
}

function describe(fetch: PlaylistFetch, t0: number): string {
	const query = [fetch.msn !== undefined && `_HLS_msn=${fetch.msn}`, fetch.part !== undefined && `_HLS_part=${fetch.part}`, fetch.skip && `_HLS_skip=${fetch.skip}`].filter(Boolean).join('&');
	return `${fetch.uri}${query ? `?${query}` : ''} sent at +${fetch.sentAtMs - t0} ms`;
}

const base = 'http://origin.invalid/stream/master.m3u8';
/** A URI as the multivariant playlist would name it, from a URI relative to a media playlist. */
const fromMediaPlaylist = (uri: string, mediaPlaylist: string): string => new URL(uri, new URL(mediaPlaylist, base)).href;
const fromMaster = (uri: string): string => new URL(uri, base).href;

/** Every media playlist the multivariant playlist names (variants and EXT-X-MEDIA renditions with a URI). */
function mediaPlaylists(master: ParsedMultivariant): string[] {
	const uris = [...master.variants.map((v) => v.uri), ...master.media.filter((m) => m.URI && m.TYPE !== 'CLOSED-CAPTIONS').map((m) => m.URI as string)];
	return [...new Set(uris)];
}

const live = (seen: Seen[]): Seen[] => seen.filter((s) => !s.playlist.endList && s.playlist.playlistType !== 'VOD');
const hasParts = (p: ParsedMediaPlaylist): boolean => p.segments.some((s) => s.parts.length > 0);
const partNumber = (uri: string | undefined): number | undefined => {
	const match = uri === undefined ? null : /(\d+)\.[a-z0-9]+$/.exec(uri);
	return match ? Number(match[1]) : undefined;
};
const lastComplete = (p: ParsedMediaPlaylist): number => Math.max(-1, ...p.segments.filter((s) => s.uri !== undefined).map((s) => s.msn));

/**
 * Appendix B.1: a live Media Playlist carries an EXT-X-RENDITION-REPORT for every other Media Playlist of the
 * multivariant playlist. §4.4.5.4: LAST-MSN always; LAST-PART when (and only when) that rendition has Partial Segments.
 */
function checkRenditionReports({ master, seen, violations, t0 }: Context): void {
	const all = mediaPlaylists(master);
	const withParts = new Set(seen.filter((s) => hasParts(s.playlist)).map((s) => fromMaster(s.fetch.uri)));
	for (const { fetch, playlist } of live(seen)) {
		const self = fromMaster(fetch.uri);
		const expected = all.map(fromMaster).filter((uri) => uri !== self).sort();
		const reported = playlist.renditionReports.map((r) => fromMediaPlaylist(r.uri, fetch.uri));
		const missing = expected.filter((uri) => !reported.includes(uri));
		const extra = reported.filter((uri) => !expected.includes(uri));
		if (missing.length > 0 || extra.length > 0 || reported.length !== new Set(reported).size) {
			violations.add(`${fetch.uri} rendition reports (Appendix B.1)`, `${describe(fetch, t0)} reports [${reported.map(short).join(', ')}], expected [${expected.map(short).join(', ')}]`);
		}
		for (const report of playlist.renditionReports) {
			const target = fromMediaPlaylist(report.uri, fetch.uri);
			if (!Number.isInteger(report.lastMsn) || report.lastMsn < 0) violations.add(`${fetch.uri} report LAST-MSN (§4.4.5.4)`, `${describe(fetch, t0)}: ${short(target)} LAST-MSN=${report.lastMsn}`);
			const partGiven = !Number.isNaN(report.lastPart);
			if (withParts.has(target) && (!partGiven || report.lastPart < 0)) {
				violations.add(`${fetch.uri} report LAST-PART (§4.4.5.4)`, `${describe(fetch, t0)}: ${short(target)} has parts but LAST-PART=${report.lastPart}`);
			} else if (!withParts.has(target) && partGiven && seen.some((s) => fromMaster(s.fetch.uri) === target)) {
				violations.add(`${fetch.uri} report LAST-PART (§4.4.5.4)`, `${describe(fetch, t0)}: ${short(target)} has no parts but LAST-PART=${report.lastPart}`);
			}
		}
	}
}

const short = (href: string): string => href.replace(/^http:\/\/origin\.invalid\/stream\//, '');

/**
 * Appendix B.1 and players (Shaka reads PART-HOLD-BACK from every playlist once one has PART-INF): every live Media
 * Playlist has the same EXT-X-SERVER-CONTROL and EXT-X-PART-INF. §4.4.3.8: PART-HOLD-BACK ≥ 2 × PART-TARGET,
 * CAN-SKIP-UNTIL ≥ 6 × TARGETDURATION.
 */
function checkServerControl({ seen, violations, t0 }: Context): void {
	const byValue = new Map<string, Set<string>>();
	for (const { fetch, playlist } of live(seen)) {
		const control = Object.entries(playlist.serverControl).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');
		const value = `EXT-X-SERVER-CONTROL:${control}; PART-TARGET=${playlist.partTargetS ?? 'none'}`;
		const uris = byValue.get(value) ?? new Set<string>();
		uris.add(fetch.uri);
		byValue.set(value, uris);
		const partTarget = playlist.partTargetS;
		const holdBack = Number(playlist.serverControl['PART-HOLD-BACK']);
		if (partTarget !== undefined && !(holdBack >= 2 * partTarget)) {
			violations.add(`${fetch.uri} PART-HOLD-BACK (§4.4.3.8)`, `${describe(fetch, t0)}: PART-HOLD-BACK=${playlist.serverControl['PART-HOLD-BACK']} with PART-TARGET=${partTarget}`);
		}
		const skipUntil = playlist.serverControl['CAN-SKIP-UNTIL'];
		if (skipUntil !== undefined && !(Number(skipUntil) >= 6 * playlist.targetDurationS)) {
			violations.add(`${fetch.uri} CAN-SKIP-UNTIL (§4.4.3.8)`, `${describe(fetch, t0)}: CAN-SKIP-UNTIL=${skipUntil} with TARGETDURATION=${playlist.targetDurationS}`);
		}
	}
	if (byValue.size > 1) {
		const variants = [...byValue].map(([value, uris]) => `${[...uris].sort().join(' ')} → ${value}`);
		violations.add('EXT-X-SERVER-CONTROL differs between renditions (Appendix B.1)', variants.join(' | '));
	}
}

/**
 * EXTINF against PROGRAM-DATE-TIME: the date of a segment plus its duration is the date of the next (§4.4.4.6), up to
 * a tolerance, unless a discontinuity lies between; the parts of a complete segment add up to its EXTINF (§4.4.4.9);
 * EXTINF rounded is at most the target duration (§4.4.3.1).
 */
function checkDurations({ seen, violations, options, t0 }: Context): void {
	for (const { fetch, playlist } of seen) {
		const segments = playlist.segments;
		segments.forEach((segment, i) => {
			const next = segments[i + 1];
			if (segment.durationS !== undefined && Math.round(segment.durationS) > playlist.targetDurationS) {
				violations.add(`${fetch.uri} EXTINF over the target duration (§4.4.3.1)`, `${describe(fetch, t0)}: segment ${segment.msn} EXTINF ${segment.durationS}`);
			}
			if (segment.uri !== undefined && segment.parts.length > 0) {
				const sum = segment.parts.reduce((s, p) => s + p.durationS, 0);
				if (Math.abs(sum - (segment.durationS ?? 0)) > 0.001) {
					violations.add(`${fetch.uri} parts against EXTINF (§4.4.4.9)`, `${describe(fetch, t0)}: segment ${segment.msn} parts add up to ${sum.toFixed(5)}, EXTINF ${segment.durationS}`);
				}
			}
			if (!next || segment.durationS === undefined || !segment.pdt || !next.pdt || next.discontinuity || segment.gap || next.gap) return;
			const stepS = (Date.parse(next.pdt) - Date.parse(segment.pdt)) / 1000;
			if (Math.abs(stepS - segment.durationS) > options.pdtToleranceS) {
				violations.add(
					`${fetch.uri} EXTINF against PROGRAM-DATE-TIME (§4.4.4.6)`,
					`${describe(fetch, t0)}: segment ${segment.msn} EXTINF ${segment.durationS} but the next date is ${stepS.toFixed(3)} s later`,
				);
			}
		});
	}
}

/**
 * Parts (§4.4.4.9): numbered one after another across segments; listed for a contiguous tail of the playlist (once a
 * segment lists its parts every later media segment does, and the open segment has at least one); a part URI names
 * the same part of the same segment in every playlist, and a segment keeps its URI, duration and date (§6.2.2).
 */
function checkParts({ seen, violations, t0 }: Context): void {
	const partPlaces = new Map<string, string>();
	const segmentFacts = new Map<string, string>();
	for (const { fetch, playlist } of seen) {
		if (playlist.partTargetS === undefined) continue;
		const numbers = playlist.segments.flatMap((s) => s.parts.map((p) => partNumber(p.uri) ?? Number.NaN));
		for (let i = 1; i < numbers.length; i++) {
			if (numbers[i] !== (numbers[i - 1] as number) + 1) {
				violations.add(`${fetch.uri} parts not contiguous (§4.4.4.9)`, `${describe(fetch, t0)}: part ${numbers[i]} after part ${numbers[i - 1]}`);
				break;
			}
		}
		const firstWithParts = playlist.segments.findIndex((s) => s.parts.length > 0);
		if (firstWithParts >= 0) {
			const bare = playlist.segments.slice(firstWithParts).find((s) => s.parts.length === 0 && !s.gap);
			if (bare) violations.add(`${fetch.uri} segment without parts inside the part window (§4.4.4.9)`, `${describe(fetch, t0)}: segment ${bare.msn}`);
		}
		const open = playlist.segments.at(-1);
		if (!playlist.endList && hasParts(playlist) && open && open.uri === undefined && open.parts.length === 0) {
			violations.add(`${fetch.uri} open segment without parts`, `${describe(fetch, t0)}: segment ${open.msn}`);
		}
		for (const segment of playlist.segments) {
			segment.parts.forEach((part, index) => {
				const key = `${fetch.uri} ${part.uri}`;
				const place = `segment ${segment.msn} part ${index} (${part.durationS} s)`;
				const known = partPlaces.get(key);
				if (known && known !== place) violations.add(`${fetch.uri} part moved`, `${describe(fetch, t0)}: ${part.uri} is ${place}, earlier ${known}`);
				partPlaces.set(key, place);
			});
			if (segment.uri === undefined) continue;
			const key = `${fetch.uri} ${segment.msn}`;
			const facts = `${segment.uri} ${segment.durationS} ${segment.pdt}`;
			const known = segmentFacts.get(key);
			if (known && known !== facts) violations.add(`${fetch.uri} segment changed (§6.2.2)`, `${describe(fetch, t0)}: segment ${segment.msn} is ${facts}, earlier ${known}`);
			segmentFacts.set(key, facts);
		}
	}
}

/**
 * EXT-X-PRELOAD-HINT (§4.4.5.3): the hinted part is the one after the last listed, and a later playlist lists it —
 * or, for a client that reloaded after the part window moved past it, lists its segment as complete (or skips it).
 */
function checkPreloadHints({ seen, violations, t0 }: Context): void {
	const byUri = groupByUri(live(seen));
	for (const [uri, list] of byUri) {
		for (const { fetch, playlist } of list) {
			const hint = partNumber(playlist.preloadHint);
			const numbers = playlist.segments.flatMap((s) => s.parts.map((p) => partNumber(p.uri) as number));
			if (hint !== undefined && numbers.length > 0 && hint !== (numbers.at(-1) as number) + 1) {
				violations.add(`${uri} preload hint is not the next part (§4.4.5.3)`, `${describe(fetch, t0)}: hint ${playlist.preloadHint} after part ${numbers.at(-1)}`);
			}
		}
		for (let i = 0; i < list.length; i++) {
			const a = list[i] as Seen;
			const hint = partNumber(a.playlist.preloadHint);
			if (hint === undefined) continue;
			// The first playlist asked for after this one was answered that has moved on to (or past) the hinted part.
			const numbersOf = (s: Seen): number[] => s.playlist.segments.flatMap((segment) => segment.parts.map((p) => partNumber(p.uri) as number));
			const b = list.slice(i + 1).find((s) => s.fetch.sentAtMs >= a.fetch.answeredAtMs && (s.playlist.endList || (numbersOf(s).at(-1) ?? -1) >= hint));
			if (!b || b.playlist.endList) continue;
			const numbers = numbersOf(b);
			if (numbers.includes(hint)) continue;
			const first = numbers[0] as number;
			if (first < hint) {
				violations.add(`${uri} hinted part never published (§4.4.5.3)`, `${describe(a.fetch, t0)} hinted part ${hint}; ${describe(b.fetch, t0)} lists parts ${first}…${numbers.at(-1)} without it`);
				continue;
			}
			// The part window has moved past the hinted part: its segment (the one open in `a`, or the next) is complete.
			const openMsn = lastPosition(a.playlist).msn;
			const firstListedMsn = b.playlist.mediaSequence + b.playlist.skipped;
			const segment = b.playlist.segments.find((s) => s.msn === openMsn);
			if (openMsn >= firstListedMsn && segment?.uri === undefined) {
				violations.add(
					`${uri} hinted part never published (§4.4.5.3)`,
					`${describe(a.fetch, t0)} hinted part ${hint} of segment ${openMsn}; ${describe(b.fetch, t0)} lists parts from ${first} and segment ${openMsn} ${segment ? 'open' : 'missing'}`,
				);
			}
		}
	}
}

function groupByUri(list: Seen[]): Map<string, Seen[]> {
	const byUri = new Map<string, Seen[]>();
	for (const s of list) byUri.set(s.fetch.uri, [...(byUri.get(s.fetch.uri) ?? []), s]);
	return byUri;
}

/** Whether a playlist holds part `part` of segment `msn` or later, or (without a part) segment `msn` whole or later (§6.2.5.2). */
function holds(p: ParsedMediaPlaylist, msn: number, part: number | undefined): boolean {
	if (p.endList) return true;
	if (part === undefined || p.partTargetS === undefined) return lastComplete(p) >= msn;
	return p.segments.some((s) => s.msn > msn || (s.msn === msn && s.parts.length > part));
}

/**
 * §6.2.5.2 (Tribune reads "the last Media Segment in the current Playlist" as the last complete one, the open
 * segment being only Partial Segments): 400 when _HLS_msn is more than two past it or _HLS_part is beyond the
 * Advance Part Limit (3 / PART-TARGET parts when PART-TARGET < 1 s).
 */
function beyondLimits(p: ParsedMediaPlaylist, msn: number, part: number | undefined, slackParts: number): boolean {
	if (p.endList) return false;
	if (msn > lastComplete(p) + 2) return true;
	const partTarget = p.partTargetS;
	if (part === undefined || partTarget === undefined) return false;
	const limit = partTarget < 1 ? Math.floor(3 / partTarget) : 3;
	const perSegment = Math.ceil(p.targetDurationS / partTarget);
	const last = lastPosition(p);
	return (msn - last.msn) * perSegment + part - last.part > limit + slackParts;
}

/**
 * Blocking reloads (§6.2.5.2): an answer holds what was asked for; what an earlier answer already held is answered
 * at once; a request within the limits is never a 400, one beyond them always is (judged against the newest answer
 * before the request and the first after it, which bracket what the server held when it came); a 503 only when
 * what was asked for did not come.
 */
function checkBlocking({ seen, violations, t0, options }: Context, fetches: readonly PlaylistFetch[]): void {
	for (const fetch of fetches) {
		if (fetch.msn === undefined) continue;
		const { msn, part } = fetch;
		const same = seen.filter((s) => s.fetch.uri === fetch.uri && s.fetch !== fetch);
		const before = same.filter((s) => s.fetch.answeredAtMs <= fetch.sentAtMs).at(-1);
		const after = same.filter((s) => s.fetch.sentAtMs >= fetch.sentAtMs).sort((a, b) => a.fetch.answeredAtMs - b.fetch.answeredAtMs)[0];
		const heldMs = fetch.answeredAtMs - fetch.sentAtMs;
		const mine = seen.find((s) => s.fetch === fetch);
		if (fetch.status === 200 && mine && !holds(mine.playlist, msn, part)) {
			violations.add(`${fetch.uri} blocking answer lacks what was asked (§6.2.5.2)`, `${describe(fetch, t0)} answered with last position ${JSON.stringify(lastPosition(mine.playlist))}`);
		}
		if (before && holds(before.playlist, msn, part) && heldMs > options.immediateMs) {
			violations.add(`${fetch.uri} held a request for what existed (§6.2.5.2)`, `${describe(fetch, t0)} held ${heldMs} ms (status ${fetch.status})`);
		}
		if (fetch.status === 400 && before && !beyondLimits(before.playlist, msn, part, 0)) {
			violations.add(`${fetch.uri} 400 within the limits (§6.2.5.2)`, `${describe(fetch, t0)}; last complete segment ${lastComplete(before.playlist)}, last part ${JSON.stringify(lastPosition(before.playlist))}`);
		}
		if (fetch.status !== 400 && after && beyondLimits(after.playlist, msn, part, 1)) {
			violations.add(`${fetch.uri} no 400 beyond the limits (§6.2.5.2)`, `${describe(fetch, t0)} answered ${fetch.status} after ${heldMs} ms; last complete segment ${lastComplete(after.playlist)}`);
		}
		if (fetch.status === 503) {
			const arrived = same.find((s) => s.fetch.answeredAtMs <= fetch.answeredAtMs - 200 && holds(s.playlist, msn, part));
			if (arrived) violations.add(`${fetch.uri} 503 though it arrived (§6.2.5.2)`, `${describe(fetch, t0)}; ${describe(arrived.fetch, t0)} already held it`);
		}
	}
}

/**
 * Delta updates (§4.4.5.2, §6.2.5.1): EXT-X-SKIP only with CAN-SKIP-UNTIL; the skipped segments all start more than
 * CAN-SKIP-UNTIL before the end, and (asked without _HLS_msn) every such segment is skipped; with the skipped
 * segments put back, a delta equals the full playlist of the same moment.
 */
function checkDeltaUpdates({ seen, violations, t0 }: Context): void {
	const durations = new Map<string, number>();
	for (const { fetch, playlist } of seen) for (const s of playlist.segments) if (s.durationS !== undefined) durations.set(`${fetch.uri} ${s.msn}`, s.durationS);
	for (const { fetch, playlist } of seen) {
		if (!fetch.skip) continue;
		const skipUntil = playlist.serverControl['CAN-SKIP-UNTIL'];
		if (playlist.skipped > 0 && skipUntil === undefined) {
			violations.add(`${fetch.uri} EXT-X-SKIP without CAN-SKIP-UNTIL (§4.4.5.2)`, describe(fetch, t0));
			continue;
		}
		if (skipUntil === undefined || playlist.endList) continue;
		const boundaryS = Number(skipUntil);
		const listedS = playlist.segments.reduce((sum, s) => sum + (s.durationS ?? s.parts.reduce((p, part) => p + part.durationS, 0)), 0);
		const lastSkipped = durations.get(`${fetch.uri} ${playlist.mediaSequence + playlist.skipped - 1}`);
		if (playlist.skipped > 0 && lastSkipped !== undefined && listedS + lastSkipped <= boundaryS) {
			violations.add(`${fetch.uri} skipped inside the skip boundary (§6.2.5.1)`, `${describe(fetch, t0)} skipped ${playlist.skipped}, its last starts ${(listedS + lastSkipped).toFixed(3)} s from the end, CAN-SKIP-UNTIL=${skipUntil}`);
		}
		const firstListed = playlist.segments[0];
		// Within a millisecond of the boundary a server may keep a segment (sums of five-decimal EXTINF values).
		if (fetch.msn === undefined && firstListed?.uri !== undefined && listedS > boundaryS + 1e-3) {
			violations.add(`${fetch.uri} skipped fewer than it could (§6.2.5.1)`, `${describe(fetch, t0)}: segment ${firstListed.msn} starts ${listedS.toFixed(3)} s from the end, CAN-SKIP-UNTIL=${skipUntil}`);
		}
		const full = seen.find(
			(s) => s.fetch.uri === fetch.uri && !s.fetch.skip && s.playlist.mediaSequence === playlist.mediaSequence && s.playlist.preloadHint === playlist.preloadHint && s.playlist.segments.length === playlist.segments.length + playlist.skipped && JSON.stringify(lastPosition(s.playlist)) === JSON.stringify(lastPosition(playlist)),
		);
		if (full && JSON.stringify(full.playlist.segments.slice(playlist.skipped)) !== JSON.stringify(playlist.segments)) {
			violations.add(`${fetch.uri} delta differs from the full playlist (§6.2.5.1)`, `${describe(fetch, t0)} against ${describe(full.fetch, t0)}`);
		}
	}
}

/**
 * BANDWIDTH (§4.4.6.2): at least the peak segment bit rate, the largest bit rate of any run of contiguous segments
 * lasting 0.5–1.5 target durations (§4.4.6.2's definition; a variant's bytes include those of its AUDIO group's
 * rendition when that has its own playlist).
 */
function checkBandwidth({ master, seen, violations }: Context, segmentBytes: Readonly<Record<string, Readonly<Record<number, number>>>>): void {
	const durations = new Map<string, Map<number, number>>();
	let targetS = 0;
	for (const { fetch, playlist } of seen) {
		targetS = Math.max(targetS, playlist.targetDurationS);
		const map = durations.get(fetch.uri) ?? new Map<number, number>();
		for (const s of playlist.segments) if (s.durationS !== undefined && !s.gap) map.set(s.msn, s.durationS);
		durations.set(fetch.uri, map);
	}
	for (const variant of master.variants) {
		const bandwidth = Number(variant.attributes.BANDWIDTH);
		const audio = master.media.find((m) => m.TYPE === 'AUDIO' && m['GROUP-ID'] === variant.attributes.AUDIO && m.URI)?.URI;
		const bytes = segmentBytes[variant.uri] ?? {};
		const lengths = durations.get(variant.uri) ?? new Map<number, number>();
		const msns = Object.keys(bytes).map(Number).filter((msn) => lengths.has(msn)).sort((a, b) => a - b);
		const size = (msn: number): number | undefined => {
			const own = bytes[msn];
			if (own === undefined) return undefined;
			if (!audio) return own;
			const extra = segmentBytes[audio]?.[msn];
			return extra === undefined ? undefined : own + extra;
		};
		let peak = { bps: 0, from: -1, to: -1 };
		for (let i = 0; i < msns.length; i++) {
			let bits = 0;
			let seconds = 0;
			for (let j = i; j < msns.length; j++) {
				const msn = msns[j] as number;
				const b = size(msn);
				if (b === undefined || (j > i && msn !== (msns[j - 1] as number) + 1)) break;
				bits += b * 8;
				seconds += lengths.get(msn) as number;
				if (seconds > 1.5 * targetS) break;
				if (seconds >= 0.5 * targetS && bits / seconds > peak.bps) peak = { bps: bits / seconds, from: msns[i] as number, to: msn };
			}
		}
		if (peak.bps > bandwidth) {
			violations.add(`${variant.uri} BANDWIDTH under the peak segment bit rate (§4.4.6.2)`, `BANDWIDTH=${bandwidth}, segments ${peak.from}–${peak.to} ran at ${Math.round(peak.bps)} b/s`);
		}
	}
}
