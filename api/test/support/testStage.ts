import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildRtpSenderPlan, loadIngestConfig, WorkerPool } from '@tribune/ingest';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';

/** A synthetic speaker's producers on the router, and the ffmpeg sending them. */
export interface TestSpeaker {
	audio: types.Producer;
	video?: types.Producer;
	/** Killed by {@link TestSpeakers.stop}, or earlier by a test that takes the speaker away. */
	process: ChildProcess;
}

export interface TestSpeakerOptions {
	toneHz: number;
	/** The voice's SSRC; the camera's is the next one. */
	ssrc: number;
	/** A camera of this solid colour (320×240, 25 fps); none without. */
	colour?: string;
	/** Default VP8. */
	codec?: 'VP8' | 'H264';
	/** How long the ffmpeg sends, s. Default 120. */
	durationS?: number;
}

/**
 * Synthetic speakers for tests of the stage and the standing encode: each an ffmpeg sending a tone (Opus) and, with a
 * colour, a test-pattern camera as RTP into plain transports of a mediasoup router (comedia, RTCP apart), produced
 * there as a browser's tracks would be. `stop()` kills every one (in `afterAll`).
 */
export class TestSpeakers {
	readonly #processes: ChildProcess[] = [];

	async add(router: types.Router, { toneHz, ssrc, colour, codec = 'VP8', durationS = 120 }: TestSpeakerOptions): Promise<TestSpeaker> {
		const ip = '127.0.0.1';
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = colour ? await router.createPlainTransport(options) : undefined;
		const plan = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc, payloadType: 100, source: { toneHz } },
			...(videoIn && colour && {
				video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: ssrc + 1, payloadType: 101, codec, width: 320, height: 240, fps: 25, pattern: { colour } },
			}),
			durationS,
		});
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		const video = videoIn && (await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! }));
		const process = spawn('ffmpeg', plan.args, { stdio: 'ignore' });
		this.#processes.push(process);
		return { audio, ...(video && { video }), process };
	}

	stop(): void {
		for (const process of this.#processes) process.kill('SIGKILL');
	}
}

/** What {@link stageForTests} gives a describe block. */
export interface StageForTests {
	/** A temporary directory, removed after the block. */
	readonly dir: string;
	readonly speakers: TestSpeakers;
	/** The space's router (from `beforeAll` on). */
	readonly router: types.Router;
	/** Run first after the block, before the speakers and the pool go: a broadcast a failed test left running. */
	stopFirst: (() => Promise<unknown>) | undefined;
}

/**
 * For a describe block that tests the standing encode: a one-worker mediasoup pool with a router for `spaceId`,
 * synthetic speakers and a temporary directory (`tmpPrefix`), all closed after the block.
 */
export function stageForTests(spaceId: string, tmpPrefix: string, logger: Logger): StageForTests {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
	const speakers = new TestSpeakers();
	let pool: WorkerPool | undefined;
	let router: types.Router | undefined;
	const stage: StageForTests = {
		dir,
		speakers,
		get router() {
			if (!router) throw new Error(`stageForTests: the router of ${spaceId} is made in beforeAll`);
			return router;
		},
		stopFirst: undefined,
	};
	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		router = await pool.createRouter({ spaceId });
	});
	afterAll(async () => {
		await stage.stopFirst?.();
		speakers.stop();
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});
	return stage;
}
