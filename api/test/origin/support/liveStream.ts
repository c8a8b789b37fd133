import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import pino from 'pino';
import {
	buildHlsEncodePlan,
	connectRedis,
	HlsDiskWriter,
	Packager,
	planStreamResume,
	readFeedPosition,
	readReplayJournals,
	RedisHlsPublisher,
	renditionBandwidth,
	type PackagerOptions,
	runHlsEncoder,
	type HlsEncodePlan,
	type HlsEncoderRun,
	type Rendition,
} from '@tribune/transcoder';
import { createOrigin } from '../../../src/origin/createOrigin.js';
import { get, until } from './fetchText.js';
import { parseMediaPlaylist, type ParsedMediaPlaylist } from './parsePlaylist.js';

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
	/** Sees every request first, `/hls/…` included (which the origin answers ahead of Express, as in main.ts). */
	onRequest?: (req: http.IncomingMessage) => void;
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
	packager: Packager;
	baseUrl = '';
	#encoder: HlsEncoderRun | undefined;
	readonly #server: http.Server;
	readonly #closers: (() => void)[] = [];
	readonly #redis: Redis;
	readonly #publisher: RedisHlsPublisher;
	readonly #plan: HlsEncodePlan;
	readonly #disk: HlsDiskWriter;
	readonly #packagerOptions: PackagerOptions;
	/** When each part of the first rendition left the packager (wall clock, ms) and how long it plays. */
	readonly #parts: { atMs: number; durationS: number }[] = [];
	/** Runs {@link startRun} replaced, killed at {@link close} if still running. */
	readonly #replaced: HlsEncoderRun[] = [];
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
		this.#disk = new HlsDiskWriter(path.join(this.dataDir, 'hls'), this.streamId);
		this.#packagerOptions = {
			streamId: this.streamId,
			renditions: ladder.map((r) => ({
				name: r.name,
				kind: r.video ? 'video' : 'audio',
				bandwidth: renditionBandwidth(r, { fps, partTargetMs: options.partTargetMs ?? 200, segmentTargetMs: this.#plan.timing.segmentMs }),
				...(r.video ? { frameRate: fps } : {}),
			})),
			partTargetMs: options.partTargetMs ?? 200,
			// The keyframe interval the encode really has (whole parts of whole frames).
			segmentTargetMs: this.#plan.timing.segmentMs,
			subtitles: true,
			sink: {
				publish: (message) => {
					const { event } = message;
					if (event.type === 'part' && event.rendition === ladder[0]?.name) this.#parts.push({ atMs: Date.now(), durationS: event.durationS });
					this.#publisher.publish(message);
				},
			},
			disk: this.#disk,
			logger,
		};
		this.packager = new Packager(this.#packagerOptions);
		// As a space whose caption mode shows sidecar captions: the subtitles are DEFAULT=YES, so players show them.
		this.packager.setSubtitlesDefault(true);
		this.#redis = redis;
		const origin = createOrigin({ redisUrl: options.redisUrl, redisPrefix: prefix, dataDir: this.dataDir, windowSegments: 12, logger });
		this.#closers.push(origin.close);
		const app = express();
		options.routes?.(app);
		app.use('/hls', origin.router);
		// As main.ts serves it: /hls/… ahead of Express, anything else (and /HLS/…) through the app's router.
		this.#server = http.createServer((req, res) => {
			options.onRequest?.(req);
			if (!origin.serveHls(req, res)) app(req, res);
		});
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

	/**
	 * How far the encoder fell behind the wall clock between `fromMs` and `toMs` (ms since the epoch), ms: the largest
	 * growth of (wall time since the first part − media time produced) over that interval. A paced source that keeps
	 * up stays near 0; a player can only stall for want of media when this grows by about its buffer.
	 */
	sourceLagGrowthMs(fromMs: number, toMs: number): number {
		const first = this.#parts[0];
		if (!first) return 0;
		let producedS = 0;
		let lowest = Infinity;
		let growth = 0;
		for (const part of this.#parts) {
			producedS += part.durationS;
			if (part.atMs > toMs) break;
			if (part.atMs < fromMs) continue;
			const lagMs = part.atMs - first.atMs - producedS * 1000;
			lowest = Math.min(lowest, lagMs);
			growth = Math.max(growth, lagMs - lowest);
		}
		return growth;
	}

	/** Polls a rendition's live playlist (up to 20 s) until `accept` takes it. */
	playlistWith(rendition: string, what: string, accept: (p: ParsedMediaPlaylist) => boolean): Promise<ParsedMediaPlaylist> {
		return until(async () => {
			const reply = await get(this.url(`${rendition}/index.m3u8`));
			if (reply.status !== 200) return undefined;
			const playlist = parseMediaPlaylist(reply.text);
			return accept(playlist) ? playlist : undefined;
		}, 20_000, what);
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

	/**
	 * Starts encoder run `run` while the run on air goes on, as the broadcast runner does at a stage change (make
	 * before break): the packager puts it on air once it can take over. Numbers above the runs {@link startEncoder}
	 * started; the run replaced is the caller's to stop. It becomes the encoder {@link stopEncoder} and {@link end} stop.
	 */
	startRun(run: number): HlsEncoderRun {
		const replaced = this.#encoder;
		if (replaced) this.#replaced.push(replaced);
		this.#encoder = runHlsEncoder('ffmpeg', this.#plan, this.packager, pino({ level: 'warn' }), run);
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

	/**
	 * What happens when the transcoder running a broadcast dies and another takes the job over: the encoder is
	 * killed, the packager is abandoned mid-segment, and a new packager continues the stream from the Redis feed and
	 * the replay journal; then a new encoder run starts.
	 */
	async takeOver(): Promise<void> {
		const encoder = this.#encoder;
		this.#encoder = undefined;
		if (encoder) {
			encoder.process.kill('SIGKILL');
			await encoder.done;
		}
		await this.#publisher.flush();
		await this.#disk.flush();
		const names = this.#packagerOptions.renditions.map((r) => r.name);
		const feed = await readFeedPosition(this.#redis, this.prefix, this.streamId);
		if (feed.state === 'ended') throw new Error('the stream has ended');
		const resume = planStreamResume(feed, await readReplayJournals(this.#disk, names), names);
		this.packager = new Packager({ ...this.#packagerOptions, ...(resume && { resume }) });
		this.packager.setSubtitlesDefault(true);
		this.startEncoder();
	}

	/** Ends the broadcast: the replay is written and origins see EXT-X-ENDLIST. */
	async end(): Promise<void> {
		await this.stopEncoder();
		await this.packager.end();
		await this.#publisher.flush();
	}

	async close(): Promise<void> {
		for (const encoder of [...this.#replaced, this.#encoder]) {
			if (!encoder || encoder.process.exitCode !== null || encoder.process.signalCode !== null) continue;
			encoder.process.kill('SIGKILL');
			await encoder.done.catch(() => undefined);
		}
		await this.#publisher.flush();
		this.#server.closeAllConnections();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
		for (const close of this.#closers) close();
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}
}
