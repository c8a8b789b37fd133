import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseHlsPath, type HlsFile } from '@tribune/transcoder';
import { errorBody, errorCatalogue, TribuneError } from '../errors.js';
import { everyResponseHeaders } from '../http/securityHeaders.js';
import { isRedisUnavailable, redisUnavailable } from '../redis/requestRedis.js';
import { originCacheControl, originContentType } from './originCacheHeaders.js';
import type { OriginStore } from './OriginStore.js';
import { RenderedPlaylist, type OriginStream } from './OriginStream.js';
import { readReplayFile } from './readReplayFile.js';

export interface OriginRouterDeps {
	store: OriginStore;
	/** The replay store's root, `<TRIBUNE_DATA_DIR>/hls`. */
	hlsRoot: string;
	logger: Logger;
}

const counter = z.string().regex(/^(0|[1-9][0-9]{0,15})$/).transform(Number);
/** Delivery directives of a playlist request (RFC 8216bis §6.2.5). Other query parameters are ignored. */
const directivesSchema = z.object({
	_HLS_msn: counter.optional(),
	_HLS_part: counter.optional(),
	_HLS_skip: z.enum(['YES', 'v2']).optional(),
});
type Directives = z.output<typeof directivesSchema>;

type Req = IncomingMessage;
type Res = ServerResponse;

/**
 * The LL-HLS origin on plain Node `http` objects: `url` is the request target below `/hls` (`/<stream>/…?query`).
 * Playlists, init sections, parts, segments and WebVTT from memory (the live window) or the replay store. Only
 * Tribune's own names are served (hlsNames); anything else is a 404. Nothing here needs Express: the API's request
 * listener calls this ahead of the Express app (createOrigin's `serveHls`), since at thousands of listeners Express's
 * routing and req/res decoration cost more than serving a part from memory.
 */
export function createOriginHandler(deps: OriginRouterDeps): (req: Req, res: Res, url: string) => void {
	return (req, res, url) => {
		if (req.method === 'GET' || req.method === 'HEAD') {
			let served: boolean;
			try {
				served = serveFromMemory(deps, res, url);
			} catch (error) {
				// Ahead of Express nothing else would catch it: a throw here must cost one reply, never the process.
				failInternal(deps, req, res, url, error);
				return;
			}
			if (!served) serve(deps, res, url).catch((error: unknown) => failInternal(deps, req, res, url, error));
			return;
		}
		if (req.method === 'OPTIONS') {
			res.writeHead(204, preflightHeaders).end();
			return;
		}
		// The origin is read-only.
		sendError(res, 'method_not_allowed', `${req.method ?? ''} is not allowed here`, originCacheControl.error, ['Allow', 'GET, HEAD, OPTIONS']);
	};
}

/**
 * The same origin as an Express router for `/hls`: it sees only what the API's listener leaves to Express (`/HLS/…`,
 * `/hls` alone, absolute-form targets), and apps built without that listener (tests).
 */
export function createOriginRouter(deps: OriginRouterDeps): Router {
	const handle = createOriginHandler(deps);
	const router = Router();
	// One layer for everything (Express has already cut the mount point off req.url).
	router.use((req, res) => handle(req, res, req.url));
	return router;
}

// Players embed streams from any site; nothing here is private to a cookie.
const preflightHeaders = [
	'Access-Control-Allow-Origin', '*',
	'Access-Control-Allow-Methods', 'GET, HEAD',
	'Access-Control-Allow-Headers', 'Range',
	'Access-Control-Max-Age', '86400',
	...everyResponseHeaders,
];

