import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import pino from 'pino';
import {
	buildHlsEncodePlan,
	connectRedis,
	HlsDiskWriter,
	Packager,
	RedisHlsPublisher,
	runHlsEncoder,
	type HlsEncodePlan,
	type HlsEncoderRun,
	type Rendition,
} from '@tribune/transcoder';
import { createOrigin } from '../../../src/origin/createOrigin.js';

export const testLadder: Rendition[] = [
	{ name: '360p', video: { width: 640, height: 360, kbps: 700 }, audioKbps: 96 },
	{ name: '180p', video: { width: 320, height: 180, kbps: 250 }, audioKbps: 64 },
	{ name: 'audio', audioKbps: 48 },
];

export interface LiveStreamOptions {
	redisUrl: string;
	partTargetMs?: number;
	/** Extra routes on the test server (the e2e page). */
	routes?: (app: Express) => void;
	/** Draw the wall clock of capture into the picture (benchmark). */
	videoFilter?: string;
	frameRate?: number;
	ladder?: Rendition[];
}

/**
 * The HLS path as it runs in production, in one test process: ffmpeg (paced test pattern and tone) → Packager →
 * Redis (real) → origin → HTTP on loopback. Each instance has its own Redis key prefix and data directory.
 */
export class LiveStream {
	readonly streamId = `t${randomUUID().replaceAll('-', '').slice(0, 12)}`;
	readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-origin-'));
	readonly packager: Packager;
	baseUrl = '';
	#encoder: HlsEncoderRun | undefined;
	readonly #server: http.Server;
	readonly #closers: (() => void)[] = [];
	readonly #publisher: RedisHlsPublisher;
	readonly #plan: HlsEncodePlan;
	/** Redis key prefix of this stream's feed. */
	readonly prefix = `test-${randomUUID()}`;

	constructor(options: LiveStreamOptions) {
		const logger = pino({ level: 'warn' });
		const prefix = this.prefix;
		const redis = connectRedis(options.redisUrl, 'test-packager');
		this.#closers.push(() => redis.disconnect());
		const ladder = options.ladder ?? testLadder;
		const fps = options.frameRate ?? 30;
		this.#plan = buildHlsEncodePlan({
			inputArgs: ['-re', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${fps}`, '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
			videoInput: '0:v',
			audioInput: '1:a',
			ladder,
			partTargetMs: options.partTargetMs ?? 200,
			segmentTargetMs: 1000,
			frameRate: fps,
			x264Preset: 'ultrafast',
			...(options.videoFilter ? { videoFilter: options.videoFilter } : {}),
		});
		this.#publisher = new RedisHlsPublisher(redis, prefix, this.streamId, { logger });
		this.packager = new Packager({
			streamId: this.streamId,
			renditions: ladder.map((r) => ({
				name: r.name,
				kind: r.video ? 'video' : 'audio',
				bandwidth: Math.round(((r.video?.kbps ?? 0) + r.audioKbps) * 1000 * 1.1),
				...(r.video ? { frameRate: fps } : {}),
			})),
			partTargetMs: options.partTargetMs ?? 200,
			// The keyframe interval the encode really has (whole parts of whole frames).
			segmentTargetMs: this.#plan.timing.segmentMs,
			subtitles: true,
			sink: this.#publisher,
			disk: new HlsDiskWriter(path.join(this.dataDir, 'hls'), this.streamId),
			logger,
		});
		const origin = createOrigin({ redisUrl: options.redisUrl, redisPrefix: prefix, dataDir: this.dataDir, windowSegments: 12, logger });
		this.#closers.push(origin.close);
		const app = express();
		options.routes?.(app);
		app.use('/hls', origin.router);
		this.#server = http.createServer(app);
		this.#server.keepAliveTimeout = 65_000;
	}

	async listen(): Promise<void> {
		await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
		this.baseUrl = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	/** Process id of the running ffmpeg. */
	get encoderPid(): number | undefined {
		return this.#encoder?.process.pid;
	}

	/** URL of a file of this stream on the origin. */
	url(relative: string): string {
		return `${this.baseUrl}/hls/${this.streamId}/${relative}`;
	}

	/** Starts a paced encoder run (`-re`); a second call after {@link stopEncoder} is an encoder restart. */
	startEncoder(): HlsEncoderRun {
		this.#encoder = runHlsEncoder('ffmpeg', this.#plan, this.packager, pino({ level: 'warn' }));
		return this.#encoder;
	}

	/** Stops the encoder the way a broadcast job does (SIGINT: ffmpeg writes its last fragment). */
	async stopEncoder(): Promise<void> {
		const encoder = this.#encoder;
		if (!encoder) return;
		this.#encoder = undefined;
		encoder.process.kill('SIGINT');
		await encoder.done;
	}

	/** Ends the broadcast: the replay is written and origins see EXT-X-ENDLIST. */
	async end(): Promise<void> {
		await this.stopEncoder();
		await this.packager.end();
		await this.#publisher.flush();
	}

	async close(): Promise<void> {
		const encoder = this.#encoder;
		if (encoder) {
			encoder.process.kill('SIGKILL');
			await encoder.done;
		}
		await this.#publisher.flush();
		this.#server.closeAllConnections();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
		for (const close of this.#closers) close();
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}
}
