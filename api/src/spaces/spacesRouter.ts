import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { parseInput } from '../validation/parseInput.js';
import { plainLine } from '../validation/plainLine.js';
import { spaceInfo, participantInfo } from '../signaling/toWire.js';
import { asParticipantId, asSpaceId, captionModes, type CaptionMode } from './Space.js';
import type { SyntheticSpeakers } from '../stage/SyntheticSpeakers.js';
import { syntheticConversationBody, syntheticVoiceSchema } from '../stage/syntheticSpeakerRequests.js';
import { vocabularyListSchema } from './spaceVocabulary.js';
import type { Authenticated, SpaceService } from './SpaceService.js';
import { bearerToken } from '../http/bearerToken.js';

export interface SpacesRouterDeps {
	service: SpaceService;
	/** Enables POST /:id/synthetic-speakers (SYNTHETIC_SPEAKERS=true). */
	synthetic?: SyntheticSpeakers;
}

/** A display name or title: trimmed, no control characters or bidi overrides, within limits. */
const text = plainLine;

const createBody = z.strictObject({
	title: text(120).min(1),
	description: text(2000).default(''),
	hostName: text(50).min(1),
	settings: z
		.strictObject({
			captionMode: z.enum(captionModes as [CaptionMode, ...CaptionMode[]]).optional(),
			recording: z.boolean().optional(),
			video: z.boolean().optional(),
			maxSpeakers: z.number().int().min(1).optional(),
		})
		.default({}),
	/** With open hosting: the creator's anonymous identity credential (absent or invalid: a new identity). */
	identity: z.string().max(4096).optional(),
	/** Words and names the caption recognisers are to expect (≤ 100 entries of ≤ 40 characters). */
	vocabulary: vocabularyListSchema.optional(),
});

const joinBody = z.strictObject({
	displayName: text(50).min(1),
	/** A token from an earlier visit: rejoin as the same participant. */
	token: z.string().max(4096).optional(),
	/** An anonymous identity credential (from an earlier join) or a host credential: join as that identity. */
	identity: z.string().max(4096).optional(),
});

const syntheticBody = z.strictObject({
	displayName: text(50).min(1),
	text: text(1000).min(1),
	/** A flite voice (default: one not yet used in the space) or espeak-ng. */
	voice: syntheticVoiceSchema.optional(),
	video: z.boolean().default(false),
	/** With `video: true`, a camera of this one colour instead of the test pattern (tests find it in the composite). */
	colour: z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'expected a colour #rrggbb').optional(),
});

const spaceIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

