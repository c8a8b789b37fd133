import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadIngestConfig, WorkerPool } from '@tribune/ingest';
import type { types } from 'mediasoup';
import { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { produceWav } from './wavProducer.js';

/** What `useWavStage` gives a suite: a temporary directory and a router whose speakers are WAV files. */
export interface WavStage {
	dir: string;
	/** Set in `beforeAll`. */
	router: types.Router;
	/** A speaker sending `wav` on a loop (ffmpeg, killed after the suite); its audio producer. */
	produce(wav: string, ssrc: number): Promise<types.Producer>;
}

/**
 * Registers the suite's hooks for a one-worker mediasoup router of `spaceId` and its WAV speakers, and a temporary
 * directory (`tmpPrefix`), all gone after the suite. Call it inside `describe`.
 */
export function useWavStage(spaceId: string, tmpPrefix: string, logger: Logger): WavStage {
	const senders: ChildProcess[] = [];
	let pool: WorkerPool | undefined;
	const stage: WavStage = {
		dir: fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix)),
		router: undefined as unknown as types.Router,
		produce: (wav, ssrc) => produceWav(stage.router, wav, ssrc, senders),
	};
	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		stage.router = await pool.createRouter({ spaceId });
	});
	afterAll(() => {
		for (const child of senders) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(stage.dir, { recursive: true, force: true });
	});
	return stage;
}
