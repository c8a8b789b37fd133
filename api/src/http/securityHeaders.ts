import type { RequestHandler } from 'express';

/** Who may frame `/embed/<id>`: any site (the default), or only these origins (`TRIBUNE_EMBED_ORIGINS`). */
export type EmbedOrigins = 'any' | readonly string[];

/**
 * Headers every response carries, the LL-HLS origin's hot path included (it spreads this flat array into the one it
 * hands to `writeHead`): no MIME sniffing (a JSON error or a `.vtt` is never run as HTML or script), and no Referer
 * leaving the app (share links carry space ids; a token must never ride along in one).
 */
export const everyResponseHeaders: readonly string[] = ['X-Content-Type-Options', 'nosniff', 'Referrer-Policy', 'no-referrer'];

/**
 * The player's Content-Security-Policy: only what the built app loads (checked against `player/dist`: one module
 * script and one stylesheet, both files; no inline script or style element; Vue binds styles through the CSSOM,
 * which CSP does not govern).
 * - `default-src 'self'`: scripts, styles, fonts, images, the lazily loaded stage chunk — all from the app's origin.
 * - `connect-src 'self'`: REST, the LL-HLS playlists and parts hls.js fetches, and the WebSockets (`/ws`): CSP
 *   Level 3 matches `ws:`/`wss:` of the page's own host with `'self'`; Safari has not always, so each response also
 *   names `ws://` and `wss://` of the host the page was asked for ({@link withSocketHost}).
 * - `media-src 'self' blob: data:`: hls.js plays through Media Source Extensions, attached as a `blob:` URL of the
 *   MediaSource, and gives each subtitle `<track>` it creates the empty `data:,WEBVTT` (its createTrackNode: Chrome's
 *   captions menu and Safari's cue handling need a source). Media can run no script. (hls.js's ES module build,
 *   which Vite bundles, runs its transmuxer in the page: no `blob:` worker, so workers stay at `'self'`.)
 * - `object-src 'none'`, `base-uri 'none'`: no plugins, and no injected `<base>` to re-point relative URLs.
 * - `form-action 'self'`: the app's forms submit by script; none may post elsewhere.
 * WebRTC (mediasoup-client) is not governed by CSP.
 */
const appDirectives = [
	"default-src 'self'",
	"connect-src 'self'",
	"media-src 'self' blob: data:",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
];

/** Responses that are not the app (JSON, metrics): nothing may load from them, nor frame them. */
const dataPolicy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface SecurityHeaders {
	/** `/`, `/s/<id>` and every other app page, and the player's assets: never framed. */
	app: readonly string[];
	/** `/embed/<id>`: framed by any site, or by `TRIBUNE_EMBED_ORIGINS` (and the app's own origin). */
	embed: readonly string[];
	/** The JSON API, health and metrics. */
	data: readonly string[];
}

/** The header sets for each kind of response (flat name/value arrays); pure, so they are golden-tested. */
export function buildSecurityHeaders(embedOrigins: EmbedOrigins): SecurityHeaders {
	const app = [...appDirectives, "frame-ancestors 'none'"].join('; ');
	// Any origin: no frame-ancestors at all. `frame-ancestors *` would still refuse ancestors with opaque origins
	// (sandboxed frames, data: documents) that some embedding sites use.
	const embed = embedOrigins === 'any' ? appDirectives.join('; ') : [...appDirectives, `frame-ancestors 'self' ${embedOrigins.join(' ')}`].join('; ');
	return {
		// X-Frame-Options for browsers without CSP frame-ancestors; DENY only where frame-ancestors is 'none'.
		app: ['Content-Security-Policy', app, 'X-Frame-Options', 'DENY', ...everyResponseHeaders],
		embed: ['Content-Security-Policy', embed, ...everyResponseHeaders],
		data: ['Content-Security-Policy', dataPolicy, 'X-Frame-Options', 'DENY', ...everyResponseHeaders],
	};
}

/**
 * Parses `TRIBUNE_EMBED_ORIGINS`: `*` (any, the default) or a comma-separated list of origins (`https://a.example,
 * http://localhost:3000`): scheme http or https, host, optional port; no path, query, credentials or wildcard.
 * Throws an Error naming the entry that is not one.
 */
export function parseEmbedOrigins(value: string): EmbedOrigins {
	const text = value.trim();
	if (text === '*') return 'any';
	return Object.freeze(
		text.split(',').map((entry) => {
			const origin = entry.trim();
			let url: URL | undefined;
			try {
				url = new URL(origin);
			} catch {
				url = undefined;
			}
			// The origin must be written as the browser serialises it, so it is exactly what frame-ancestors compares.
			// WHATWG URLs take `*` and other odd characters in a host; a CSP source must not carry a wildcard.
			const plainHost = url !== undefined && /^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(url.hostname);
			if (!url || !plainHost || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin.replace(/\/$/, '')) {
				throw new Error(`"${origin}" is not an origin (expected * or scheme://host[:port] entries separated by commas, e.g. https://blog.example)`);
			}
			return url.origin;
		}),
	);
}

const socketHostPattern = /^([a-z0-9-]+\.)*[a-z0-9-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * A policy whose `connect-src 'self'` also names the page's own host as `ws://` and `wss://` (the player opens its
 * WebSockets at `location.host`). `host` is the request's Host header: used only when it is a plain host[:port],
 * else the policy stays as it is ('self' alone). A forged Host only changes the answer to whoever forged it.
 */
export function withSocketHost(policy: string, host: string | undefined): string {
	if (!host || host.length > 261 || !socketHostPattern.test(host)) return policy;
	return policy.replace("connect-src 'self'", `connect-src 'self' ws://${host} wss://${host}`);
}

/** Which set a request's response gets, by path (Express matches paths case-insensitively, so this does too). */
export function headerSetFor(path: string): keyof SecurityHeaders | 'hls' {
	if (/^\/hls(\/|$)/i.test(path)) return 'hls';
	if (/^\/(api\/|api$|healthz$|metrics$)/i.test(path)) return 'data';
	if (/^\/embed(\/|$)/i.test(path)) return 'embed';
	return 'app';
}

/**
 * Express middleware setting the security headers on every response it handles. `/hls` is the origin's: it writes
 * {@link everyResponseHeaders} itself, whichever path a request takes (ahead of Express or through it), so both
 * paths answer header for header alike; media and playlists are not documents and need no CSP.
 */
export function securityHeaders(headers: SecurityHeaders): RequestHandler {
	const pairs = (flat: readonly string[]): [string, string][] => {
		const out: [string, string][] = [];
		for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
		return out;
	};
	const sets = { app: pairs(headers.app), embed: pairs(headers.embed), data: pairs(headers.data), hls: [] };
	return (req, res, next) => {
		const set = headerSetFor(req.path);
		for (const [name, value] of sets[set]) {
			res.setHeader(name, name === 'Content-Security-Policy' && set !== 'data' ? withSocketHost(value, req.headers.host) : value);
		}
		next();
	};
}