const revokeBody = z.strictObject({ participantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a participant id') });

/**
 * REST for spaces, under /api/spaces:
 *   POST /                 create a space (a host credential as `Authorization: Bearer …`, or anyone with open
 *                          hosting) → { space, participant, token } (the host's), and with open hosting
 *                          `identity`: the creator's anonymous identity credential; `vocabulary?: string[]`:
 *                          words and names for the caption recognisers (≤ 100 entries of ≤ 40 characters)
 *   GET  /:id              the space's public description
 *   POST /:id/join         join from the share link { displayName, token?, identity? } → { space, participant, token }
 *                          (a listener's), and `identity` for an anonymous joiner (a fresh identity credential)
 *   POST /:id/start        go live (host token as `Authorization: Bearer …`)
 *   POST /:id/end          end the space (host token)
 *   POST /:id/synthetic-speakers  put a synthetic (flite) speaker on stage (host or co-host token; only with
 *                          SYNTHETIC_SPEAKERS=true): { displayName, text, voice?, video?, colour?: '#rrggbb' } → { participant }
 *   POST /:id/synthetic-conversation  synthetic speakers taking turns in a scripted, looped conversation
 *                          (host or co-host; SYNTHETIC_SPEAKERS=true): { speakers: [{displayName, voice?}] (1-6),
 *                          lines: [{speaker: index, text}] (1-24), pauseMs? } → { participants }
 *   POST /:id/tokens/rotate  {} → { token } (any participant's token): a new token in the same session; every older
 *                          one of the caller's stops working, and their WebSockets holding one close (4013)
 *   POST /:id/tokens/revoke  { participantId } → { revoked: true } (host or co-host token, someone of lower rank):
 *                          every token of theirs stops working, their WebSockets close (4013), and they are removed
 *                          from the space (not banned: the share link lets them in again, as the same identity
 *                          if their browser kept its identity credential)
 * Everything else (the stage, hands, moderation) is WebSocket signaling.
 */
export function spacesRouter({ service, synthetic }: SpacesRouterDeps): Router {
	const router = express.Router();
	router.use(express.json({ limit: '16kb' }));

	const authenticated = async (req: Request): Promise<Authenticated> => {
		const header = req.get('authorization') ?? '';
		const token = bearerToken(header);
		if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <token>');
		const auth = await service.authenticate(token);
		if (auth.actor.spaceId !== parseInput(spaceIdParam, req.params.id)) throw new TribuneError('forbidden', 'token is for another space');
		return auth;
	};
	const actorOf = async (req: Request) => (await authenticated(req)).actor;

	router.post('/', async (req, res) => {
		const header = req.get('authorization');
		const bearer = header === undefined ? undefined : /^Bearer +(\S{1,4096})$/i.exec(header)?.[1];
		if (header !== undefined && bearer === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <host credential>');
		const body = parseInput(createBody, req.body);
		const creator = await service.creatorFor({ ...(bearer !== undefined && { hostCredential: bearer }), ...(body.identity !== undefined && { identity: body.identity }) });
		const { space, host, token } = await service.createSpace({
			title: body.title,
			description: body.description,
			hostName: body.hostName,
			settings: body.settings,
			owner: creator.identity,
			...(req.ip !== undefined && { address: req.ip }),
			...(body.vocabulary !== undefined && { vocabulary: body.vocabulary }),
		});
		res
			.status(201)
			.set('Cache-Control', 'no-store')
			.json({ space: spaceInfo(space), participant: participantInfo(host), token, ...(creator.credential !== undefined && { identity: creator.credential }) });
	});

	router.get('/:id', async (req, res) => {
		const space = await service.getSpace(asSpaceId(parseInput(spaceIdParam, req.params.id)));
		res.set('Cache-Control', 'no-store').json({ space: spaceInfo(space) });
	});

	router.post('/:id/join', async (req, res) => {
		const spaceId = asSpaceId(parseInput(spaceIdParam, req.params.id));
		const body = parseInput(joinBody, req.body);
		// Refusals that waiting helps (this node or the space is full) carry Retry-After (createApp's error handler).
		const { participant, token, identity } = await service.join(spaceId, {
			displayName: body.displayName,
			token: body.token,
			identity: body.identity,
			...(req.ip !== undefined && { address: req.ip }),
		});
		res
			.set('Cache-Control', 'no-store')
			.json({ space: spaceInfo(await service.getSpace(spaceId)), participant: participantInfo(participant), token, ...(identity !== undefined && { identity }) });
	});

	router.post('/:id/start', async (req, res) => {
		res.json({ space: spaceInfo(await service.start(await actorOf(req))) });
	});

	router.post('/:id/end', async (req, res) => {
		res.json({ space: spaceInfo(await service.end(await actorOf(req))) });
	});

	router.post('/:id/tokens/rotate', async (req, res) => {
		const { actor, claims } = await authenticated(req);
		parseInput(z.strictObject({}), req.body ?? {});
		const { token } = await service.rotateToken(actor, claims);
		res.set('Cache-Control', 'no-store').json({ token });
	});

	router.post('/:id/tokens/revoke', async (req, res) => {
		const actor = await actorOf(req);
		const { participantId } = parseInput(revokeBody, req.body ?? {});
		await service.revokeTokens(actor, asParticipantId(participantId));
		res.set('Cache-Control', 'no-store').json({ revoked: true });
	});

	router.post('/:id/synthetic-speakers', async (req, res) => {
		if (!synthetic) throw new TribuneError('not_found', 'synthetic speakers are off (SYNTHETIC_SPEAKERS=true turns them on)');
		const actor = await actorOf(req);
		const participant = await synthetic.add(actor, parseInput(syntheticBody, req.body));
		res.status(201).json({ participant: participantInfo(participant) });
	});

	router.post('/:id/synthetic-conversation', async (req, res) => {
		if (!synthetic) throw new TribuneError('not_found', 'synthetic speakers are off (SYNTHETIC_SPEAKERS=true turns them on)');
		const actor = await actorOf(req);
		const participants = await synthetic.addConversation(actor, parseInput(syntheticConversationBody, req.body));
		res.status(201).json({ participants: participants.map(participantInfo) });
	});

	return router;
}
