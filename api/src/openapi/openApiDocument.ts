import { z } from 'zod';
import * as server from '../server/serverSchemas.js';
import * as wire from './wireSchemas.js';

/** Who may call a route. */
type Auth = 'none' | 'operator' | 'adminKeyOrCode' | 'participant' | 'hostUnlessOpen' | 'captioner';

interface Reply {
	description: string;
	/** JSON body; absent: `content` names another media type. */
	schema?: z.ZodType;
	/** Media types of a non-JSON body (a file). */
	content?: readonly string[];
}

/** One route of /api, as the document describes it. `path` is Express's (`/api/spaces/:id`). */
export interface ApiOperation {
	method: 'get' | 'post' | 'delete';
	path: string;
	summary: string;
	tag: 'spaces' | 'captions' | 'replays' | 'hosting' | 'server';
	auth: Auth;
	query?: z.ZodObject;
	body?: z.ZodType;
	/** Success replies by status; every error is `default`: the catalogue's `{ error: { code, message } }`. */
	replies: Record<number, Reply>;
}

const pathParams: Record<string, z.ZodType> = {
	id: server.spaceIdParam,
	participantId: server.participantIdParam,
	hostId: server.hostIdParam,
	file: z.enum(['transcript.vtt', 'transcript.srt', 'transcript.txt', 'transcript.json']),
};

const json = (description: string, schema: z.ZodType): Reply => ({ description, schema });

