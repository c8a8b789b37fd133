import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptionSession, connectRedis, PocketsphinxEngine, StageLinkClient, wordErrorRate, type CaptionCue, type StageLinkSnapshot } from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { turnTakingWavs } from '../../transcoder/test/captions/support/turnTakingWavs.js';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { useWavStage } from './support/wavStage.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** The recogniser runs as compiled JavaScript in a child process (npx tsc -b transcoder). */
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));

const lines = [
	{ text: 'Welcome back to the show, it is great to have you here with us again.', voice: 'slt' as const },
	{ text: 'Please raise your hand if you want to say something.', voice: 'rms' as const },
];

describe('CaptionSession: per-speaker recognition from the stage', () => {
	const stage = useWavStage('space-cap', 'tribune-captions-session-', logger);

	it('captions each speaker under their name while the mode is on, survives a crashed decoder and recogniser, and stops when the mode goes off', { timeout: 120_000 }, async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-cap' ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const { parts } = turnTakingWavs(path.join(stage.dir, 'wav'), lines);
		const ada = await stage.produce(parts[0]!.wav, 100);
		const bob = await stage.produce(parts[1]!.wav, 200);
		const speakers: StageLinkSnapshot['speakers'] = [
			{ peerId: 'ada', name: 'Ada <Lovelace>', audioProducerId: ada.id, muted: false },
			{ peerId: 'bob', name: 'Bob', audioProducerId: bob.id, muted: false },
		];
		const snapshot = (version: number, captionMode: StageLinkSnapshot['captionMode']): StageLinkSnapshot => ({ spaceId: 'space-cap', node: 'node-1', version, speakers, pinned: [], captionMode });
		await server.publishSnapshot(snapshot(1, 'off'));

		const cues: CaptionCue[] = [];
		const session = await CaptionSession.start({
			spaceId: 'space-cap',
			link: client,
			sessionId: 'cap-1',
			createEngine: (_, engineLogger) => new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger }),
			onCue: (cue) => cues.push(cue),
			workDir: path.join(stage.dir, 'work'),
			logger,
		});
		try {
			await session.settled();
			expect(session.captioners.size).toBe(0);
			expect(server.sessions).toEqual({});

			await server.publishSnapshot(snapshot(2, 'sidecar'));
			await expect.poll(() => session.captioners.size, { timeout: 20_000 }).toBe(2);
			expect(server.sessions).toEqual({ 'cap-1': 2 });

			// Both speakers finish a turn: finals under their names, each close to its line.
			const finalOf = (name: string) => cues.filter((c) => c.final && c.speakerName === name);
			await expect.poll(() => finalOf('Ada <Lovelace>').length > 0 && finalOf('Bob').length > 0, { timeout: 40_000, interval: 200 }).toBe(true);
			const textOf = (name: string) => finalOf(name).map((c) => c.text).join(' ');
			expect(wordErrorRate([{ reference: lines[0]!.text, hypothesis: textOf('Ada <Lovelace>') }])).toBeLessThan(0.5);
			expect(wordErrorRate([{ reference: lines[1]!.text, hypothesis: textOf('Bob') }])).toBeLessThan(0.5);
			for (const cue of cues) {
				expect(cue).toMatchObject({ spaceId: 'space-cap', source: 'asr' });
				expect(cue.endMs).toBeGreaterThanOrEqual(cue.startMs);
				expect(Math.abs(cue.startMs - Date.now())).toBeLessThan(60_000);
			}
			// Partials came first, sharing the id of their final.
			const final = finalOf('Bob')[0]!;
			expect(cues.some((c) => !c.final && c.id === final.id)).toBe(true);

			// Ada's decoder and recogniser crash (kill -9): both come back, and her next turn is captioned.
			const ada = session.captioners.get('ada')!;
			const engine = ada.engine as PocketsphinxEngine;
			const [decoderPid, recogniserPid] = [ada.decoderPid!, engine.recogniserPid!];
			process.kill(decoderPid, 'SIGKILL');
			process.kill(recogniserPid, 'SIGKILL');
			const killedAt = Date.now();
			await expect.poll(() => ada.decoderPid !== undefined && ada.decoderPid !== decoderPid, { timeout: 20_000 }).toBe(true);
			await expect.poll(() => engine.restarts, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
			await expect.poll(() => finalOf('Ada <Lovelace>').some((c) => c.startMs > killedAt), { timeout: 40_000, interval: 200 }).toBe(true);
			expect(session.captioners.get('ada')).toBe(ada);
			expect(server.sessions).toEqual({ 'cap-1': 2 });

			await server.publishSnapshot(snapshot(3, 'off'));
			await expect.poll(() => session.captioners.size, { timeout: 10_000 }).toBe(0);
			await expect.poll(() => server.sessions['cap-1'] ?? 0, { timeout: 10_000 }).toBe(0);
		} finally {
			await session.close();
			await client.close();
			server.close();
			redis.disconnect();
		}
	});
});
