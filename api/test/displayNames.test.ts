import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLiveSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

/** Names from outside go through one rule (api/src/validation/plainLine.ts), over real HTTP and Redis. */
let node: TestNode;

beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'));
}, 60_000);
afterAll(async () => {
	await node?.close();
});

const bidi = ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069'];

describe('display names (REST)', () => {
	it('a join, a new space and a captioner token refuse bidi overrides and isolates as a 400 bad_request', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		for (const c of [...bidi, '\u0007', '\n']) {
			const name = `Alice${c}tsoh`;
			const join = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: name });
			expect(join.status, JSON.stringify(c)).toBe(400);
			expect(join.body.error?.code).toBe('bad_request');
			const create = await postJson(`${node.baseUrl}/api/spaces`, { title: 'T', hostName: name });
			expect(create.status, JSON.stringify(c)).toBe(400);
			const captioner = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/captioner-token`, { name }, hostToken);
			expect(captioner.status, JSON.stringify(c)).toBe(400);
		}
	}, 60_000);

	it('right-to-left names without overrides are welcome', async () => {
		const { spaceId } = await createLiveSpace(node);
		const join = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: 'سارة' });
		expect(join.status).toBe(200);
	}, 60_000);
});