/** Every route Express serves under /api (`api/test/openapi.test.ts` checks the list against the app). */
export const apiOperations: readonly ApiOperation[] = [
	// Spaces (public, participant tokens).
	{ method: 'post', path: '/api/spaces', tag: 'spaces', auth: 'hostUnlessOpen', summary: 'Create a space (a host credential, unless hosting is open); the reply has the host\'s token', body: wire.createSpaceRequest, replies: { 201: json('The space, its host and their token', wire.spaceWithTokenResponse) } },
	{ method: 'get', path: '/api/spaces/:id', tag: 'spaces', auth: 'none', summary: 'A space\'s public description', replies: { 200: json('The space', wire.spaceResponse) } },
	{ method: 'post', path: '/api/spaces/:id/join', tag: 'spaces', auth: 'none', summary: 'Join from the share link as a listener (or rejoin with an earlier token)', body: wire.joinRequest, replies: { 200: json('The space, you, your token', wire.spaceWithTokenResponse) } },
	{ method: 'post', path: '/api/spaces/:id/start', tag: 'spaces', auth: 'participant', summary: 'Go live (host)', replies: { 200: json('The live space', wire.spaceResponse) } },
	{ method: 'post', path: '/api/spaces/:id/end', tag: 'spaces', auth: 'participant', summary: 'End the space (host)', replies: { 200: json('The ended space', wire.spaceResponse) } },
	{ method: 'post', path: '/api/spaces/:id/tokens/rotate', tag: 'spaces', auth: 'participant', summary: 'A new token in the same session; every older one of yours stops working', body: wire.emptyRequest, replies: { 200: json('The new token', wire.tokenResponse) } },
	{ method: 'post', path: '/api/spaces/:id/tokens/revoke', tag: 'spaces', auth: 'participant', summary: 'Revoke every token of someone of lower rank, removing them (host or co-host)', body: wire.revokeRequest, replies: { 200: json('Revoked', wire.revokedResponse) } },
	{ method: 'post', path: '/api/spaces/:id/synthetic-speakers', tag: 'spaces', auth: 'participant', summary: 'Put a synthetic speaker on stage (host or co-host; only with SYNTHETIC_SPEAKERS=true)', body: wire.syntheticSpeakerRequest, replies: { 201: json('The synthetic speaker', wire.participantResponse) } },
	{ method: 'post', path: '/api/spaces/:id/synthetic-conversation', tag: 'spaces', auth: 'participant', summary: 'Synthetic speakers taking turns in a looped scripted conversation (host or co-host; only with SYNTHETIC_SPEAKERS=true)', body: wire.syntheticConversationRequest, replies: { 201: json('The synthetic speakers', wire.participantsResponse) } },
	{ method: 'get', path: '/api/spaces/:id/broadcast', tag: 'spaces', auth: 'participant', summary: 'The broadcast\'s state and encoder progress (host or co-host)', replies: { 200: json('Its state; while waiting for a transcoder, its position', wire.broadcastStateResponse) } },
	// Captions.
	{ method: 'get', path: '/api/spaces/:id/vocabulary', tag: 'captions', auth: 'participant', summary: 'The words the caption recognisers expect (host or co-host)', replies: { 200: json('The host\'s word list', wire.vocabularyResponse) } },
	{ method: 'post', path: '/api/spaces/:id/vocabulary', tag: 'captions', auth: 'participant', summary: 'Replace the words the caption recognisers expect, with the title, description and speakers\' names (host or co-host; ≤ 100 entries of ≤ 40 characters; 10 changes a minute)', body: wire.vocabularyRequest, replies: { 200: json('The word list kept', wire.vocabularyResponse) } },
	{ method: 'post', path: '/api/spaces/:id/caption-mode', tag: 'captions', auth: 'participant', summary: 'Set the caption mode (host or co-host)', body: wire.captionModeRequest, replies: { 200: json('The space', wire.spaceResponse) } },
	{ method: 'post', path: '/api/spaces/:id/captioner-token', tag: 'captions', auth: 'participant', summary: 'A token that may push captions to this space and nothing else (host or co-host)', body: wire.captionerTokenRequest, replies: { 201: json('The captioner token and where to use it', wire.captionerTokenResponse) } },
	{ method: 'post', path: '/api/spaces/:id/captioner-tokens/revoke', tag: 'captions', auth: 'participant', summary: 'Revoke every captioner token of this space (host or co-host)', body: wire.emptyRequest, replies: { 200: json('Revoked', wire.revokedResponse) } },
	{ method: 'post', path: '/api/spaces/:id/captions', tag: 'captions', auth: 'captioner', summary: 'Push a line of captions (captioner token)', body: wire.captionPushRequest, replies: { 202: json('The cue', wire.captionCueResponse) } },
	{ method: 'get', path: '/api/spaces/:id/:file', tag: 'captions', auth: 'none', summary: 'The transcript of an ended, recorded space', replies: { 200: { description: 'The transcript', content: ['text/vtt', 'application/x-subrip', 'text/plain', 'application/json'] } } },
	// Replays.
	{ method: 'get', path: '/api/spaces/:id/export', tag: 'replays', auth: 'none', summary: 'The state of the replay\'s MP4 export', replies: { 200: json('Its state', wire.exportStatusResponse) } },
	{ method: 'post', path: '/api/spaces/:id/export', tag: 'replays', auth: 'participant', summary: 'Export the replay again after a failure (host or co-host, once ended)', replies: { 200: json('Already queued, running or ready', wire.exportStatusResponse), 202: json('Queued', wire.exportStatusResponse) } },
	{ method: 'get', path: '/api/spaces/:id/replay.mp4', tag: 'replays', auth: 'none', summary: 'The replay as an MP4 download (Range requests)', replies: { 200: { description: 'The file', content: ['video/mp4', 'audio/mp4'] } } },
	// Hosting (public).
	{ method: 'post', path: '/api/admin/sessions', tag: 'hosting', auth: 'adminKeyOrCode', summary: 'An admin session: for the one-time sign-in code, or the admin key as bearer', body: server.adminSessionBody, replies: { 200: json('The session token (12 h)', wire.adminSessionResponse) } },
	{ method: 'post', path: '/api/host-invites/redeem', tag: 'hosting', auth: 'none', summary: 'Become a host with an invite code; keep the credential', body: server.redeemInviteBody, replies: { 200: json('The host credential', wire.redeemResponse) } },
	{ method: 'get', path: '/api/host/me', tag: 'hosting', auth: 'hostUnlessOpen', summary: 'The host a credential names, while it is not revoked; without one, whether creating needs one (401 host_required, or openHosting)', replies: { 200: json('The host', wire.hostMeResponse) } },
	{ method: 'get', path: '/api/openapi.json', tag: 'hosting', auth: 'none', summary: 'This document', replies: { 200: json('OpenAPI 3.1', z.looseObject({ openapi: z.literal('3.1.0') })) } },
	// The operator's server API.
	{ method: 'post', path: '/api/server/spaces', tag: 'server', auth: 'operator', summary: 'Create a space for a host named by sub (its owner is op:<sub>)', body: server.createSpaceBody, replies: { 201: json('The space and the host\'s token', wire.serverSpaceResponse) } },
	{ method: 'get', path: '/api/server/spaces', tag: 'server', auth: 'operator', summary: 'List spaces, newest first', query: server.listSpacesQuery, replies: { 200: json('A page of spaces', wire.serverSpacesResponse) } },
	{ method: 'get', path: '/api/server/spaces/:id', tag: 'server', auth: 'operator', summary: 'A space with its participant and listener counts', replies: { 200: json('The space', wire.serverSpaceDetailResponse) } },
	{ method: 'post', path: '/api/server/spaces/:id/end', tag: 'server', auth: 'operator', summary: 'End a space', replies: { 200: json('The ended space', wire.spaceResponse) } },
	{ method: 'post', path: '/api/server/spaces/:id/tokens', tag: 'server', auth: 'operator', summary: 'A participant token for identity op:<sub> in a role (stage roles within the caps; host only for the owner)', body: server.issueTokenBody, replies: { 200: json('The participant and their token', wire.serverTokenResponse) } },
	{ method: 'get', path: '/api/server/spaces/:id/participants', tag: 'server', auth: 'operator', summary: 'A page of a space\'s participants, with identities', query: server.listParticipantsQuery, replies: { 200: json('A page of participants', wire.serverParticipantsResponse) } },
	{ method: 'post', path: '/api/server/spaces/:id/bans', tag: 'server', auth: 'operator', summary: 'Ban an identity from a space (and, with address, the address of its latest join; the reply says whether there was one)', body: server.banBody, replies: { 200: json('Banned', wire.bannedResponse) } },
	{ method: 'delete', path: '/api/server/spaces/:id/bans/:participantId', tag: 'server', auth: 'operator', summary: 'Lift a ban', replies: { 200: json('Not banned', wire.bannedResponse) } },
	{ method: 'post', path: '/api/server/host-invites', tag: 'server', auth: 'operator', summary: 'Mint a host invite link (the code is shown once)', body: server.createInviteBody, replies: { 201: json('The invite and its link', wire.newInviteResponse) } },
	{ method: 'get', path: '/api/server/host-invites', tag: 'server', auth: 'operator', summary: 'Unexpired host invites', query: server.pageQuery, replies: { 200: json('A page of invites', wire.invitesResponse) } },
	{ method: 'delete', path: '/api/server/host-invites/:id', tag: 'server', auth: 'operator', summary: 'Revoke a host invite', replies: { 200: json('Revoked', wire.revokedResponse) } },
	{ method: 'get', path: '/api/server/hosts', tag: 'server', auth: 'operator', summary: 'Host identities', query: server.pageQuery, replies: { 200: json('A page of hosts', wire.hostsResponse) } },
	{ method: 'delete', path: '/api/server/hosts/:hostId', tag: 'server', auth: 'operator', summary: 'Revoke a host identity: its credential and its participant tokens are refused from now on, and its connections to the spaces it holds close; with endSpaces=true those spaces (live and not yet started) end too', query: server.revokeHostQuery, replies: { 200: json('Revoked, with the spaces it held', wire.revokedHostResponse) } },
	{ method: 'post', path: '/api/server/sessions/revoke', tag: 'server', auth: 'operator', summary: 'Sign every admin session out (the admin key keeps working)', replies: { 200: json('Signed out', wire.revokedResponse) } },
];

