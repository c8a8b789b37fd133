import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AdminSessions } from '../auth/AdminSessions.js';
import type { HostIdentities } from '../auth/HostIdentities.js';
import type { HostInvites } from '../auth/HostInvites.js';
import { TribuneError } from '../errors.js';
import type { FailedAuthThrottle } from './FailedAuthThrottle.js';
import { participantInfo, spaceInfo } from '../signaling/toWire.js';
import { asParticipantId, asSpaceId, type Participant, type ParticipantId, type Role, type Space, type SpaceId, type SpaceSettings, type SpaceState } from '../spaces/Space.js';
import { parseInput } from '../validation/parseInput.js';
import {
	banBody,
	createInviteBody,
	createSpaceBody,
	hostIdParam,
	inviteIdParam,
	issueTokenBody,
	listParticipantsQuery,
	listSpacesQuery,
	pageQuery,
	participantIdParam,
	revokeHostQuery,
	spaceIdParam,
} from './serverSchemas.js';

/** One page of a listing; `nextCursor` is null on the last page. */
export interface ListPage<T> {
	items: T[];
	nextCursor: string | null;
}

/** What the server API asks of the spaces (`SpaceService`): the operator acts without being a participant. */
export interface OperatorSpaces {
	createSpace(input: { title: string; description: string; hostName: string; settings: Partial<SpaceSettings>; owner: string }): Promise<{ space: Space; host: Participant; token: string }>;
	getSpace(spaceId: SpaceId): Promise<Space>;
	issueFor(spaceId: SpaceId, request: { identity: string; displayName: string; role: Role }): Promise<{ participant: Participant; token: string }>;
	/** `address`: whether an address was banned too (asked, and their record had one). */
	ban(spaceId: SpaceId, participantId: ParticipantId, options: { address: boolean }): Promise<{ address: boolean }>;
	unban(spaceId: SpaceId, participantId: ParticipantId): Promise<unknown>;
	listSpaces(options: { state?: SpaceState; limit: number; cursor?: string }): Promise<ListPage<Space>>;
	listParticipants(spaceId: SpaceId, options: { limit: number; cursor?: string }): Promise<ListPage<Participant>>;
	endSpace(spaceId: SpaceId): Promise<Space>;
	/** Revokes every token of a participant (their connections close on every node), without an actor. */
	revokeTokensOf(spaceId: SpaceId, participantId: ParticipantId): Promise<void>;
	/** The id an identity has as a participant of a space (a keyed hash: `participantIdFor`). */
	participantIdOf(spaceId: SpaceId, identity: string): ParticipantId;
	/** Anyone may create spaces (TRIBUNE_OPEN_HOSTING); `GET /api/host/me` without a credential says so to the player. */
	readonly openHosting?: boolean;
}

export interface OperatorRouterDeps {
	spaces: OperatorSpaces;
	sessions: AdminSessions;
	invites: HostInvites;
	hosts: HostIdentities;
	/** Failed operator authentication, per client address. */
	authThrottle: FailedAuthThrottle;
	/** Participant records of a space (everyone who joined and was not removed). */
	participantCount(spaceId: SpaceId): Promise<number>;
	/** Listeners connected to a space, over every API node. */
	listenerCount(spaceId: SpaceId): Promise<number>;
}

/** A participant as the operator sees them: with their identity. */
export function operatorParticipant(p: Participant): ReturnType<typeof participantInfo> & { identity: string } {
	return { ...participantInfo(p), identity: p.identity };
}

const spaceIdOf = (req: Request): SpaceId => asSpaceId(parseInput(spaceIdParam, req.params.id));

/**
 * Runs `authenticate` for an operator route behind the failed-auth throttle: a locked-out address is refused before
 * anything is checked, and an `unauthorized` refusal counts against its address (and says how to authenticate).
 */
