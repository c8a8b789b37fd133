import type { ParticipantInfo, SpaceInfo } from '../../../api/src/signaling/protocol.js';
import { forgetHostCredential, joinIdentity, loadHostCredential, saveIdentity } from '../session/identityStore.js';

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
	/** A renewed anonymous identity credential (absent when the join named a host credential). */
	identity?: string;
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
	/** While waiting for a transcoder: the place in line, 1 = next. */
	position?: number;
	progress?: BroadcastProgress;
}

/** The broadcast job's progress, as its transcoder reports it. */
export interface BroadcastProgress {
	transcoder: string;
	state: string;
	// fps, speed and bitrate are absent until ffmpeg's first stats (and fps for an audio-only encode).
	fps?: number;
	speed?: number;
	bitrateKbps?: number;
	speakers: number;
	restarts: number;
	replayError?: string;
	updatedAt: number;
	/** The encoder's watchdog: no stats yet, keeping up, slower than real time, or making no progress. Absent from older transcoders. */
	health?: 'starting' | 'ok' | 'slow' | 'stuck';
	/** Degradation level on air: 0 = everything; absent from older transcoders. */
	level?: number;
	/** What is shed now, in shed order: a video rendition's name (`720p`), `fps`, `preset`, `fps-low`. */
	shed?: string[];
}

/** GET /api/spaces/:id/export (public). */
export interface ExportStatus {
	state: 'queued' | 'waiting' | 'running' | 'ready' | 'failed' | 'none';
	percent: number;
	bytes?: number;
	url?: string;
	error?: string;
}

/** A host invite as the server API lists it (`/api/server/host-invites`). */
export interface HostInvite {
	id: string;
	label: string;
	/** ms since the epoch. */
	createdAt?: number;
	expiresAt: number;
	maxUses: number;
	uses: number;
	revoked?: boolean;
}

/** A host identity redeemed from an invite (`/api/server/hosts`). */
export interface HostInfo {
	id: string;
	label: string;
	/** ms since the epoch. */
	createdAt?: number;
	expiresAt?: number;
}

