/**
 * Cache-Control of every origin response, made for a CDN in front (RFC 8216bis §6.2.2 and Apple's LL-HLS CDN
 * notes). Names of parts, segments and init sections are never reused within a stream, so their bytes are immutable.
 */
export const originCacheControl = {
	media: 'public, max-age=31536000, immutable',
	/** A blocking reload's answer always holds the requested part or later: cacheable by URL, briefly. */
	blockingPlaylist: (targetDurationS: number): string => `public, max-age=${6 * targetDurationS}`,
	/** A plain reload may serve a playlist up to half a target duration old. */
	livePlaylist: (targetDurationS: number): string => `public, max-age=${Math.floor(targetDurationS / 2)}`,
	/** A finished playlist no longer changes. */
	endedPlaylist: 'public, max-age=3600',
	/**
	 * The stream's live window answering for a replay not on this machine's disk (yet): the replay is written a
	 * moment after the end and takes its place, so this is kept only a few seconds.
	 */
	replayPending: 'public, max-age=2',
	/** A miss may become a hit soon (a stream starting): cache it only a few seconds. */
	notFound: 'public, max-age=2',
	/** 400 and 503 depend on the moment, not on the URL alone. */
	error: 'no-store',
} as const;

/** Content-Type by file kind. */
export const originContentType = {
	playlist: 'application/vnd.apple.mpegurl',
	video: 'video/mp4',
	audio: 'audio/mp4',
	vtt: 'text/vtt; charset=utf-8',
} as const;
