import type { ParticipantInfo, SpaceInfo } from '../../../api/src/signaling/protocol.js';

/** A refused REST call: the API's stable error code (api/src/errors.ts) and HTTP status. */
export class ApiError extends Error {
	override readonly name = 'ApiError';
	readonly code: string;
	readonly status: number;
	/** The server's Retry-After, in s (a full node says when to come back). */
	readonly retryAfterS: number | undefined;

	constructor(code: string, message: string, status: number, retryAfterS?: number) {
		super(message);
		this.code = code;
		this.status = status;
		this.retryAfterS = retryAfterS;
	}
}

export interface Joined {
	space: SpaceInfo;
	participant: ParticipantInfo;
	token: string;
}

export interface NewSpace {
	title: string;
	description: string;
	hostName: string;
	settings: { video: boolean; recording: boolean; captionMode: SpaceInfo['settings']['captionMode'] };
}

/** GET /api/spaces/:id/broadcast (hosts). */
export interface BroadcastStatus {
	state: 'waiting' | 'active' | 'delayed' | 'none';
	// fps, speed and bitrate are absent until ffmpeg's first stats (and fps for an audio-only encode).
	progress?: { transcoder: string; state: string; fps?: number; speed?: number; bitrateKbps?: number; speakers: number; restarts: number; replayError?: string; updatedAt: number };
}

/** GET /api/spaces/:id/export (public). */
export interface ExportStatus {
	state: 'queued' | 'waiting' | 'running' | 'ready' | 'failed' | 'none';
	percent: number;
	bytes?: number;
	url?: string;
	error?: string;
}

async function call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
			body: body === undefined ? undefined : JSON.stringify(body),
			cache: 'no-store',
		});
	} catch {
		throw new ApiError('unavailable', 'the server is not answering', 0);
	}
	const json = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
	if (!response.ok) {
		const retryAfterS = Number(response.headers.get('retry-after') ?? NaN);
		throw new ApiError(json.error?.code ?? 'internal', json.error?.message ?? `HTTP ${response.status}`, response.status, Number.isFinite(retryAfterS) ? retryAfterS : undefined);
	}
	return json as T;
}

const base = (spaceId: string) => `/api/spaces/${encodeURIComponent(spaceId)}`;

/** Where a replay's transcript is, in each format the API serves. */
export const transcriptUrl = (spaceId: string, format: 'vtt' | 'srt' | 'txt' | 'json') => `${base(spaceId)}/transcript.${format}`;

export const restApi = {
	createSpace: (body: NewSpace) => call<Joined>('POST', '/api/spaces', body),
	getSpace: (spaceId: string) => call<{ space: SpaceInfo }>('GET', base(spaceId)),
	join: (spaceId: string, displayName: string, token?: string) => call<Joined>('POST', `${base(spaceId)}/join`, { displayName, ...(token && { token }) }),
	start: (spaceId: string, token: string) => call<{ space: SpaceInfo }>('POST', `${base(spaceId)}/start`, {}, token),
	end: (spaceId: string, token: string) => call<{ space: SpaceInfo }>('POST', `${base(spaceId)}/end`, {}, token),
	broadcast: (spaceId: string, token: string) => call<BroadcastStatus>('GET', `${base(spaceId)}/broadcast`, undefined, token),
	exportStatus: (spaceId: string) => call<ExportStatus>('GET', `${base(spaceId)}/export`),
	/** A token a captioner (a person or a service) pushes captions with, and nothing else (host or co-host). */
	captionerToken: (spaceId: string, token: string) => call<{ token: string; expiresAt: number; captionsUrl: string; socketUrl: string }>('POST', `${base(spaceId)}/captioner-token`, {}, token),
	/** Every captioner token of the space issued so far stops working; a new one may be issued after (host or co-host). */
	revokeCaptionerTokens: (spaceId: string, token: string) => call<{ revoked: true }>('POST', `${base(spaceId)}/captioner-tokens/revoke`, {}, token),
	/** The replay's transcript as JSON (`{ cues: [{ startS, endS, speakerName, text }] }`). */
	transcript: (spaceId: string) => call<unknown>('GET', transcriptUrl(spaceId, 'json')),
};