export interface AdminSessionReply {
	token: string;
	expiresAt: number;
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

/** Keeps the anonymous identity credential a create or a join handed back (sliding: each one renews it). */
function keepIdentity<T extends { identity?: string }>(reply: T): T {
	if (typeof reply.identity === 'string') saveIdentity(reply.identity);
	return reply;
}

const server = (path: string) => `/api/server${path}`;
/** A page's query: its size and, after the first, the cursor the previous page gave. */
const page = (limit: number, cursor?: string) => `?limit=${limit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;

export const restApi = {
	/**
	 * Creates a space: as the host this browser redeemed an invite for (`hostCredential`, a bearer), or, where the
	 * server lets anyone create (open hosting), as this browser's anonymous identity.
	 */
	createSpace: async (body: NewSpace, hostCredential?: string) => {
		const identity = hostCredential ? undefined : joinIdentity();
		return keepIdentity(await call<Joined>('POST', '/api/spaces', { ...body, ...(identity && { identity }) }, hostCredential));
	},
	getSpace: (spaceId: string) => call<{ space: SpaceInfo }>('GET', base(spaceId)),
	/**
	 * Joins (or, with `token`, rejoins) a space as this browser's identity: its host credential, or its anonymous
	 * identity credential, whose renewal in the reply is kept for the next visit.
	 */
	join: async (spaceId: string, displayName: string, token?: string) => {
		const identity = joinIdentity();
		const joined = keepIdentity(await call<Joined>('POST', `${base(spaceId)}/join`, { displayName, ...(token && { token }), ...(identity && { identity }) }));
		// A host credential is answered without an anonymous identity; one in the reply says the server no longer
		// takes it (the operator revoked this host), so the create page must stop offering to create.
		if (joined.identity && identity !== undefined && identity === loadHostCredential()) forgetHostCredential();
		return joined;
	},
	start: (spaceId: string, token: string) => call<{ space: SpaceInfo }>('POST', `${base(spaceId)}/start`, {}, token),
	end: (spaceId: string, token: string) => call<{ space: SpaceInfo }>('POST', `${base(spaceId)}/end`, {}, token),
	broadcast: (spaceId: string, token: string) => call<BroadcastStatus>('GET', `${base(spaceId)}/broadcast`, undefined, token),
	exportStatus: (spaceId: string) => call<ExportStatus>('GET', `${base(spaceId)}/export`),
	/** The words the caption recognisers expect, besides the title, description and speakers' names (host or co-host). */
	vocabulary: (spaceId: string, token: string) => call<{ words: string[] }>('GET', `${base(spaceId)}/vocabulary`, undefined, token),
	/** Replaces them (≤ 100 entries of ≤ 40 characters; a broadcast in progress reloads its recognisers). */
	setVocabulary: (spaceId: string, token: string, words: string[]) => call<{ words: string[] }>('POST', `${base(spaceId)}/vocabulary`, { words }, token),
	/** A token a captioner (a person or a service) pushes captions with, and nothing else (host or co-host). */
	captionerToken: (spaceId: string, token: string) => call<{ token: string; expiresAt: number; captionsUrl: string; socketUrl: string }>('POST', `${base(spaceId)}/captioner-token`, {}, token),
	/** Every captioner token of the space issued so far stops working; a new one may be issued after (host or co-host). */
	revokeCaptionerTokens: (spaceId: string, token: string) => call<{ revoked: true }>('POST', `${base(spaceId)}/captioner-tokens/revoke`, {}, token),
	/** The replay's transcript as JSON (`{ cues: [{ startS, endS, speakerName, text }] }`). */
	transcript: (spaceId: string) => call<unknown>('GET', transcriptUrl(spaceId, 'json')),

	/** Redeems a host invite's code (from its link's fragment) for a host credential. */
	redeemHostInvite: (code: string) => call<{ credential: string; host: { id: string; label: string; expiresAt?: number } }>('POST', '/api/host-invites/redeem', { code }),
	/**
	 * Who may create spaces on this server: `open` (anyone, TRIBUNE_OPEN_HOSTING), `hosts` (only hosts with a
	 * credential from an operator's invite), or `unknown` (the server did not say; creating finds out).
	 */
	hosting: async (): Promise<'open' | 'hosts' | 'unknown'> => {
		try {
			const reply = await call<{ host: unknown; openHosting?: boolean }>('GET', '/api/host/me');
			return reply.openHosting ? 'open' : 'unknown';
		} catch (e) {
			return e instanceof ApiError && e.code === 'host_required' ? 'hosts' : 'unknown';
		}
	},
	/** The host a host credential names; refused (401) once the operator revoked it. */
	hostMe: (hostCredential: string) => call<{ host: { id: string; label: string } }>('GET', '/api/host/me', undefined, hostCredential),
};

/** The operator's API (`/api/server/*`), with an admin session token or the admin key as the bearer. */
export const adminApi = {
	/** A session from the one-time sign-in code of `npm start`'s link. */
	signInWithCode: (code: string) => call<AdminSessionReply>('POST', '/api/admin/sessions', { code }),
	/** A session from the admin key itself (the key is sent once, never kept). */
	signInWithKey: (adminKey: string) => call<AdminSessionReply>('POST', '/api/admin/sessions', {}, adminKey),
	invites: (token: string, cursor?: string) => call<{ invites: HostInvite[]; nextCursor: string | null }>('GET', server(`/host-invites${page(100, cursor)}`), undefined, token),
	createInvite: (token: string, invite: { label?: string; expiresInS: number; maxUses: number }) => call<{ invite: HostInvite; url: string }>('POST', server('/host-invites'), invite, token),
	revokeInvite: (token: string, id: string) => call<unknown>('DELETE', server(`/host-invites/${encodeURIComponent(id)}`), undefined, token),
	hosts: (token: string, cursor?: string) => call<{ hosts: HostInfo[]; nextCursor: string | null }>('GET', server(`/hosts${page(100, cursor)}`), undefined, token),
	revokeHost: (token: string, hostId: string) => call<unknown>('DELETE', server(`/hosts/${encodeURIComponent(hostId)}`), undefined, token),
	spaces: (token: string, state: SpaceInfo['state'], limit = 50, cursor?: string) =>
		call<{ spaces: SpaceInfo[]; nextCursor: string | null }>('GET', server(`/spaces${page(limit, cursor)}&state=${state}`), undefined, token),
	endSpace: (token: string, spaceId: string) => call<{ space: SpaceInfo }>('POST', server(`/spaces/${encodeURIComponent(spaceId)}/end`), {}, token),
};
