import type { BroadcastQueue } from '@tribune/transcoder';
import express, { type Router } from 'express';
import { z } from 'zod';
import { TribuneError } from '../errors.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import { bearerToken } from '../http/bearerToken.js';

export interface BroadcastStatusRouterDeps {
	service: SpaceService;
	queue: Pick<BroadcastQueue, 'state'>;
}

const spaceIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/**
 * A live space's broadcast as its hosts see it, under /api/spaces:
 *   GET /:id/broadcast  (host or co-host token) → { state: waiting|active|delayed|none, position? (while waiting
 *                       for a transcoder, 1 = next), progress?: { transcoder, state, fps, speed, bitrateKbps,
 *                       health?, level?, shed?, speakers, restarts, replayError?, updatedAt } }
 *                       (fps and speed over the encoder's last seconds; health starting|ok|slow|stuck; level 0 =
 *                       nothing shed; shed: what is shed, in shed order, e.g. ["720p", "fps"])
 * Operators' figures (which transcoder, encoder speed), so deny by default: the stage-managing grant, read afresh.
 */
export function broadcastStatusRouter({ service, queue }: BroadcastStatusRouterDeps): Router {
	const router = express.Router();
	router.get('/:id/broadcast', async (req, res) => {
		const id = spaceIdParam.safeParse(req.params.id);
		if (!id.success) throw new TribuneError('bad_request', 'id: expected a space id');
		const token = bearerToken(req.get('authorization'));
		if (token === undefined) throw new TribuneError('unauthorized', 'expected Authorization: Bearer <token>');
		const { actor } = await service.authenticate(token);
		if (actor.spaceId !== id.data) throw new TribuneError('forbidden', 'token is for another space');
		await service.require(actor, 'manage_stage');
		res.set('Cache-Control', 'no-store').json(await queue.state(actor.spaceId));
	});
	return router;
}
