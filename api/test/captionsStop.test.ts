import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	connectRedis,
	createBroadcastRunner,
	PocketsphinxEngine,
	readCaptionLog,
	spaceEndedReason,
	StageLinkClient,
	subscribeCaptions,
	type CaptionCue,
	type Rendition,
	type StageLinkSnapshot,
} from '@tribune/transcoder';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { turnTakingWavs } from '../../transcoder/test/captions/support/turnTakingWavs.js';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { commandOf, descendants } from './support/processes.js';
import { useWavStage } from './support/wavStage.js';

// A captioned broadcast job as a transcoder runs it (createBroadcastRunner: stage link, ffmpeg, packager, captions)
// on a real mediasoup router, stopped as its space ends: the stop comes while a speaker is mid-sentence and the router
// closes with it. The encoder is frozen (SIGSTOP) at the stop, as a starved one is still busy with its backlog then,
// which keeps the job going for seconds (its drain and its stop wait for it). Captions must not wait for that: their
// stage is gone, and decoders kept past it ended at ffmpeg's 10 s RTP timeout and were restarted against a space no
// longer there ("caption decoder ended; restarting it", "could not restart; trying again"); on a busy machine a stop
// took 12 s so.
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));
const ladder: Rendition[] = [{ name: 'audio', audioKbps: 64 }];
const latency = { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 };
const lines = [
	{ name: 'Ada', text: 'Welcome back to the show, it is great to have you here with us again tonight.', voice: 'slt' as const },
	{ name: 'Bob', text: 'Please raise your hand if you want to say something about the new library.', voice: 'rms' as const },
];
/** Longest the captions may take to end after the stop (quiet: under a second). */
const captionsEndWithinMs = 3000;

interface LogLine {
	level: number;
	msg: string;
	at: number;
}

describe('captions of a broadcast that stops as its space ends', () => {
	const stage = useWavStage('space-cs', 'tribune-captions-stop-', logger);

	it('end at the stop, while the encoder still drains: no decoder restarted, no warning, the sentence in progress in the transcript', { timeout: 120_000 }, async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const subscriber = connectRedis(inject('redisUrl'), 'test-sub');
		const prefix = `test-${randomUUID()}`;
		const spaceId = 'space-cs';
		const dataDir = path.join(stage.dir, 'data');
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === spaceId ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const { parts } = turnTakingWavs(path.join(stage.dir, 'wav'), lines, 1.5);
		const producers = [await stage.produce(parts[0]!.wav, 100), await stage.produce(parts[1]!.wav, 200)];
		const speakers: StageLinkSnapshot['speakers'] = lines.map((line, i) => ({ peerId: `p${i}`, name: line.name, audioProducerId: producers[i]!.id, muted: false }));
		await server.publishSnapshot({ spaceId, node: 'node-1', version: 1, speakers, pinned: [], captionMode: 'sidecar' });
		const cues: CaptionCue[] = [];
		await subscribeCaptions(subscriber, prefix, spaceId, (cue) => void cues.push(cue));
		const logs: LogLine[] = [];
		const jobLogger = pino({ level: 'info', base: undefined }, { write: (json: string) => void logs.push({ ...(JSON.parse(json) as LogLine), at: Date.now() }) });

		const stop = new AbortController();
		const run = createBroadcastRunner({
			redis, prefix, link: client, ladder, latency, canvas: { width: 640, height: 360 }, dataDir, ffmpegPath: 'ffmpeg', fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
			createCaptionEngine: (_, engineLogger) => new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger }),
		});
		let endedAt: number | undefined;
		const job = run({ spaceId, composite: false, recording: true, requestedAt: Date.now() }, { signal: stop.signal, logger: jobLogger, reportProgress: async () => {} }).then(
			() => ((endedAt = Date.now()), 'ended'),
			(error: unknown) => `failed: ${String(error)}`,
		);
		const ours = (pattern: RegExp): number[] => descendants(process.pid).filter((pid) => pattern.test(commandOf(pid)) && commandOf(pid).includes(spaceId));
		const decoders = (): number[] => ours(/-f sdp -i \S*\/speaker-\S*\.sdp .*-f s16le/);
		let encoder: number | undefined;
		try {
			// Both speakers captioned; then the stop comes in the middle of a sentence (a partial with no final yet).
			await expect.poll(() => lines.every((line) => cues.some((c) => c.final && c.speakerName === line.name)), { timeout: 60_000, interval: 200 }).toBe(true);
			const seen = cues.length;
			await expect.poll(() => cues.slice(seen).some((c) => !c.final && !cues.some((f) => f.final && f.id === c.id)), { timeout: 30_000, interval: 50 }).toBe(true);
			const inProgress = cues.slice(seen).find((c) => !c.final && !cues.some((f) => f.final && f.id === c.id))!;
			expect(decoders()).toHaveLength(2);
			[encoder] = ours(/-filter_complex/);
			expect(encoder).toBeDefined();

			process.kill(encoder!, 'SIGSTOP');
			const stopAt = Date.now();
			stop.abort(spaceEndedReason);
			stage.router.close();
			const fromStop = logs.length;

			// Every caption decoder is gone soon after the stop, while the job still drains (its encoder frozen).
			let goneAt: number | undefined;
			for (let i = 0; i < 100 && Date.now() - stopAt < captionsEndWithinMs && goneAt === undefined; i++) {
				if (decoders().length === 0) goneAt = Date.now();
				else await new Promise((resolve) => setTimeout(resolve, 50));
			}
			const stillRunning = endedAt === undefined;
			const decodersLeft = decoders().map(commandOf);
			process.kill(encoder!, 'SIGCONT');
			expect(await job).toBe('ended');
			const stopLog = logs.slice(fromStop).map((l) => `${l.at - stopAt} ms ${l.level} ${l.msg}`);
			expect(goneAt, `caption decoders left ${captionsEndWithinMs} ms after the stop: ${decodersLeft.join('; ')}\n${stopLog.join('\n')}`).toBeDefined();
			expect(stillRunning, 'the job had ended before the captions: the test shows nothing').toBe(true);
			// No decoder restarted against the space that ended, and nothing else about captions to warn of.
			expect(logs.slice(fromStop).filter((l) => l.level >= 40 || /restart/.test(l.msg)).map((l) => l.msg)).toEqual([]);
			expect(decoders()).toEqual([]);
			console.log(`caption decoders gone ${goneAt! - stopAt} ms after the stop; the job, its encoder frozen until then, ended after ${endedAt! - stopAt} ms`);

			// Nothing said before the stop is lost: the sentence in progress ended with a final, logged and in the transcript.
			const final = (await readCaptionLog(redis, prefix, spaceId)).find((c) => c.id === inProgress.id);
			expect(final?.text, `the final of "${inProgress.text}" (${inProgress.speakerName})`).toMatch(/\w/);
			const transcript = fs.readFileSync(path.join(dataDir, 'hls', spaceId, 'transcript.txt'), 'utf8');
			expect(transcript).toContain(`${final!.speakerName}: ${final!.text}`);
		} finally {
			if (encoder !== undefined) {
				try {
					process.kill(encoder, 'SIGCONT');
				} catch {
					// Already gone: nothing to wake.
				}
			}
			stop.abort(spaceEndedReason);
			await job;
			await client.close();
			server.close();
			redis.disconnect();
			subscriber.disconnect();
		}
	});
});
