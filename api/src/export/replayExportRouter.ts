import fs from 'node:fs/promises';
import path from 'node:path';
import { chooseExportRendition, replayMp4Name, replayStreamSchema, type ExportQueue } from '@tribune/transcoder';
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import { asSpaceId, type Space, type SpaceId } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import { exportStatus, replayDownloadName, type ExportStatus } from './exportStatus.js';
import { bearerToken } from '../http/bearerToken.js';

export interface ReplayExportRouterDeps {
	service: SpaceService;
	queue: Pick<ExportQueue, 'request' | 'state'>;
	/** `<TRIBUNE_DATA_DIR>/hls`: each replay, and its `replay.mp4`, is in `<hlsRoot>/<spaceId>/`. */
	hlsRoot: string;
}

/** As every space route validates ids (and hlsNames stream ids): the id becomes a path on disk. */
const spaceIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** A download's headers: replays are public like the HLS replay itself, and may be re-exported (captions). */
const downloadCacheControl = 'public, max-age=3600';

/**
 * The MP4 export of a recorded space's replay, under /api/spaces:
 *   GET  /:id/export      its state → { state, percent, bytes?, url?, error? } (public, like the replay)
 *   POST /:id/export      queue it again after a failure (host or co-host token, once the space has ended) →
 *                         202 and the new state, or 200 and the current one when it is queued, running or ready
 *   GET  /:id/replay.mp4  the file, as an attachment, with Range requests
 */
export function replayExportRouter(deps: ReplayExportRouterDeps): Router {
	const { service, queue, hlsRoot } = deps;
	const router = express.Router();
	const fileOf = (spaceId: SpaceId): string => path.join(hlsRoot, spaceId, replayMp4Name);

	const statusOf = async (spaceId: SpaceId): Promise<ExportStatus> => {
		const [job, file] = await Promise.all([queue.state(spaceId), sizeOf(fileOf(spaceId))]);
		return exportStatus(job, file === undefined ? undefined : { bytes: file }, `/api/spaces/${spaceId}/${replayMp4Name}`);
	};

	router.get('/:id/export', async (req, res) => {
		const spaceId = idOf(req);
		const [space, status] = await Promise.all([findSpace(service, spaceId), statusOf(spaceId)]);
		// The space's record expires a week after it ends; an MP4 kept longer is still known by its file.
		if (!space && status.state !== 'ready') throw new TribuneError('not_found', 'no such space');
		res.set('Cache-Control', 'no-store').json(status);
	});

	router.post('/:id/export', async (req, res) => {
		const spaceId = idOf(req);
		const token = bearerToken(req.get('authorization'));
		if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <token>');
		// Not service.authenticate(): that refuses ended spaces, and only an ended space has an export.
		const { claims } = await service.verifyToken(token);
		if (claims.spaceId !== spaceId) throw new TribuneError('forbidden', 'token is for another space');
		// The host's and co-hosts' grant; the role is read afresh from the store, never from the token.
		await service.require({ spaceId, participantId: claims.participantId }, 'manage_stage');
		const space = await service.getSpace(spaceId);
		if (space.state !== 'ended') throw new TribuneError('conflict', 'a replay is exported once its space has ended');
		if (!space.settings.recording) throw new TribuneError('conflict', 'this space was not recorded');
		const current = await statusOf(spaceId);
		if (current.state !== 'failed' && current.state !== 'none') {
			res.status(200).set('Cache-Control', 'no-store').json(current);
			return;
		}
		await queue.request({ spaceId, requestedAt: Date.now() });
		res.status(202).set('Cache-Control', 'no-store').json(await statusOf(spaceId));
	});

	router.get(`/:id/${replayMp4Name}`, async (req, res, next) => {
		const spaceId = idOf(req);
		const file = fileOf(spaceId);
		if ((await sizeOf(file)) === undefined) throw new TribuneError('not_found', 'no MP4 of this replay (yet)');
		const [space, audioOnly] = await Promise.all([findSpace(service, spaceId), isAudioOnly(hlsRoot, spaceId)]);
		const headers = {
			'Content-Type': audioOnly ? 'audio/mp4' : 'video/mp4',
			'Content-Disposition': `attachment; filename="${replayDownloadName(space?.title, spaceId)}"`,
			'Cache-Control': downloadCacheControl,
			// Players and embeds on any site may fetch it, like the HLS replay.
			'Access-Control-Allow-Origin': '*',
		};
		// send (through res.sendFile) answers Range and conditional requests and sets Content-Length.
		res.sendFile(file, { headers, cacheControl: false, dotfiles: 'deny' }, (error?: Error) => {
			// A client that went away mid-download is no error of ours.
			if (!error || res.headersSent) return;
			// send's error carries the headers its reply needs (Content-Range on a 416).
			const replyHeaders = (error as { headers?: Record<string, string> }).headers;
			if (replyHeaders) res.set(replyHeaders);
			next(error);
		});
	});

	return router;
}

function idOf(req: Request): SpaceId {
	const parsed = spaceIdParam.safeParse(req.params.id);
	if (!parsed.success) throw new TribuneError('bad_request', 'id: not a space id');
	return asSpaceId(parsed.data);
}

async function findSpace(service: SpaceService, spaceId: SpaceId): Promise<Space | undefined> {
	try {
		return await service.getSpace(spaceId);
	} catch (error) {
		if (error instanceof TribuneError && error.code === 'not_found') return undefined;
		throw error;
	}
}

/** Bytes of a regular file, or undefined when there is none. */
async function sizeOf(file: string): Promise<number | undefined> {
	try {
		const stat = await fs.stat(file);
		return stat.isFile() ? stat.size : undefined;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	}
}

/** The MP4 was made from the audio rendition: the replay has no video one. */
async function isAudioOnly(hlsRoot: string, spaceId: SpaceId): Promise<boolean> {
	try {
		const stream = replayStreamSchema.parse(JSON.parse(await fs.readFile(path.join(hlsRoot, spaceId, 'stream.json'), 'utf8')));
		return chooseExportRendition(stream)?.kind === 'audio';
	} catch {
		return false;
	}
}