const securitySchemes = {
	operator: { type: 'http', scheme: 'bearer', description: 'TRIBUNE_ADMIN_KEY, or an admin session token from POST /api/admin/sessions' },
	participant: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A participant token of this space' },
	host: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A host credential from POST /api/host-invites/redeem' },
	captioner: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A captioner token of this space' },
} as const;

const securityOf: Record<Auth, object[] | undefined> = {
	none: [],
	operator: [{ operator: [] }],
	adminKeyOrCode: [{}, { operator: [] }],
	participant: [{ participant: [] }],
	// Open hosting (TRIBUNE_OPEN_HOSTING=true) takes a creation without it; /api/host/me then says so.
	hostUnlessOpen: [{ host: [] }, {}],
	captioner: [{ captioner: [] }],
};

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without the `$schema` line. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
	const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'throw' });
	return rest;
}

/** `/api/spaces/:id/join` → `/api/spaces/{id}/join`. */
export function openApiPath(expressPath: string): string {
	return expressPath.replace(/:([A-Za-z]+)/g, '{$1}');
}

function operationObject(op: ApiOperation): Record<string, unknown> {
	const parameters: object[] = [...op.path.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => {
		const schema = pathParams[name!];
		if (!schema) throw new Error(`openApiDocument: no schema for path parameter ${name}`);
		return { name, in: 'path', required: true, schema: jsonSchema(schema, 'input') };
	});
	if (op.query) {
		for (const [name, field] of Object.entries(op.query.shape)) {
			const schema = jsonSchema(field as z.ZodType, 'input');
			parameters.push({ name, in: 'query', required: false, schema });
		}
	}
	const responses: Record<string, unknown> = {};
	for (const [status, reply] of Object.entries(op.replies)) {
		responses[status] = {
			description: reply.description,
			content: reply.schema ? { 'application/json': { schema: jsonSchema(reply.schema, 'output') } } : Object.fromEntries((reply.content ?? []).map((type) => [type, {}])),
		};
	}
	responses.default = { description: 'An error from the catalogue (api/src/errors.ts)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
	return {
		operationId: `${op.method}${openApiPath(op.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
		summary: op.summary,
		tags: [op.tag],
		security: securityOf[op.auth],
		...(parameters.length > 0 && { parameters }),
		...(op.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } }),
		responses,
	};
}

/** The OpenAPI 3.1 document of /api, served at GET /api/openapi.json. */
export function openApiDocument(): Record<string, unknown> {
	const paths: Record<string, Record<string, unknown>> = {};
	for (const op of apiOperations) (paths[openApiPath(op.path)] ??= {})[op.method] = operationObject(op);
	return {
		openapi: '3.1.0',
		info: {
			title: 'Tribune API',
			version: '1',
			description:
				'Spaces (a WebRTC stage, broadcast over LL-HLS), their captions and replays, hosting, and the operator\'s server API. ' +
				'Moderation on the stage (hands, roles, mutes, removals) is WebSocket signaling at /ws, not described here.',
		},
		tags: [
			{ name: 'spaces', description: 'Create, join and run a space (participant tokens)' },
			{ name: 'captions', description: 'Caption modes, captioner tokens and pushes, transcripts' },
			{ name: 'replays', description: 'MP4 exports of recorded spaces' },
			{ name: 'hosting', description: 'Admin sign-in, host invites and host credentials' },
			{ name: 'server', description: 'The operator\'s server API (admin key or admin session)' },
		],
		paths,
		components: { schemas: { Error: jsonSchema(wire.errorBodySchema, 'output') }, securitySchemes },
	};
}
