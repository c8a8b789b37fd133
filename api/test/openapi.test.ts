import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiOperations, openApiDocument, openApiPath } from '../src/openapi/openApiDocument.js';
import { testAdminKey } from './support/hostingNode.js';
import { schemaProblems } from './support/jsonSchema.js';
import { startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * GET /api/openapi.json against the app as main.ts builds it: the document lists exactly the routes Express serves
 * under /api, and every documented operation is called for real, its request checked against the documented body
 * and its answer against the documented reply (or the catalogue's error).
 */
let node: TestNode;
let hlsRoot: string;
let syntheticDir: string;
let served: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
	hlsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-openapi-'));
	syntheticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-openapi-synthetic-'));
	node = await startTestNode(inject('redisUrl'), {}, { adminKey: testAdminKey, queues: true, hlsRoot, syntheticSpeakerDir: syntheticDir });
	served = (await (await fetch(`${node.baseUrl}/api/openapi.json`)).json()) as typeof served;
});
afterAll(async () => {
	await node?.close();
	fs.rmSync(hlsRoot, { recursive: true, force: true });
	fs.rmSync(syntheticDir, { recursive: true, force: true });
});

interface Layer {
	route?: { path: string; methods: Record<string, boolean> };
	handle: { stack?: Layer[] };
	rawPath?: unknown;
}