/** The request's path below the mount point and its query string ('' when none), without decoding. */
function splitUrl(url: string): { path: string; query: string } {
	const q = url.indexOf('?');
	return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/**
 * The hot path, synchronous: a part, segment or init section of a stream this origin already follows. Returns
 * false for anything else (playlists, a stream not followed yet, replays), which {@link serve} answers.
 */
function serveFromMemory(deps: OriginRouterDeps, res: Res, url: string): boolean {
	const { path, query } = splitUrl(url);
	if (query !== '' || !path.endsWith('.m4s')) return false;
	const file = parseHlsPath(path.slice(1));
	if (!file || (file.kind !== 'part' && file.kind !== 'segment')) return false;
	const stream = deps.store.peek(file.streamId);
	if (!stream) return false;
	if (file.kind === 'part') {
		servePart(res, stream, file);
		return true;
	}
	const bytes = stream.rendition(file.rendition)?.segments.get(file.msn);
	if (!bytes) return false;
	sendMedia(res, bytes, stream.mediaType(file.rendition));
	return true;
}

async function serve(deps: OriginRouterDeps, res: Res, url: string): Promise<void> {
	const { path, query } = splitUrl(url);
	const file = parseHlsPath(path.slice(1));
	if (!file) return fail(res, 'not_found', 'not found');
	const parsed = directivesSchema.safeParse(query === '' ? {} : parseQuery(query));
	if (!parsed.success) return fail(res, 'bad_request', 'invalid _HLS_ directive');
	const stream = deps.store.peek(file.streamId) ?? (await deps.store.get(file.streamId));
	if (!stream) return serveReplayOnly(deps, res, file);
	switch (file.kind) {
		case 'multivariant':
			return serveMultivariant(deps, res, stream, file);
		case 'media-playlist':
			return serveMediaPlaylist(deps, res, stream, file, parsed.data);
		case 'part':
			return servePart(res, stream, file);
		default:
			return serveMediaFile(deps, res, stream, file);
	}
}

/** A stream no packager publishes (any more): only its replay on this machine's disk, if there is one. */
async function serveReplayOnly(deps: OriginRouterDeps, res: Res, file: HlsFile): Promise<void> {
	const bytes = await readReplayFile(deps.hlsRoot, file);
	if (!bytes) return fail(res, 'not_found', 'not found');
	if (file.kind === 'multivariant' || file.kind === 'media-playlist') return sendReplayPlaylist(res, bytes);
	sendMedia(res, bytes, file.kind === 'vtt' ? originContentType.vtt : originContentType.video);
}

async function serveMultivariant(deps: OriginRouterDeps, res: Res, stream: OriginStream, file: HlsFile & { kind: 'multivariant' }): Promise<void> {
	const live = file.vod || stream.ended ? undefined : stream.multivariant();
	if (live) return sendPlaylist(res, live, originCacheControl.livePlaylist(stream.descriptor?.targetDurationS ?? 1));
	const replay = await readReplayFile(deps.hlsRoot, file);
	if (replay) return sendReplayPlaylist(res, replay);
	// The replay is not on this machine's disk (not written yet, or kept elsewhere): the live window still plays,
	// cached briefly, as the replay takes its place once written.
	const window = stream.multivariant();
	if (window) return sendPlaylist(res, window, originCacheControl.replayPending);
	return fail(res, 'not_found', 'no such stream');
}

async function serveMediaPlaylist(
	deps: OriginRouterDeps,
	res: Res,
	stream: OriginStream,
	file: HlsFile & { kind: 'media-playlist' },
	directives: Directives,
): Promise<void> {
	const descriptor = stream.descriptor;
	const isSubtitles = file.rendition === 'subs';
	const rendition = isSubtitles ? undefined : stream.rendition(file.rendition);
	if (file.vod || !descriptor || (!isSubtitles && !rendition)) {
		const replay = await readReplayFile(deps.hlsRoot, file);
		return replay ? sendReplayPlaylist(res, replay) : fail(res, 'not_found', 'no such playlist');
	}
	const target = descriptor.targetDurationS;
	const skip = directives._HLS_skip !== undefined;
	const render = (): RenderedPlaylist | undefined =>
		isSubtitles ? stream.subtitlesPlaylist(skip, directives._HLS_msn) : stream.mediaPlaylist(file.rendition, skip, directives._HLS_msn);
	const live = stream.ended ? originCacheControl.endedPlaylist : originCacheControl.livePlaylist(target);
	if (directives._HLS_part !== undefined && directives._HLS_msn === undefined) return fail(res, 'bad_request', '_HLS_part without _HLS_msn');
	if (directives._HLS_msn === undefined) {
		const send = (): void => {
			const playlist = render();
			return playlist ? sendPlaylist(res, playlist, live) : fail(res, 'not_found', 'playlist not started');
		};
		// The stream is just starting: hold a player's first request until it can start PART-HOLD-BACK from the edge
		// with a segment behind it, or for the subtitles until their first segment (an empty live playlist is an error
		// to hls.js, levelEmptyError); at most three target durations, then whatever there is.
		const started = (): boolean => stream.ended || (rendition ? stream.holdsStartupMedia(file.rendition) : stream.subtitles.lastMsn >= 0);
		if (started()) return send();
		const cancel = stream.waiters.wait(started, 3 * target * 1000, send);
		res.once('close', cancel);
		return;
	}
	const msn = directives._HLS_msn;
	// Subtitles have whole segments only: a blocking request waits for segment msn itself.
	const part = rendition ? directives._HLS_part : undefined;
	const problem = blockingRequestProblem(stream, rendition ? rendition.timeline : stream.subtitles, msn, part);
	if (problem) return fail(res, 'bad_request', problem);
	const isReady = rendition ? () => rendition.has(msn, part) : () => stream.ended || stream.subtitles.lastMsn >= msn;
	// Hold the request until the playlist has the part (§6.2.5.2), for at most three target durations.
	const cancel = stream.waiters.wait(isReady, 3 * target * 1000, (outcome) => {
		const playlist = outcome === 'ready' ? render() : undefined;
		if (!playlist) return fail(res, 'unavailable', 'the requested part did not arrive in time');
		sendPlaylist(res, playlist, stream.ended ? live : originCacheControl.blockingPlaylist(target));
	});
	// The client went away: drop its waiter (a response's close fires on finish or on a dropped connection).
	res.once('close', cancel);
}

/**
 * Why a blocking request is a 400 (§6.2.5.2): a segment more than two beyond "the last Media Segment in the current
 * Playlist", or a part beyond the Advance Part Limit (3 / PART-TARGET parts when PART-TARGET < 1 s, else 3). The last
 * Media Segment is the last complete one: the open segment is only Partial Segments so far (it has no URI or
 * EXTINF yet), and a request without `_HLS_part` waits for a whole segment. Counted from the open segment, a request
 * for open + 2 waited up to three segments, as long as a request is held (3 target durations), and came back 200 or
 * 503 by chance; now it is a 400 at once, and whatever is allowed (up to open + 1) comes within two segments.
 */
function blockingRequestProblem(
	stream: OriginStream,
	timeline: { segments: readonly { complete: boolean }[]; lastMsn: number; lastPartIndex: number },
	msn: number,
	part: number | undefined,
): string | undefined {
	if (stream.ended) return undefined;
	const lastComplete = timeline.segments.at(-1)?.complete === false ? timeline.lastMsn - 1 : timeline.lastMsn;
	if (msn > lastComplete + 2) return `_HLS_msn ${msn} is more than two segments past the last complete segment (${lastComplete})`;
	if (part === undefined) return undefined;
	const descriptor = stream.descriptor;
	if (!descriptor) return undefined;
	const partTargetS = descriptor.partTargetMs / 1000;
	const limit = partTargetS < 1 ? Math.floor(3 / partTargetS) : 3;
	const partsPerSegment = Math.round(descriptor.segmentTargetMs / descriptor.partTargetMs);
	const ahead = (msn - timeline.lastMsn) * partsPerSegment + part - timeline.lastPartIndex;
	return ahead > limit ? `_HLS_part ${part} of segment ${msn} is beyond the advance part limit` : undefined;
}

/** A part: from memory; the preload-hinted next part is held until it exists (§6.2.6). */
function servePart(res: Res, stream: OriginStream, file: HlsFile & { kind: 'part' }): void {
	const rendition = stream.rendition(file.rendition);
	const descriptor = stream.descriptor;
	if (!rendition || !descriptor) return fail(res, 'not_found', 'no such part');
	const contentType = stream.mediaType(file.rendition);
	const bytes = rendition.parts.get(file.seq);
	if (bytes) return sendMedia(res, bytes, contentType);
	// A part that has left the window never comes back: a CDN may keep that 404 (late listeners all ask for it).
	// One not produced yet may exist a moment later: that 404 is not cacheable.
	if (file.seq <= rendition.timeline.lastPartSeq || stream.ended) return fail(res, 'not_found', 'no such part');
	if (file.seq !== rendition.timeline.lastPartSeq + 1) return fail(res, 'unavailable_part', 'no such part yet');
	const cancel = stream.waiters.wait(() => rendition.parts.has(file.seq) || stream.ended, 3 * descriptor.targetDurationS * 1000, () => {
		const arrived = rendition.parts.get(file.seq);
		if (arrived) return sendMedia(res, arrived, contentType);
		fail(res, 'unavailable_part', 'the hinted part was not produced');
	});
	// The client went away: drop its waiter (a response's close fires on finish or on a dropped connection).
	res.once('close', cancel);
}

async function serveMediaFile(deps: OriginRouterDeps, res: Res, stream: OriginStream, file: HlsFile): Promise<void> {
	let bytes: Buffer | undefined;
	let contentType: string = originContentType.vtt;
	if (file.kind === 'init' || file.kind === 'segment') {
		const rendition = stream.rendition(file.rendition);
		bytes = file.kind === 'init' ? rendition?.inits.get(file.index) : rendition?.segments.get(file.msn);
		contentType = stream.mediaType(file.rendition);
	} else if (file.kind === 'vtt') {
		bytes = stream.vtt.get(file.msn);
	}
	bytes ??= await readReplayFile(deps.hlsRoot, file);
	if (!bytes) return fail(res, 'not_found', 'not found');
	sendMedia(res, bytes, contentType);
}

function sendPlaylist(res: Res, playlist: RenderedPlaylist, cacheControl: string): void {
	if (res.writableEnded || res.destroyed) return;
	const gzip = acceptsGzip(res.req.headers['accept-encoding']);
	const body = gzip ? playlist.gzip : playlist.bytes;
	const headers = [
		'Content-Type', originContentType.playlist,
		'Cache-Control', cacheControl,
		'Vary', 'Accept-Encoding',
		'Access-Control-Allow-Origin', '*',
		'Content-Length', String(body.length),
		...everyResponseHeaders,
	];
	if (gzip) headers.push('Content-Encoding', 'gzip');
	res.writeHead(200, headers).end(body);
}

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
	if (!header || !header.includes('gzip')) return false;
	return !/(^|,)\s*gzip\s*;\s*q=0(\.0{0,3})?\s*(,|$)/.test(header);
}