export async function throttledOperatorAuth(deps: Pick<OperatorRouterDeps, 'authThrottle'>, req: Request, res: Response, authenticate: () => Promise<unknown>): Promise<void> {
	await deps.authThrottle.check(req.ip);
	try {
		await authenticate();
	} catch (error) {
		if (error instanceof TribuneError && error.code === 'unauthorized') {
			res.set('WWW-Authenticate', 'Bearer realm="tribune-operator"');
			await deps.authThrottle.failed(req.ip, `${req.method} ${req.baseUrl}${req.path}`);
		}
		throw error;
	}
}

/** The spaces an owner identity holds that have not ended: every page of the spaces index, newest first. */
async function openSpacesOf(spaces: OperatorSpaces, owner: string): Promise<Space[]> {
	const found: Space[] = [];
	let cursor: string | undefined;
	do {
		const page = await spaces.listSpaces({ limit: 100, ...(cursor !== undefined && { cursor }) });
		found.push(...page.items.filter((space) => space.owner === owner && space.state !== 'ended'));
		cursor = page.nextCursor ?? undefined;
	} while (cursor !== undefined);
	return found;
}

/**
 * The operator's server API, under /api/server (README "Running Tribune in public"), for integrators and the admin
 * page. Every route needs `Authorization: Bearer <admin key>` or `Bearer <admin session token>`, and every answer is
 * `Cache-Control: no-store`:
 *   POST   /spaces                          { title, description?, settings?, host: { sub, displayName } } → 201
 *                                           { space, participant, token } (the host's; the space's owner is op:<sub>)
 *   GET    /spaces?state=&limit=&cursor=    → { spaces, nextCursor }
 *   GET    /spaces/:id                      → { space, participants, listeners } (counts)
 *   POST   /spaces/:id/end                  → { space }
 *   POST   /spaces/:id/tokens               { sub, displayName, role } → { participant, token } (identity op:<sub>;
 *                                           `host` only for the space's owner)
 *   GET    /spaces/:id/participants?limit=&cursor=  → { participants (with identity), nextCursor }
 *   POST   /spaces/:id/bans                 { identity } | { sub }, address? → { banned: true }
 *   DELETE /spaces/:id/bans/:participantId  → { banned: false }
 *   POST   /host-invites                    { label?, expiresInS?, maxUses? } → 201 { invite, url }
 *   GET    /host-invites?limit=&cursor=     → { invites, nextCursor }
 *   DELETE /host-invites/:id                → { revoked: true }
 *   GET    /hosts?limit=&cursor=            → { hosts, nextCursor }
 *   DELETE /hosts/:hostId?endSpaces=        → { revoked: true, spaceIds, ended }: its credential and its participant
 *                                           tokens are refused from then on (their connections close) in the spaces
 *                                           it holds (`spaceIds`); with `endSpaces=true` those spaces end too
 *   POST   /sessions/revoke                 → { revoked: true }: every admin session is signed out (the key stays)
 */
