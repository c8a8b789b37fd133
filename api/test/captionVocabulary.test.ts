import { captionVocabularyChannel, captionVocabularyKey, connectRedis, readCaptionVocabulary } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * The host's caption word list over REST: validated and bounded at the edge, kept with the title and description
 * where the transcoder reads it, announced on the space's vocabulary channel, readable and changeable only by hosts
 * and co-hosts.
 */
let node: TestNode;
let redis: Redis;
let subscriber: Redis;

beforeAll(async () => {
	node = await startTestNode(inject('redisUrl'));
	redis = connectRedis(inject('redisUrl'), 'test');
	subscriber = connectRedis(inject('redisUrl'), 'test');
});
afterAll(async () => {
	redis?.disconnect();
	subscriber?.disconnect();
	await node?.close();
});

async function getWords(spaceId: string, token?: string): Promise<{ status: number; body: { words?: string[]; error?: { code: string } } }> {
	const res = await fetch(`${node.baseUrl}/api/spaces/${spaceId}/vocabulary`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
	return { status: res.status, body: (await res.json()) as { words?: string[] } };
}

const setWords = (spaceId: string, body: unknown, token: string) => postJson(`${node.baseUrl}/api/spaces/${spaceId}/vocabulary`, body, token);

describe('the caption word list', () => {
	it('is kept at creation with the title and description, and replaced by a host, announced to the transcoder', async () => {
		const created = await postJson(`${node.baseUrl}/api/spaces`, {
			title: 'Kubernetes operators: office hours',
			description: 'Grafana, Prometheus and the pager',
			hostName: 'Siobhan Okonkwo',
			vocabulary: ['Okonkwo', 'okonkwo', ' Zipformer '],
		});
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const host = created.body.token!;
		expect(await readCaptionVocabulary(redis, node.redisPrefix, spaceId)).toEqual({
			words: ['Okonkwo', 'Zipformer'],
			title: 'Kubernetes operators: office hours',
			description: 'Grafana, Prometheus and the pager',
		});
		expect(await getWords(spaceId, host)).toEqual({ status: 200, body: { words: ['Okonkwo', 'Zipformer'] } });

		const announced: string[] = [];
		subscriber.on('message', (channel: string) => announced.push(channel));
		await subscriber.subscribe(captionVocabularyChannel(node.redisPrefix, spaceId));
		const set = await setWords(spaceId, { words: ["Siobhan O'Neill", 'mediasoup', 'WebRTC'] }, host);
		expect(set.status).toBe(200);
		expect((await readCaptionVocabulary(redis, node.redisPrefix, spaceId))?.words).toEqual(["Siobhan O'Neill", 'mediasoup', 'WebRTC']);
		expect(await redis.ttl(captionVocabularyKey(node.redisPrefix, spaceId))).toBeGreaterThan(6 * 24 * 3600);
		const deadline = Date.now() + 5000;
		while (announced.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(announced).toEqual([captionVocabularyChannel(node.redisPrefix, spaceId)]);
		await subscriber.unsubscribe();
	});

	it('refuses hostile and oversized lists at the edge, leaving the stored one as it was', async () => {
		const created = await postJson(`${node.baseUrl}/api/spaces`, { title: 'Edge', hostName: 'Hana Host', vocabulary: ['Grafana'] });
		const spaceId = created.body.space!.id;
		const host = created.body.token!;
		const refused: unknown[] = [
			{ words: ['two\nlines'] },
			{ words: ['tab\tseparated'] },
			{ words: ['\u202Eevil'] },
			{ words: ['zero\u200Bwidth'] },
			{ words: ['x'.repeat(41)] },
			{ words: [''] },
			{ words: ['   '] },
			{ words: Array.from({ length: 101 }, (_, i) => `word${i}`) },
			{ words: [42] },
			{ words: 'Grafana' },
			{ words: ['Grafana'], path: '/etc/passwd' },
			{},
		];
		for (const body of refused) {
			const res = await setWords(spaceId, body, host);
			expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
		}
		// Past the body limit (16 KB): refused before it is parsed.
		expect((await setWords(spaceId, { words: ['a'.repeat(20_000)] }, host)).status).toBe(413);
		expect((await postJson(`${node.baseUrl}/api/spaces`, { title: 'Bad', hostName: 'Hana', vocabulary: ['a\nb'] })).status).toBe(400);
		expect((await readCaptionVocabulary(redis, node.redisPrefix, spaceId))?.words).toEqual(['Grafana']);
		// Path separators, shell and phone-like text are plain data here: kept as typed, turned into words only in the transcoder.
		const odd = ['../../etc/passwd', '$(id); rm -rf /', 'K AH B ER N IY T S', '-lm /tmp/x'];
		expect((await setWords(spaceId, { words: odd }, host)).status).toBe(200);
		expect((await readCaptionVocabulary(redis, node.redisPrefix, spaceId))?.words).toEqual(odd);
	});

	it('is for hosts and co-hosts only, and changes at most 10 times a minute', async () => {
		const created = await postJson(`${node.baseUrl}/api/spaces`, { title: 'Rules', hostName: 'Hana Host' });
		const spaceId = created.body.space!.id;
		const host = created.body.token!;
		const listener = await joinSpace(node, spaceId, 'Lee Listener');
		expect((await getWords(spaceId, listener.token)).status).toBe(403);
		expect((await setWords(spaceId, { words: ['x'] }, listener.token)).status).toBe(403);
		expect((await getWords(spaceId)).status).toBe(401);
		const other = await postJson(`${node.baseUrl}/api/spaces`, { title: 'Other', hostName: 'Olga Host' });
		expect((await setWords(spaceId, { words: ['x'] }, other.body.token!)).status).toBe(403);
		for (let i = 0; i < 10; i++) expect((await setWords(spaceId, { words: [`word${i}`] }, host)).status).toBe(200);
		const limited = await setWords(spaceId, { words: ['eleventh'] }, host);
		expect(limited.status).toBe(429);
		expect(Number(limited.retryAfter)).toBeGreaterThan(0);
		expect((await readCaptionVocabulary(redis, node.redisPrefix, spaceId))?.words).toEqual(['word9']);
		expect((await postJson(`${node.baseUrl}/api/spaces/${spaceId}/end`, {}, host)).status).toBe(200);
		expect((await setWords(spaceId, { words: ['late'] }, host)).status).toBe(410);
	});
});