/** Replay playlists are immutable: gzip each once (keyed by content), keeping the most recent few hundred. */
const replayCache = new Map<string, RenderedPlaylist>();
const replayCacheEntries = 256;

function sendReplayPlaylist(res: Res, bytes: Buffer): void {
	const text = bytes.toString('utf8');
	let playlist = replayCache.get(text);
	if (!playlist) {
		playlist = new RenderedPlaylist(text);
		replayCache.set(text, playlist);
		if (replayCache.size > replayCacheEntries) replayCache.delete(replayCache.keys().next().value as string);
	}
	sendPlaylist(res, playlist, originCacheControl.endedPlaylist);
}

function sendMedia(res: Res, bytes: Buffer, contentType: string): void {
	if (res.writableEnded || res.destroyed) return;
	// Headers as one flat array straight to writeHead: no per-header bookkeeping for the most frequent response.
	// The constant security headers are written out, not spread: this runs thousands of times a second.
	res.writeHead(200, [
		'Content-Type', contentType,
		'Cache-Control', originCacheControl.media,
		'Access-Control-Allow-Origin', '*',
		'Content-Length', String(bytes.length),
		'X-Content-Type-Options', 'nosniff',
		'Referrer-Policy', 'no-referrer',
	]).end(bytes);
}

function fail(res: Res, reason: 'bad_request' | 'not_found' | 'unavailable' | 'unavailable_part', message: string): void {
	const code = reason === 'unavailable_part' ? 'not_found' : reason;
	sendError(res, code, message, reason === 'not_found' ? originCacheControl.notFound : originCacheControl.error);
}

