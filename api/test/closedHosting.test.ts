import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiProcess, startCluster } from './support/apiProcess.js';

/**
 * The default a real API process starts with, TRIBUNE_OPEN_HOSTING unset (the test harnesses set it for the tests
 * that create spaces anonymously): hosting is closed.
 */
let cluster: Awaited<ReturnType<typeof startCluster>>;
let api: ApiProcess;

beforeAll(async () => {
	cluster = await startCluster();
	api = await ApiProcess.start(cluster, { TRIBUNE_OPEN_HOSTING: undefined });
}, 60_000);
afterAll(async () => {
	await api?.kill('SIGTERM');
	await cluster?.stop();
});

describe('hosting by default', () => {
	it('is closed: an anonymous create is refused 401 host_required', async () => {
		const res = await fetch(`${api.baseUrl}/api/spaces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Mine', hostName: 'Me' }) });
		expect(res.status).toBe(401);
		expect(((await res.json()) as { error: { code: string } }).error.code).toBe('host_required');
	});
});
