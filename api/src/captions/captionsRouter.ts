import fs from 'node:fs/promises';
import path from 'node:path';
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { parseInput } from '../validation/parseInput.js';
import { plainLine } from '../validation/plainLine.js';
import { spaceInfo } from '../signaling/toWire.js';
import { asSpaceId, captionModes, type CaptionMode, type SpaceId } from '../spaces/Space.js';
import type { Actor, SpaceService } from '../spaces/SpaceService.js';
import { vocabularyListSchema } from '../spaces/spaceVocabulary.js';
import type { CaptionerPushes } from './CaptionerPushes.js';
import { captionerSocketPath } from './CaptionerSocket.js';
import { captionerTokenTtl, type CaptionerTokens } from './CaptionerTokens.js';
import { transcriptFile } from './transcriptFiles.js';
import { bearerToken } from '../http/bearerToken.js';

export interface CaptionsRouterDeps {
	service: SpaceService;
	tokens: CaptionerTokens;
	/** Captioners' pushes (shared with the captioner WebSocket, so one token has one rate and one utterance). */
	pushes: CaptionerPushes;
	/** `<TRIBUNE_DATA_DIR>/hls`: each replay, with its transcripts, is in `<hlsRoot>/<spaceId>/`. */
	hlsRoot: string;
}

const spaceIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** A captioner's name: trimmed, no control characters, no bidi overrides (as for pushes). */
const name = plainLine(50);

const vocabularyBody = z.strictObject({ words: vocabularyListSchema });
const captionModeBody = z.strictObject({ captionMode: z.enum(captionModes as [CaptionMode, ...CaptionMode[]]) });
const tokenBody = z.strictObject({
	name: name.min(1).default('Captioner'),
	ttlS: z.number().int().min(captionerTokenTtl.minS).max(captionerTokenTtl.maxS).default(captionerTokenTtl.defaultS),
});

function idOf(req: Request): SpaceId {
	const parsed = spaceIdParam.safeParse(req.params.id);
	if (!parsed.success) throw new TribuneError('bad_request', 'id: not a space id');
	return asSpaceId(parsed.data);
}

function bearer(req: Request): string {
	const token = bearerToken(req.get('authorization'));
	if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <token>');
	return token;
}

/**
 * Captions over REST, under /api/spaces:
 *   POST /:id/caption-mode     { captionMode } → { space } (host or co-host token; also a signaling request)
 *   GET  /:id/vocabulary       → { words } (host or co-host token): the words the caption recognisers expect
 *   POST /:id/vocabulary       { words: string[] } → { words } (host or co-host token; ≤ 100 entries of ≤ 40
 *                              characters, repeats dropped; 10 changes a minute): with the title, the description
 *                              and the speakers' names, made likelier in recognition; a broadcast in progress
 *                              reloads its recognisers with them (captions pause a second or two per speaker)
 *   POST /:id/captioner-token  { name?, ttlS? } → { token, expiresAt, captionsUrl, socketUrl } (host or co-host
 *                              token): a token that may push captions to this space and do nothing else, here or
 *                              over the captioner WebSocket (CaptionerSocket)
 *   POST /:id/captioner-tokens/revoke  {} → { revoked: true } (host or co-host token): every captioner token of
 *                              this space issued so far stops working (its next push is refused; a WebSocket closes)
 *   POST /:id/captions         { text, speakerName?, final? } → 202 { cue } (captioner token): a line of captions,
 *                              shown live and put in the broadcast's track like recognised speech. Partials
 *                              (`final: false`) are replaced by the push that follows, until a final one.
 *   GET  /:id/transcript.vtt|.srt|.txt|.json   the transcript of an ended, recorded space (public, like its replay)
 */
export function captionsRouter(deps: CaptionsRouterDeps): Router {
	const { service, tokens, hlsRoot } = deps;
	const router = express.Router();
	const json = express.json({ limit: '4kb' });

	const moderator = async (req: Request, spaceId: SpaceId): Promise<Actor> => {
		const { actor } = await service.authenticate(bearer(req));
		if (actor.spaceId !== spaceId) throw new TribuneError('forbidden', 'token is for another space');
		await service.require(actor, 'manage_captions');
		return actor;
	};

	router.post('/:id/caption-mode', json, async (req, res) => {
		const spaceId = idOf(req);
		const actor = await moderator(req, spaceId);
		const { captionMode } = parseInput(captionModeBody, req.body);
		res.set('Cache-Control', 'no-store').json({ space: spaceInfo(await service.setCaptionMode(actor, captionMode)) });
	});

	router.get('/:id/vocabulary', async (req, res) => {
		const spaceId = idOf(req);
		const actor = await moderator(req, spaceId);
		res.set('Cache-Control', 'no-store').json({ words: await service.getVocabulary(actor) });
	});

	router.post('/:id/vocabulary', express.json({ limit: '16kb' }), async (req, res) => {
		const spaceId = idOf(req);
		const actor = await moderator(req, spaceId);
		const { words } = parseInput(vocabularyBody, req.body);
		res.set('Cache-Control', 'no-store').json({ words: await service.setVocabulary(actor, words) });
	});

	router.post('/:id/captioner-token', json, async (req, res) => {
		const spaceId = idOf(req);
		await moderator(req, spaceId);
		const body = parseInput(tokenBody, req.body ?? {});
		const generation = await deps.pushes.revocations.forIssue(spaceId, body.ttlS);
		const { token, claims } = await tokens.issue(spaceId, body.name, body.ttlS, generation);
		res.status(201).set('Cache-Control', 'no-store').json({ token, expiresAt: claims.expiresAt, captionsUrl: `/api/spaces/${spaceId}/captions`, socketUrl: captionerSocketPath });
	});

	router.post('/:id/captioner-tokens/revoke', json, async (req, res) => {
		const spaceId = idOf(req);
		await moderator(req, spaceId);
		parseInput(z.strictObject({}), req.body ?? {});
		await deps.pushes.revocations.revokeAll(spaceId);
		res.set('Cache-Control', 'no-store').json({ revoked: true });
	});

	router.post('/:id/captions', json, async (req, res) => {
		const spaceId = idOf(req);
		const claims = await deps.pushes.authenticate(bearer(req), spaceId);
		res.status(202).set('Cache-Control', 'no-store').json({ cue: await deps.pushes.push(claims, req.body) });
	});

	router.get('/:id/:file', async (req, res, next) => {
		const wanted = transcriptFile(req.params.file ?? '');
		if (!wanted) {
			next();
			return;
		}
		const spaceId = idOf(req);
		let body: Buffer;
		try {
			body = await fs.readFile(path.join(hlsRoot, spaceId, wanted.name));
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
				throw new TribuneError('not_found', 'no transcript of this space (it is written when a recorded space ends)');
			}
			throw error;
		}
		res.set({
			'Content-Type': wanted.contentType,
			'Cache-Control': 'public, max-age=300',
			// Players and embeds on any site may fetch it, like the HLS replay.
			'Access-Control-Allow-Origin': '*',
			'X-Content-Type-Options': 'nosniff',
		}).send(body);
	});

	return router;
}