/**
 * A failed lookup, answered as the app's error handler (createApp's onError) answers it: Redis away is a 503
 * `unavailable` (the store rejects then), anything else a logged 500.
 */
function failInternal(deps: OriginRouterDeps, req: Req, res: Res, url: string, error: unknown): void {
	const outage = isRedisUnavailable(error);
	const details = { err: error, method: req.method, path: splitUrl(url).path };
	if (outage) deps.logger.warn(details, 'request failed: redis unavailable');
	else deps.logger.error(details, 'unhandled request error');
	if (res.headersSent) {
		res.end();
		return;
	}
	const reply = outage ? redisUnavailable() : new TribuneError('internal', 'internal error');
	const body = JSON.stringify(errorBody(reply.code, reply.message));
	res.writeHead(reply.status, ['Cache-Control', 'no-store', ...jsonHeaders(body), ...everyResponseHeaders]).end(body);
}

/** A JSON error with the headers Express's res.json gave it before the origin ran ahead of Express (ETag included). */
function sendError(res: Res, code: 'bad_request' | 'not_found' | 'unavailable' | 'method_not_allowed', message: string, cacheControl: string, extra: string[] = []): void {
	if (res.writableEnded || res.destroyed) return;
	const body = JSON.stringify(errorBody(code, message));
	res.writeHead(errorCatalogue[code], [...extra, 'Cache-Control', cacheControl, 'Access-Control-Allow-Origin', '*', ...jsonHeaders(body), ...everyResponseHeaders]).end(body);
}

/** Content-Type, Content-Length and the weak ETag (the `etag` package's, as Express computes it) of a JSON body. */
function jsonHeaders(body: string): string[] {
	const bytes = Buffer.from(body, 'utf8');
	const hash = createHash('sha1').update(bytes).digest('base64').slice(0, 27);
	return ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(bytes.length), 'ETag', `W/"${bytes.length.toString(16)}-${hash}"`];
}
