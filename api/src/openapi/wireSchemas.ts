import { broadcastProgressSchema } from '@tribune/transcoder';
import { z } from 'zod';
import { captionerTokenTtl } from '../captions/CaptionerTokens.js';
import { errorCatalogue, type ErrorCode } from '../errors.js';
import { captionModes, roles, type CaptionMode, type Role } from '../spaces/Space.js';
import { plainLine } from '../validation/plainLine.js';
import { vocabularyEntrySchema, vocabularyListLimits } from '../spaces/spaceVocabulary.js';

/**
 * What the public space routes take and every route answers, as zod schemas the OpenAPI document is generated from.
 * The operator's routes' bodies are the routers' own (`server/serverSchemas.ts`); the test
 * (`api/test/openapi.test.ts`) holds these to what the routes really take and answer.
 */

const wireRole = z.enum(roles as [Role, ...Role[]]);
const wireCaptionMode = z.enum(captionModes as [CaptionMode, ...CaptionMode[]]);
const epochMs = z.number().int();
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const errorBodySchema = z.strictObject({
	error: z.strictObject({ code: z.enum(Object.keys(errorCatalogue) as [ErrorCode, ...ErrorCode[]]), message: z.string() }),
});

export const spaceInfoSchema = z.strictObject({
	id,
	title: z.string(),
	description: z.string(),
	state: z.enum(['created', 'live', 'ended']),
	hostId: id,
	settings: z.strictObject({ captionMode: wireCaptionMode, recording: z.boolean(), video: z.boolean(), maxSpeakers: z.number().int() }),
	createdAt: epochMs,
	startedAt: epochMs.nullable(),
	endedAt: epochMs.nullable(),
});

export const participantInfoSchema = z.strictObject({
	id,
	displayName: z.string(),
	role: wireRole,
	mute: z.enum(['none', 'self', 'moderator']),
});

/** A participant as the operator sees them: with their identity. */
export const operatorParticipantSchema = participantInfoSchema.extend({ identity: z.string() });

/** A participant token (JWT): `Authorization: Bearer` on space routes, `tribune.token.<token>` on the WebSocket. */
export const tokenSchema = z.string().min(1);

const settingsInput = z.strictObject({
	captionMode: wireCaptionMode.optional(),
	recording: z.boolean().optional(),
	video: z.boolean().optional(),
	maxSpeakers: z.number().int().min(1).optional(),
});

/** A credential the browser keeps: an anonymous identity credential, or a host credential. */
const identityCredential = z.string().max(4096);

export const createSpaceRequest = z.strictObject({
	title: plainLine(120).min(1),
	description: plainLine(2000).optional(),
	hostName: plainLine(50).min(1),
	settings: settingsInput.optional(),
	/** With open hosting: the creator's anonymous identity credential (a new one otherwise). */
	identity: identityCredential.optional(),
	/** Words and names the caption recognisers are to expect (≤ 100 entries of ≤ 40 characters). */
	vocabulary: z.array(vocabularyEntrySchema).max(vocabularyListLimits.maxEntries).optional(),
});

export const spaceWithTokenResponse = z.strictObject({
	space: spaceInfoSchema,
	participant: participantInfoSchema,
	token: tokenSchema,
	/** A fresh anonymous identity credential for the browser to keep (not when it came with a host credential). */
	identity: identityCredential.optional(),
});

export const joinRequest = z.strictObject({
	displayName: plainLine(50).min(1),
	/** A token from an earlier visit: rejoin in the same session. */
	token: z.string().max(4096).optional(),
	/** The browser's anonymous identity credential, or a host credential. */
	identity: identityCredential.optional(),
});

export const spaceResponse = z.strictObject({ space: spaceInfoSchema });
export const emptyRequest = z.strictObject({});
export const tokenResponse = z.strictObject({ token: tokenSchema });
export const revokedResponse = z.strictObject({ revoked: z.literal(true) });
export const revokeRequest = z.strictObject({ participantId: id });

