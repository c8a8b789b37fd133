import { z } from 'zod';
import { inviteCodeSchema, inviteIdSchema, inviteLimits } from '../auth/HostInvites.js';
import { hostIdSchema } from '../auth/HostIdentities.js';
import { signInCodeSchema } from '../auth/AdminSessions.js';
import { plainLine } from '../validation/plainLine.js';
import { captionModes, identityPattern, roles, type CaptionMode, type Role } from '../spaces/Space.js';

/**
 * What the operator's server API and the hosting routes take, parsed at the edge; the OpenAPI document
 * (`openapi/openApiDocument.ts`) is generated from these same schemas.
 */

/** An operator-given subject: who someone is in the integrator's own system (identity `op:<sub>`). */
export const subSchema = z.string().regex(/^[A-Za-z0-9._@:+-]{1,96}$/, 'expected 1-96 characters of A-Z a-z 0-9 . _ @ : + -');

export const identitySchema = z.string().regex(identityPattern, 'expected an identity: op:<sub>, host:<id>, anon:<id> or synthetic:<id>');

export const spaceIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a space id');

export const participantIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a participant id');

const displayName = plainLine(50).min(1);

export const spaceSettingsBody = z.strictObject({
	captionMode: z.enum(captionModes as [CaptionMode, ...CaptionMode[]]).optional(),
	recording: z.boolean().optional(),
	video: z.boolean().optional(),
	maxSpeakers: z.number().int().min(1).optional(),
});

export const createSpaceBody = z.strictObject({
	title: plainLine(120).min(1),
	description: plainLine(2000).default(''),
	settings: spaceSettingsBody.default({}),
	/** The host: the space's owner is `op:<sub>`, and the reply carries their participant token. */
	host: z.strictObject({ sub: subSchema, displayName }),
});

export const listSpacesQuery = z.strictObject({
	state: z.enum(['created', 'live', 'ended']).optional(),
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().min(1).max(200).optional(),
});

export const issueTokenBody = z.strictObject({
	sub: subSchema,
	displayName,
	role: z.enum(roles as [Role, ...Role[]]),
});

export const listParticipantsQuery = z.strictObject({
	limit: z.coerce.number().int().min(1).max(500).default(100),
	cursor: z.string().min(1).max(200).optional(),
});

/** A ban names an identity, or an operator-given sub (`op:<sub>`); `address` bans their latest join's address too. */
export const banBody = z.union([
	z.strictObject({ identity: identitySchema, address: z.boolean().default(false) }),
	z.strictObject({ sub: subSchema, address: z.boolean().default(false) }),
]);

export const createInviteBody = z.strictObject({
	label: plainLine(80).default(''),
	expiresInS: z.number().int().min(inviteLimits.minExpiresInS).max(inviteLimits.maxExpiresInS).default(inviteLimits.defaultExpiresInS),
	maxUses: z.number().int().min(1).max(inviteLimits.maxUses).default(1),
});

/** Pages of invites and hosts: `cursor` is the `nextCursor` of the page before. */
export const pageQuery = z.strictObject({
	limit: z.coerce.number().int().min(1).max(500).default(100),
	cursor: z.string().regex(/^\d{1,6}$/, 'expected a cursor from nextCursor').optional(),
});

export const inviteIdParam = inviteIdSchema;
export const hostIdParam = hostIdSchema;

export const redeemInviteBody = z.strictObject({
	code: inviteCodeSchema,
	/** The name the host gives themselves (the operator sees it beside the invite's label, which stays theirs). */
	name: plainLine(80).min(1).optional(),
});

/** `endSpaces=true`: revoking a host also ends the spaces it holds (live and not yet started). */
export const revokeHostQuery = z.strictObject({
	endSpaces: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});

/** A sign-in: the one-time code from `npm start`'s link, or nothing with the admin key as the bearer. */
export const adminSessionBody = z.strictObject({ code: signInCodeSchema.optional() });