/** Every `METHOD /path` an Express app routes, mounted routers included (router 2's layers keep their raw path). */
function expressRoutes(app: Express): string[] {
	const walk = (stack: Layer[], prefix: string): string[] =>
		stack.flatMap((layer) => {
			// A router's `/` is its mount path itself (`/api/spaces`).
			const routePath = layer.route?.path === '/' && prefix !== '' ? '' : layer.route?.path;
			if (layer.route) return Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${prefix}${routePath}`);
			if (layer.handle.stack && typeof layer.rawPath === 'string') return walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
			return [];
		});
	return walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
}

describe('the OpenAPI document', () => {
	it('is OpenAPI 3.1, served as built, and lists exactly the routes Express serves under /api', () => {
		expect(served.openapi).toBe('3.1.0');
		expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
		const app = node.server.listeners('request')[0] as Express;
		const routed = expressRoutes(app).filter((route) => route.split(' ')[1]!.startsWith('/api/'));
		expect(routed.length).toBeGreaterThan(20);
		const documented = Object.entries(served.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
		expect(documented.sort()).toEqual(routed.map((route) => { const [m, p] = route.split(' '); return `${m} ${openApiPath(p!)}`; }).sort());
	});
});

describe('each documented operation, called for real', () => {
	const called = new Map<string, Set<number>>();

	/** Calls an operation; checks the request body against the document first and the answer after. */
	async function call(method: string, route: string, url: string, options: { bearer?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
		const op = served.paths[openApiPath(route)]?.[method];
		expect(op, `${method} ${route} is documented`).toBeDefined();
		if (options.body !== undefined) {
			const schema = op.requestBody?.content['application/json'].schema;
			expect(schema, `${method} ${route} documents its body`).toBeDefined();
			expect(schemaProblems(schema, options.body, served), `${method} ${route} request`).toEqual([]);
		}
		const res = await fetch(`${node.baseUrl}${url}`, {
			method: method.toUpperCase(),
			headers: { ...(options.body !== undefined && { 'content-type': 'application/json' }), ...(options.bearer !== undefined && { authorization: `Bearer ${options.bearer}` }) },
			...(options.body !== undefined && { body: JSON.stringify(options.body) }),
		});
		const type = res.headers.get('content-type') ?? '';
		const reply = op.responses[String(res.status)] ?? op.responses.default;
		const isSuccess = res.status < 400;
		expect(op.responses[String(res.status)] !== undefined || !isSuccess, `${method} ${route} documents ${res.status}`).toBe(true);
		let body: unknown;
		if (type.startsWith('application/json')) {
			body = await res.json();
			const schema = reply.content['application/json']?.schema;
			expect(schema, `${method} ${route} ${res.status} is JSON in the document`).toBeDefined();
			expect(schemaProblems(schema, body, served), `${method} ${route} ${res.status}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
		} else {
			body = await res.arrayBuffer();
			expect(Object.keys(reply.content), `${method} ${route} ${res.status} content type`).toContain(type.split(';')[0]);
		}
		if (!called.has(`${method} ${route}`)) called.set(`${method} ${route}`, new Set());
		called.get(`${method} ${route}`)!.add(res.status);
		return { status: res.status, body };
	}

	/** A body with a property the document does not allow is refused. */
	async function refusesExtra(method: string, route: string, url: string, body: object, bearer?: string): Promise<void> {
		const res = await fetch(`${node.baseUrl}${url}`, {
			method: method.toUpperCase(),
			headers: { 'content-type': 'application/json', ...(bearer !== undefined && { authorization: `Bearer ${bearer}` }) },
			body: JSON.stringify({ ...body, undocumented: true }),
		});
		expect(res.status, `${method} ${route} with an undocumented property`).toBe(400);
	}

	it('spaces, captions and replays', async () => {
		const created = await call('post', '/api/spaces', '/api/spaces', { body: { title: 'Documented', hostName: 'Dana', settings: { recording: true }, vocabulary: ['Okonkwo'] } });
		expect(created.status).toBe(201);
		await refusesExtra('post', '/api/spaces', '/api/spaces', { title: 'x', hostName: 'y' });
		const id = created.body.space.id as string;
		const host = created.body.token as string;
		const s = (suffix: string) => `/api/spaces/${id}${suffix}`;
		expect((await call('get', '/api/spaces/:id', s(''))).status).toBe(200);
		const joined = await call('post', '/api/spaces/:id/join', s('/join'), { body: { displayName: 'Lee' } });
		expect(joined.status).toBe(200);
		await refusesExtra('post', '/api/spaces/:id/join', s('/join'), { displayName: 'Lou' });
		expect((await call('post', '/api/spaces/:id/start', s('/start'), { bearer: host })).status).toBe(200);
		expect((await call('get', '/api/spaces/:id/broadcast', s('/broadcast'), { bearer: host })).status).toBe(200);
		expect((await call('get', '/api/spaces/:id/broadcast', s('/broadcast'))).status).toBe(401);
		expect((await call('post', '/api/spaces/:id/caption-mode', s('/caption-mode'), { bearer: host, body: { captionMode: 'sidecar' } })).status).toBe(200);
		await refusesExtra('post', '/api/spaces/:id/caption-mode', s('/caption-mode'), { captionMode: 'off' }, host);
		expect((await call('get', '/api/spaces/:id/vocabulary', s('/vocabulary'), { bearer: host })).body).toEqual({ words: ['Okonkwo'] });
		expect((await call('post', '/api/spaces/:id/vocabulary', s('/vocabulary'), { bearer: host, body: { words: ['Grafana', 'Siobhan Okonkwo'] } })).status).toBe(200);
		await refusesExtra('post', '/api/spaces/:id/vocabulary', s('/vocabulary'), { words: [] }, host);
		const captioner = await call('post', '/api/spaces/:id/captioner-token', s('/captioner-token'), { bearer: host, body: { name: 'Cap', ttlS: 600 } });
		expect(captioner.status).toBe(201);
		await refusesExtra('post', '/api/spaces/:id/captioner-token', s('/captioner-token'), {}, host);
		expect((await call('post', '/api/spaces/:id/captions', s('/captions'), { bearer: captioner.body.token, body: { text: 'Hello there', final: true } })).status).toBe(202);
		await refusesExtra('post', '/api/spaces/:id/captions', s('/captions'), { text: 'Hi' }, captioner.body.token);
		expect((await call('post', '/api/spaces/:id/captioner-tokens/revoke', s('/captioner-tokens/revoke'), { bearer: host, body: {} })).status).toBe(200);
		await refusesExtra('post', '/api/spaces/:id/captioner-tokens/revoke', s('/captioner-tokens/revoke'), {}, host);
		expect((await call('post', '/api/spaces/:id/tokens/rotate', s('/tokens/rotate'), { bearer: joined.body.token, body: {} })).status).toBe(200);
		await refusesExtra('post', '/api/spaces/:id/tokens/rotate', s('/tokens/rotate'), {}, host);
		await refusesExtra('post', '/api/spaces/:id/tokens/revoke', s('/tokens/revoke'), { participantId: joined.body.participant.id }, host);
		expect((await call('post', '/api/spaces/:id/tokens/revoke', s('/tokens/revoke'), { bearer: host, body: { participantId: joined.body.participant.id } })).status).toBe(200);
		expect((await call('post', '/api/spaces/:id/synthetic-speakers', s('/synthetic-speakers'), { bearer: host, body: { displayName: 'Bot', text: 'Hi' } })).status).toBe(201);
		await refusesExtra('post', '/api/spaces/:id/synthetic-speakers', s('/synthetic-speakers'), { displayName: 'Bot', text: 'Hi' }, host);
		const conversation = { speakers: [{ displayName: 'Ana' }, { displayName: 'Ben', voice: 'rms' }], lines: [{ speaker: 0, text: 'Hello' }, { speaker: 1, text: 'Hi Ana' }] };
		expect((await call('post', '/api/spaces/:id/synthetic-conversation', s('/synthetic-conversation'), { bearer: host, body: conversation })).status).toBe(201);
		await refusesExtra('post', '/api/spaces/:id/synthetic-conversation', s('/synthetic-conversation'), conversation, host);
		expect((await call('get', '/api/spaces/:id/export', s('/export'))).status).toBe(200);
		expect((await call('post', '/api/spaces/:id/export', s('/export'), { bearer: host })).status).toBe(409);
		expect((await call('post', '/api/spaces/:id/end', s('/end'), { bearer: host })).status).toBe(200);
		expect((await call('post', '/api/spaces/:id/export', s('/export'), { bearer: host })).status).toBe(202);
		expect((await call('post', '/api/spaces/:id/export', s('/export'), { bearer: host })).status).toBe(200);
		expect((await call('get', '/api/spaces/:id/replay.mp4', s('/replay.mp4'))).status).toBe(404);
		expect((await call('get', '/api/spaces/:id/:file', s('/transcript.vtt'))).status).toBe(404);
		// The files an ended recorded space leaves (their bytes do not matter here).
		fs.mkdirSync(path.join(hlsRoot, id), { recursive: true });
		fs.writeFileSync(path.join(hlsRoot, id, 'transcript.vtt'), 'WEBVTT\n\n');
		fs.writeFileSync(path.join(hlsRoot, id, 'replay.mp4'), Buffer.alloc(64));
		expect((await call('get', '/api/spaces/:id/:file', s('/transcript.vtt'))).status).toBe(200);
		expect((await call('get', '/api/spaces/:id/replay.mp4', s('/replay.mp4'))).status).toBe(200);
	});

	it('hosting and the server API', async () => {
		const key = testAdminKey;
		expect((await call('get', '/api/openapi.json', '/api/openapi.json')).status).toBe(200);
		const session = await call('post', '/api/admin/sessions', '/api/admin/sessions', { bearer: key, body: {} });
		expect(session.status).toBe(200);
		await refusesExtra('post', '/api/admin/sessions', '/api/admin/sessions', {}, key);
		const admin = session.body.token as string;

		const invite = await call('post', '/api/server/host-invites', '/api/server/host-invites', { bearer: admin, body: { label: 'Docs', maxUses: 2, expiresInS: 600 } });
		expect(invite.status).toBe(201);
		await refusesExtra('post', '/api/server/host-invites', '/api/server/host-invites', {}, admin);
		expect((await call('get', '/api/server/host-invites', '/api/server/host-invites?limit=10', { bearer: admin })).status).toBe(200);
		const code = /#code=(.+)$/.exec(invite.body.url as string)![1]!;
		const redeemed = await call('post', '/api/host-invites/redeem', '/api/host-invites/redeem', { body: { code, name: 'Docs host' } });
		expect(redeemed.status).toBe(200);
		await refusesExtra('post', '/api/host-invites/redeem', '/api/host-invites/redeem', { code });
		expect((await call('get', '/api/host/me', '/api/host/me', { bearer: redeemed.body.credential })).status).toBe(200);
		expect((await call('get', '/api/host/me', '/api/host/me')).body).toEqual({ host: null, openHosting: true });
		expect((await call('get', '/api/server/hosts', '/api/server/hosts', { bearer: admin })).status).toBe(200);
		expect((await call('delete', '/api/server/hosts/:hostId', `/api/server/hosts/${redeemed.body.host.id}`, { bearer: admin })).status).toBe(200);
		expect((await call('get', '/api/host/me', '/api/host/me', { bearer: redeemed.body.credential })).status).toBe(401);
		expect((await call('delete', '/api/server/host-invites/:id', `/api/server/host-invites/${invite.body.invite.id}`, { bearer: admin })).status).toBe(200);

		const space = await call('post', '/api/server/spaces', '/api/server/spaces', { bearer: admin, body: { title: 'Integrated', host: { sub: 'u-1', displayName: 'Uma' } } });
		expect(space.status).toBe(201);
		await refusesExtra('post', '/api/server/spaces', '/api/server/spaces', { title: 'x', host: { sub: 'u-1', displayName: 'Uma' } }, admin);
		const id = space.body.space.id as string;
		expect((await call('get', '/api/server/spaces', '/api/server/spaces?limit=5', { bearer: admin })).status).toBe(200);
		expect((await call('get', '/api/server/spaces/:id', `/api/server/spaces/${id}`, { bearer: admin })).status).toBe(200);
		const token = await call('post', '/api/server/spaces/:id/tokens', `/api/server/spaces/${id}/tokens`, { bearer: admin, body: { sub: 'u-2', displayName: 'Ugo', role: 'listener' } });
		expect(token.status).toBe(200);
		await refusesExtra('post', '/api/server/spaces/:id/tokens', `/api/server/spaces/${id}/tokens`, { sub: 'u-3', displayName: 'Ula', role: 'listener' }, admin);
		expect((await call('get', '/api/server/spaces/:id/participants', `/api/server/spaces/${id}/participants?limit=10`, { bearer: admin })).status).toBe(200);
		expect((await call('post', '/api/server/spaces/:id/bans', `/api/server/spaces/${id}/bans`, { bearer: admin, body: { sub: 'u-2', address: false } })).status).toBe(200);
		await refusesExtra('post', '/api/server/spaces/:id/bans', `/api/server/spaces/${id}/bans`, { sub: 'u-2' }, admin);
		expect((await call('delete', '/api/server/spaces/:id/bans/:participantId', `/api/server/spaces/${id}/bans/${token.body.participant.id}`, { bearer: admin })).status).toBe(200);
		expect((await call('post', '/api/server/spaces/:id/end', `/api/server/spaces/${id}/end`, { bearer: admin })).status).toBe(200);
		expect((await call('get', '/api/server/spaces/:id', `/api/server/spaces/${id}`)).status).toBe(401);
		expect((await call('post', '/api/server/sessions/revoke', '/api/server/sessions/revoke', { bearer: admin })).status).toBe(200);
		expect((await call('get', '/api/server/hosts', '/api/server/hosts', { bearer: admin })).status).toBe(401);
	});

	it('every documented operation was called, and every documented success answered at least once', () => {
		for (const op of apiOperations) {
			const statuses = called.get(`${op.method} ${op.path}`);
			expect(statuses, `${op.method} ${op.path} was called`).toBeDefined();
			for (const status of Object.keys(op.replies)) expect([...statuses!], `${op.method} ${op.path} answered ${status}`).toContain(Number(status));
		}
	});
});