export function operatorRouter(deps: OperatorRouterDeps): Router {
	const { spaces, sessions, invites, hosts } = deps;
	const router = express.Router();
	router.use((req: Request, res: Response, next: NextFunction) => {
		res.set('Cache-Control', 'no-store');
		throttledOperatorAuth(deps, req, res, () => sessions.authorize(req.get('authorization'))).then(() => next(), next);
	});
	router.use(express.json({ limit: '16kb' }));

	router.post('/spaces', async (req, res) => {
		const body = parseInput(createSpaceBody, req.body);
		const { space, host, token } = await spaces.createSpace({
			title: body.title,
			description: body.description,
			hostName: body.host.displayName,
			settings: body.settings,
			owner: `op:${body.host.sub}`,
		});
		res.status(201).json({ space: spaceInfo(space), participant: operatorParticipant(host), token });
	});

	router.get('/spaces', async (req, res) => {
		const query = parseInput(listSpacesQuery, req.query);
		const page = await spaces.listSpaces(query);
		res.json({ spaces: page.items.map(spaceInfo), nextCursor: page.nextCursor });
	});

	router.get('/spaces/:id', async (req, res) => {
		const spaceId = spaceIdOf(req);
		const space = await spaces.getSpace(spaceId);
		const [participants, listeners] = await Promise.all([deps.participantCount(spaceId), deps.listenerCount(spaceId)]);
		res.json({ space: spaceInfo(space), participants, listeners });
	});

	router.post('/spaces/:id/end', async (req, res) => {
		res.json({ space: spaceInfo(await spaces.endSpace(spaceIdOf(req))) });
	});

	router.post('/spaces/:id/tokens', async (req, res) => {
		const spaceId = spaceIdOf(req);
		const body = parseInput(issueTokenBody, req.body);
		const identity = `op:${body.sub}`;
		if (body.role === 'host' && (await spaces.getSpace(spaceId)).owner !== identity) {
			throw new TribuneError('forbidden', "only the space's host (the sub it was created for) gets a host token");
		}
		const { participant, token } = await spaces.issueFor(spaceId, { identity, displayName: body.displayName, role: body.role });
		res.json({ participant: operatorParticipant(participant), token });
	});

	router.get('/spaces/:id/participants', async (req, res) => {
		const spaceId = spaceIdOf(req);
		const query = parseInput(listParticipantsQuery, req.query);
		const page = await spaces.listParticipants(spaceId, query);
		res.json({ participants: page.items.map(operatorParticipant), nextCursor: page.nextCursor });
	});

	router.post('/spaces/:id/bans', async (req, res) => {
		const spaceId = spaceIdOf(req);
		const body = parseInput(banBody, req.body);
		const identity = 'identity' in body ? body.identity : `op:${body.sub}`;
		const banned = await spaces.ban(spaceId, spaces.participantIdOf(spaceId, identity), { address: body.address });
		// Asked to ban the address too: say whether there was one (a record the server API made has none).
		res.json({ banned: true, ...(body.address && { address: banned.address }) });
	});

	router.delete('/spaces/:id/bans/:participantId', async (req, res) => {
		const spaceId = spaceIdOf(req);
		await spaces.unban(spaceId, asParticipantId(parseInput(participantIdParam, req.params.participantId)));
		res.json({ banned: false });
	});

	router.post('/host-invites', async (req, res) => {
		const body = parseInput(createInviteBody, req.body ?? {});
		const { invite, code } = await invites.create(body);
		// A fragment: browsers never send it, so the code stays out of every access log on the way.
		res.status(201).json({ invite, url: `/host-invite#code=${code}` });
	});

	router.get('/host-invites', async (req, res) => {
		const query = parseInput(pageQuery, req.query);
		res.json(await invites.list(query.limit, Number(query.cursor ?? 0)));
	});

	router.delete('/host-invites/:id', async (req, res) => {
		if (!(await invites.revoke(parseInput(inviteIdParam, req.params.id)))) throw new TribuneError('not_found', 'no such host invite (it may have expired)');
		res.json({ revoked: true });
	});

	router.get('/hosts', async (req, res) => {
		const query = parseInput(pageQuery, req.query);
		res.json(await hosts.list(query.limit, Number(query.cursor ?? 0)));
	});

	router.delete('/hosts/:hostId', async (req, res) => {
		const hostId = parseInput(hostIdParam, req.params.hostId);
		const { endSpaces } = parseInput(revokeHostQuery, req.query);
		// The record first: from here its credential, and every participant token naming it, is refused on every node.
		if (!(await hosts.revoke(hostId))) throw new TribuneError('not_found', 'no such host (it may have expired)');
		const identity = `host:${hostId}`;
		const held = await openSpacesOf(spaces, identity);
		for (const space of held) {
			await spaces.revokeTokensOf(space.id, spaces.participantIdOf(space.id, identity));
			if (endSpaces) {
				await spaces.endSpace(space.id).catch((error: unknown) => {
					// Ended meanwhile (by its lifecycle or another operator call): what was asked for.
					if (!(error instanceof TribuneError && error.code === 'space_ended')) throw error;
				});
			}
		}
		res.json({ revoked: true, spaceIds: held.map((space) => space.id), ended: endSpaces });
	});

	router.post('/sessions/revoke', async (_req, res) => {
		await sessions.revokeAll();
		res.json({ revoked: true });
	});

	return router;
}
