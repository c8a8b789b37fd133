import { randomUUID } from 'node:crypto';
import { connectRedis, encodeHlsMessage, hlsRedisKeys, RedisHlsPublisher, type HlsMessage } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { RedisHlsFeed } from '../../src/origin/HlsFeed.js';

const vtt = (seq: number): HlsMessage => ({ event: { type: 'vtt', seq, msn: seq, durationS: 1, pdtMs: 0, discontinuity: false }, bytes: Buffer.from(`cue ${seq}`) });

describe('RedisHlsFeed', () => {
	const connections: Redis[] = [];
	afterEach(() => {
		for (const redis of connections.splice(0)) redis.disconnect();
	});
	const connect = (): Redis => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		connections.push(redis);
		return redis;
	};

	it('delivers history, then live events in order, filling a gap in pub/sub from the log', async () => {
		const prefix = `test-${randomUUID()}`;
		const writer = connect();
		const publisher = new RedisHlsPublisher(writer, prefix, 's1', { logger: pino({ level: 'silent' }) });
		publisher.publish({ event: { type: 'stream', seq: 0, descriptor: { streamId: 's1', partTargetMs: 200, segmentTargetMs: 1000, targetDurationS: 1, renditions: [], subtitles: true } }, bytes: Buffer.alloc(0) });
		publisher.publish(vtt(1));
		await publisher.flush();

		const seen: number[] = [];
		let notify: () => void = () => {};
		const feed = new RedisHlsFeed(connect(), connect(), prefix);
		const stop = await feed.follow('s1', (message) => {
			seen.push(message.event.seq);
			notify();
		});
		expect(seen).toEqual([0, 1]);
		const arrived = (count: number): Promise<void> =>
			new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`only ${seen.join(',')}`)), 5000);
				notify = () => {
					if (seen.length >= count) {
						clearTimeout(timer);
						resolve();
					}
				};
			});

		// Event 2 reaches the log but its pub/sub message is lost (as during a reconnection); event 3 is published.
		const { log } = hlsRedisKeys(prefix, 's1');
		await writer.xadd(log, '*', 'm', encodeHlsMessage(vtt(2)));
		const done = arrived(4);
		publisher.publish(vtt(3));
		publisher.publish(vtt(3));
		await done;
		expect(seen).toEqual([0, 1, 2, 3]);
		stop();
	});
});
