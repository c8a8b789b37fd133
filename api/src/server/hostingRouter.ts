import express, { type Router } from 'express';
import { TribuneError } from '../errors.js';
import { parseInput } from '../validation/parseInput.js';
import type { AdminSession } from '../auth/AdminSessions.js';
import type { HostRecord } from '../auth/HostIdentities.js';
import { operatorRouter, throttledOperatorAuth, type OperatorRouterDeps } from './operatorRouter.js';
import { adminSessionBody, redeemInviteBody } from './serverSchemas.js';
import { openApiDocument } from '../openapi/openApiDocument.js';
import { bearerToken } from '../http/bearerToken.js';

export type HostingRouterDeps = OperatorRouterDeps;

/** A host as it is shown to itself: the operator's label, the name it gave, and when it expires. */
const hostView = (host: HostRecord) => ({ id: host.id, label: host.label, ...(host.name !== undefined && { name: host.name }), expiresAt: host.expiresAt });

/**
 * Hosting, under /api: the operator's server API (`/server/*`, `operatorRouter`) and the public routes around it:
 *   POST /admin/sessions        { code } (the one-time sign-in link's) or {} with `Authorization: Bearer <admin key>`
 *                               → { token, expiresAt } (an admin session token for /server/*, 12 h)
 *   POST /host-invites/redeem   { code, name? } → { credential, host: { id, label, name?, expiresAt } }: a host identity
 *                               whose credential the browser keeps (`Authorization: Bearer` when creating a space)
 *   GET  /host/me               (host credential) → { host: { id, label, name?, expiresAt } }, or 401 once revoked; without
 *                               one: 401 host_required, or { host: null, openHosting: true } (TRIBUNE_OPEN_HOSTING)
 *   GET  /openapi.json          the OpenAPI 3.1 document of /api
 */
export function hostingRouter(deps: HostingRouterDeps): Router {
	const { sessions, invites, hosts } = deps;
	const router = express.Router();
	const json = express.json({ limit: '4kb' });
	router.use('/server', operatorRouter(deps));

	router.post('/admin/sessions', json, async (req, res) => {
		res.set('Cache-Control', 'no-store');
		const { code } = parseInput(adminSessionBody, req.body ?? {});
		let session: AdminSession | undefined;
		await throttledOperatorAuth(deps, req, res, async () => {
			if (code !== undefined) session = await sessions.redeemSignInCode(code);
			else if (!sessions.isOperatorKey(req.get('authorization'))) throw new TribuneError('unauthorized', 'sign in with the one-time link from the server, or the admin key as Authorization: Bearer');
		});
		res.json(session ?? (await sessions.issue()));
	});

	router.post('/host-invites/redeem', json, async (req, res) => {
		res.set('Cache-Control', 'no-store');
		const body = parseInput(redeemInviteBody, req.body);
		const host = await invites.redeem(body.code, body.name);
		res.json({ credential: await hosts.credentialFor(host), host: hostView(host) });
	});

	router.get('/host/me', async (req, res) => {
		res.set('Cache-Control', 'no-store');
		const credential = bearerToken(req.get('authorization'));
		if (credential === undefined) {
			// Without a credential: whether one is needed to create a space (the create page asks before its form).
			if (!deps.spaces.openHosting) throw new TribuneError('host_required', "creating a space needs a host invite from this server's operator");
			res.json({ host: null, openHosting: true });
			return;
		}
		const { host } = await hosts.verify(credential);
		res.json({ host: hostView(host) });
	});

	const document = JSON.stringify(openApiDocument());
	router.get('/openapi.json', (_req, res) => {
		res.set('Cache-Control', 'no-cache').type('application/json').send(document);
	});

	return router;
}
