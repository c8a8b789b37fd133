import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { captionChannel, captionLogKey, connectRedis, publishCaption, readCaptionLog, subscribeCaptions, type CaptionCue } from '../../src/index.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
	for (const close of closers.splice(0).reverse()) await close();
});

function connect(): Redis {
	const redis = connectRedis(inject('redisUrl'), 'test');
	closers.push(() => redis.disconnect());
	return redis;
}

const cue = (id: string, final: boolean, text = `words of ${id}`): CaptionCue => ({
	spaceId: 'capsp', id, speakerId: 'p1', speakerName: 'Ada <b>', text, final, startMs: 1_700_000_000_000, endMs: 1_700_000_001_000, source: 'asr',
});

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!probe()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

describe('caption feed on real Redis', () => {
	it('fans out partials and finals live, keeps only finals in the log, and drops bad messages', async () => {
		const redis = connect();
		const subscriber = connect();
		const prefix = `test-${randomUUID()}`;
		const seen: CaptionCue[] = [];
		const unsubscribe = await subscribeCaptions(subscriber, prefix, 'capsp', (c) => seen.push(c));

		await redis.publish(captionChannel(prefix, 'capsp'), '{"not":"a cue"}');
		await redis.publish(captionChannel(prefix, 'capsp'), JSON.stringify({ ...cue('x', true), spaceId: 'other' }));
		await publishCaption(redis, prefix, cue('u1', false, 'hello'));
		await publishCaption(redis, prefix, cue('u1', true, 'hello there'));
		await publishCaption(redis, prefix, cue('u2', true));
		await until('three cues', () => seen.length >= 3);
		expect(seen.map((c) => [c.id, c.final, c.text])).toEqual([['u1', false, 'hello'], ['u1', true, 'hello there'], ['u2', true, 'words of u2']]);

		expect((await readCaptionLog(redis, prefix, 'capsp')).map((c) => c.id)).toEqual(['u1', 'u2']);
		const ttl = await redis.ttl(captionLogKey(prefix, 'capsp'));
		expect(ttl).toBeGreaterThan(3600);

		await unsubscribe();
		await publishCaption(redis, prefix, cue('u3', true));
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(seen).toHaveLength(3);
	});

	it('refuses to publish an invalid cue and skips corrupt log entries', async () => {
		const redis = connect();
		const prefix = `test-${randomUUID()}`;
		await expect(publishCaption(redis, prefix, { ...cue('u1', true), text: '  ' })).rejects.toThrow();
		await redis.xadd(captionLogKey(prefix, 'capsp'), '*', 'cue', 'garbage');
		await publishCaption(redis, prefix, cue('u2', true));
		expect((await readCaptionLog(redis, prefix, 'capsp')).map((c) => c.id)).toEqual(['u2']);
	});

	it('reads a log longer than one page in order', async () => {
		const redis = connect();
		const prefix = `test-${randomUUID()}`;
		const multi = redis.multi();
		for (let i = 0; i < 2500; i++) multi.xadd(captionLogKey(prefix, 'capsp'), '*', 'cue', JSON.stringify(cue(`u${i}`, true)));
		await multi.exec();
		const log = await readCaptionLog(redis, prefix, 'capsp');
		expect(log).toHaveLength(2500);
		expect(log[2499]!.id).toBe('u2499');
	});
});