const syntheticVoice = z.enum(['slt', 'rms', 'awb', 'kal16', 'kal', 'espeak-ng']);
export const syntheticSpeakerRequest = z.strictObject({
	displayName: plainLine(50).min(1),
	text: plainLine(1000).min(1),
	voice: syntheticVoice.optional(),
	video: z.boolean().optional(),
	colour: z.string().regex(/^#[0-9A-Fa-f]{6}$/).optional(),
});
export const participantResponse = z.strictObject({ participant: participantInfoSchema });
export const syntheticConversationRequest = z.strictObject({
	speakers: z.array(z.strictObject({ displayName: plainLine(50).min(1), voice: syntheticVoice.optional() })).min(1).max(6),
	lines: z.array(z.strictObject({ speaker: z.number().int().min(0).max(5), text: plainLine(1000).min(1) })).min(1).max(24),
	pauseMs: z.number().int().min(300).max(5000).optional(),
});
export const participantsResponse = z.strictObject({ participants: z.array(participantInfoSchema) });

/** The host's caption vocabulary: entries in order, repeats (ignoring case) dropped. */
export const vocabularyRequest = z.strictObject({ words: z.array(vocabularyEntrySchema).max(vocabularyListLimits.maxEntries) });
export const vocabularyResponse = z.strictObject({ words: z.array(z.string()) });

export const captionModeRequest = z.strictObject({ captionMode: wireCaptionMode });
export const captionerTokenRequest = z.strictObject({
	name: plainLine(50).min(1).optional(),
	ttlS: z.number().int().min(captionerTokenTtl.minS).max(captionerTokenTtl.maxS).optional(),
});
export const captionerTokenResponse = z.strictObject({ token: tokenSchema, expiresAt: z.number().int(), captionsUrl: z.string(), socketUrl: z.string() });
export const captionPushRequest = z.strictObject({
	text: plainLine(500).min(1),
	speakerName: plainLine(200).min(1).optional(),
	final: z.boolean().optional(),
});
export const captionCueResponse = z.strictObject({
	cue: z.strictObject({
		id: z.string(),
		speakerId: z.string().optional(),
		speakerName: z.string(),
		text: z.string(),
		final: z.boolean(),
		startMs: z.number(),
		endMs: z.number(),
		source: z.enum(['asr', 'captioner']),
	}),
});

export const exportStatusResponse = z.strictObject({
	state: z.enum(['queued', 'waiting', 'running', 'ready', 'failed', 'none']),
	percent: z.number().min(0).max(100),
	bytes: z.number().int().optional(),
	url: z.string().optional(),
	error: z.string().optional(),
});

export const broadcastStateResponse = z.strictObject({
	state: z.enum(['waiting', 'active', 'delayed', 'none']),
	/** While waiting for a transcoder: its place, 1 = next. */
	position: z.number().int().min(1).optional(),
	progress: broadcastProgressSchema.optional(),
});

// The operator's and hosting routes' answers.

export const adminSessionResponse = z.strictObject({ token: tokenSchema, expiresAt: z.number().int() });

export const hostInviteSchema = z.strictObject({
	id: z.string(),
	label: z.string(),
	maxUses: z.number().int(),
	uses: z.number().int(),
	createdAt: epochMs,
	expiresAt: epochMs,
});
export const newInviteResponse = z.strictObject({ invite: hostInviteSchema, url: z.string().regex(/^\/host-invite#code=[A-Za-z0-9_-]{43}$/) });
export const invitesResponse = z.strictObject({ invites: z.array(hostInviteSchema), nextCursor: z.string().nullable() });

/** `label`: the invite's, the operator's; `name`: what the host called themselves when redeeming it, if anything. */
export const hostRecordSchema = z.strictObject({ id: z.string(), label: z.string(), name: z.string().optional(), inviteId: z.string(), createdAt: epochMs, expiresAt: epochMs });
export const hostsResponse = z.strictObject({ hosts: z.array(hostRecordSchema), nextCursor: z.string().nullable() });
/** `spaceIds`: the spaces the host held that had not ended (its tokens there were revoked); `ended`: they were ended too. */
export const revokedHostResponse = z.strictObject({ revoked: z.literal(true), spaceIds: z.array(z.string()), ended: z.boolean() });
const publicHost = z.strictObject({ id: z.string(), label: z.string(), name: z.string().optional(), expiresAt: epochMs });
export const redeemResponse = z.strictObject({ credential: z.string().min(1), host: publicHost });
/** With a host credential: its host. Without one, on a server with open hosting: that no credential is needed. */
export const hostMeResponse = z.union([z.strictObject({ host: publicHost }), z.strictObject({ host: z.null(), openHosting: z.literal(true) })]);

export const serverSpaceResponse = z.strictObject({ space: spaceInfoSchema, participant: operatorParticipantSchema, token: tokenSchema });
export const serverSpacesResponse = z.strictObject({ spaces: z.array(spaceInfoSchema), nextCursor: z.string().nullable() });
export const serverSpaceDetailResponse = z.strictObject({ space: spaceInfoSchema, participants: z.number().int().min(0), listeners: z.number().int().min(0) });
export const serverTokenResponse = z.strictObject({ participant: operatorParticipantSchema, token: tokenSchema });
export const serverParticipantsResponse = z.strictObject({ participants: z.array(operatorParticipantSchema), nextCursor: z.string().nullable() });
export const bannedResponse = z.strictObject({
	banned: z.boolean(),
	/** With `address: true` asked: whether an address was banned too (false: the identity's record has none, as a record the server API made, or it has no record in the space). */
	address: z.boolean().optional(),
});
