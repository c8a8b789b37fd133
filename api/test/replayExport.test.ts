import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectRedis, createExportRunner, ExportQueue, ExportWorker } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { audioLadder, recordReplay } from '../../transcoder/test/support/recordReplay.js';
import { IdentityCredentials } from '../src/auth/IdentityCredentials.js';
import { TokenIssuer } from '../src/auth/TokenIssuer.js';
import { createApp } from '../src/createApp.js';
import type { ExportStatus } from '../src/export/exportStatus.js';
import { createApiMetrics } from '../src/metrics.js';
import { RedisSpaceStore } from '../src/spaces/RedisSpaceStore.js';
import { asParticipantId, asSpaceId } from '../src/spaces/Space.js';
import { SpaceService } from '../src/spaces/SpaceService.js';
import { postJson } from './support/startTestNode.js';

// The REST side of replay exports: an API app with a real export queue on Redis (fresh prefix), a real export
// worker with real ffmpeg, and replays recorded by the real packager.
const logger = pino({ level: 'silent' });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-export-api-'));
const hlsRoot = path.join(dataDir, 'hls');
let redis: Redis;
let service: SpaceService;
let queue: ExportQueue;
let worker: ExportWorker;
let server: http.Server;
let base: string;

beforeAll(async () => {
	redis = connectRedis(inject('redisUrl'), 'test');
	const prefix = `test-${randomUUID()}`;
	const tokenKey = new TextEncoder().encode(randomUUID() + randomUUID());
	// Open hosting: the test creates its spaces anonymously.
	service = new SpaceService({ store: new RedisSpaceStore(redis, prefix), tokens: new TokenIssuer(tokenKey, { ttlS: 600, maxSessionS: 3600 }), identities: new IdentityCredentials(tokenKey), openHosting: true, maxSpeakersLimit: 25, idKey: tokenKey });
	queue = new ExportQueue(redis, prefix);
	worker = new ExportWorker({ redis, prefix, logger, run: createExportRunner({ hlsRoot, ffmpegPath: 'ffmpeg', replayPollMs: 100 }) });
	const health = async () => ({ ok: true, redis: 'up' as const, mediasoupWorkers: 0, transcoders: 0 });
	const app = createApp({ logger, metrics: createApiMetrics(), health, playerDir: '/nonexistent', spaces: { service }, replayExport: { service, queue, hlsRoot } });
	server = http.createServer(app);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
	server?.closeAllConnections();
	await new Promise((resolve) => server?.close(resolve));
	await worker?.close();
	await queue?.close();
	redis?.disconnect();
	fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A recorded space that went live, has a listener and a co-host, and ended. */
async function endedSpace(title: string, settings: Record<string, unknown> = { recording: true }) {
	const created = await postJson(`${base}/api/spaces`, { title, hostName: 'Hana Host', settings });
	expect(created.status).toBe(201);
	const spaceId = asSpaceId(created.body.space!.id);
	const hostToken = created.body.token!;
	const host = { spaceId, participantId: asParticipantId(created.body.participant!.id) };
	expect((await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
	const listenerToken = (await postJson(`${base}/api/spaces/${spaceId}/join`, { displayName: 'Lee' })).body.token!;
	const joined = await postJson(`${base}/api/spaces/${spaceId}/join`, { displayName: 'Cole' });
	const cohost = { spaceId, participantId: asParticipantId(joined.body.participant!.id) };
	await service.raiseHand(cohost);
	await service.approveHand(host, cohost.participantId);
	await service.setCoHost(host, cohost.participantId, true);
	expect((await postJson(`${base}/api/spaces/${spaceId}/end`, {}, hostToken)).status).toBe(200);
	return { spaceId, hostToken, listenerToken, cohostToken: joined.body.token! };
}

async function status(spaceId: string): Promise<{ status: number; body: ExportStatus }> {
	const res = await fetch(`${base}/api/spaces/${spaceId}/export`);
	return { status: res.status, body: (await res.json()) as ExportStatus };
}

async function untilState(spaceId: string, states: ExportStatus['state'][]): Promise<ExportStatus> {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const { body } = await status(spaceId);
		if (states.includes(body.state)) return body;
		if (Date.now() > deadline) throw new Error(`export of ${spaceId} still ${JSON.stringify(body)}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

describe('REST: replay export', () => {
	it('a host or co-host queues the export again after a failure; anyone reads its state and downloads the MP4 with Range requests', async () => {
		const { spaceId, hostToken, listenerToken, cohostToken } = await endedSpace('Friday Town Hall: Q&A');
		expect(await status(spaceId)).toEqual({ status: 200, body: { state: 'none', percent: 0 } });

		// The broadcast left a damaged replay (its playlist is missing): the export fails, with a reason, at once.
		fs.mkdirSync(path.join(hlsRoot, spaceId), { recursive: true });
		fs.writeFileSync(path.join(hlsRoot, spaceId, 'stream.json'), JSON.stringify({ descriptor: { renditions: [{ name: 'audio', kind: 'audio', bandwidth: 70400 }] }, endedAtMs: Date.now() }));
		expect((await postJson(`${base}/api/spaces/${spaceId}/export`, {}, hostToken)).status).toBe(202);
		expect(await untilState(spaceId, ['failed'])).toEqual({ state: 'failed', percent: 0, error: 'the replay has no audio playlist' });

		// Listeners may read the state, not act on it.
		const forbidden = await postJson(`${base}/api/spaces/${spaceId}/export`, {}, listenerToken);
		expect(forbidden.status).toBe(403);
		expect(forbidden.body.error?.code).toBe('forbidden');
		expect((await postJson(`${base}/api/spaces/${spaceId}/export`, {})).status).toBe(401);

		// The replay is whole again; a co-host retries (their token says listener: the role is read from the store).
		fs.rmSync(path.join(hlsRoot, spaceId), { recursive: true });
		await recordReplay({ hlsRoot, streamId: spaceId, runSeconds: [2, 2], ladder: audioLadder });
		const retried = await postJson(`${base}/api/spaces/${spaceId}/export`, {}, cohostToken);
		expect(retried.status).toBe(202);
		const ready = await untilState(spaceId, ['ready', 'failed']);
		const file = path.join(hlsRoot, spaceId, 'replay.mp4');
		expect(ready).toEqual({ state: 'ready', percent: 100, bytes: fs.statSync(file).size, url: `/api/spaces/${spaceId}/replay.mp4` });
		// Asking again while it is ready changes nothing.
		const again = await postJson(`${base}/api/spaces/${spaceId}/export`, {}, hostToken);
		expect(again.status).toBe(200);

		const whole = await fetch(`${base}${ready.url!}`);
		expect(whole.status).toBe(200);
		expect(whole.headers.get('content-type')).toBe('audio/mp4');
		expect(whole.headers.get('content-length')).toBe(String(ready.bytes));
		expect(whole.headers.get('accept-ranges')).toBe('bytes');
		expect(whole.headers.get('content-disposition')).toBe('attachment; filename="Friday-Town-Hall-Q-A.mp4"');
		expect(Buffer.from(await whole.arrayBuffer()).equals(fs.readFileSync(file))).toBe(true);

		const part = await fetch(`${base}${ready.url!}`, { headers: { range: 'bytes=100-199' } });
		expect(part.status).toBe(206);
		expect(part.headers.get('content-range')).toBe(`bytes 100-199/${ready.bytes}`);
		expect(Buffer.from(await part.arrayBuffer()).equals(fs.readFileSync(file).subarray(100, 200))).toBe(true);
		const beyond = await fetch(`${base}${ready.url!}`, { headers: { range: `bytes=${ready.bytes! + 10}-` } });
		expect(beyond.status).toBe(416);
		expect(beyond.headers.get('content-range')).toBe(`bytes */${ready.bytes}`);
	});

	it("adds the replay's transcript as a mov_text subtitle track with speaker names; none without a transcript", async () => {
		const withCaptions = await endedSpace('Captioned');
		const without = await endedSpace('Uncaptioned');
		// The broadcast writes the transcript before the stream.json that marks its replay complete.
		fs.mkdirSync(path.join(hlsRoot, withCaptions.spaceId), { recursive: true });
		fs.writeFileSync(
			path.join(hlsRoot, withCaptions.spaceId, 'transcript.vtt'),
			'WEBVTT\n\n00:00:00.500 --> 00:00:01.500\n<v Ann Lee>Hello &amp; welcome\n\n00:00:02.200 --> 00:00:03.400\n<v Bob>Thanks, Ann\n',
		);
		for (const { spaceId } of [withCaptions, without]) await recordReplay({ hlsRoot, streamId: spaceId, runSeconds: [2, 2], ladder: audioLadder });
		for (const { spaceId, hostToken } of [withCaptions, without]) expect((await postJson(`${base}/api/spaces/${spaceId}/export`, {}, hostToken)).status).toBe(202);
		for (const { spaceId } of [withCaptions, without]) expect((await untilState(spaceId, ['ready', 'failed'])).state).toBe('ready');

		const streams = (spaceId: string) =>
			(JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:stream_tags=language', '-of', 'json', path.join(hlsRoot, spaceId, 'replay.mp4')], { encoding: 'utf8' })) as {
				streams: { codec_type: string; codec_name: string; tags?: { language?: string } }[];
			}).streams;
		expect(streams(withCaptions.spaceId)).toEqual([
			expect.objectContaining({ codec_type: 'audio', codec_name: 'aac' }),
			expect.objectContaining({ codec_type: 'subtitle', codec_name: 'mov_text', tags: expect.objectContaining({ language: 'eng' }) }),
		]);
		expect(streams(without.spaceId).map((s) => s.codec_type)).toEqual(['audio']);
		// The cues, read back from the MP4, keep their times on the replay's timeline and who said them.
		const srt = execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(hlsRoot, withCaptions.spaceId, 'replay.mp4'), '-map', '0:s', '-f', 'srt', '-'], { encoding: 'utf8' });
		expect(srt.replaceAll('\r', '')).toBe('1\n00:00:00,500 --> 00:00:01,500\nAnn Lee: Hello & welcome\n\n2\n00:00:02,200 --> 00:00:03,400\nBob: Thanks, Ann\n\n');
	});

	it('refuses an export of a space that is live or was not recorded, and a token for another space', async () => {
		const live = await postJson(`${base}/api/spaces`, { title: 'Live', hostName: 'Hana', settings: { recording: true } });
		const liveId = live.body.space!.id;
		expect((await postJson(`${base}/api/spaces/${liveId}/start`, {}, live.body.token)).status).toBe(200);
		const notEnded = await postJson(`${base}/api/spaces/${liveId}/export`, {}, live.body.token);
		expect(notEnded.status).toBe(409);
		expect(notEnded.body.error?.message).toMatch(/ended/);

		const unrecorded = await endedSpace('Off the record', { recording: false });
		const refused = await postJson(`${base}/api/spaces/${unrecorded.spaceId}/export`, {}, unrecorded.hostToken);
		expect(refused.status).toBe(409);
		expect(refused.body.error?.message).toMatch(/not recorded/);
		expect((await postJson(`${base}/api/spaces/${liveId}/export`, {}, unrecorded.hostToken)).status).toBe(403);
	});

	it('404 for an unknown space or a missing MP4, 400 for an id that is not one', async () => {
		const unknown = 'A'.repeat(22);
		expect((await status(unknown)).status).toBe(404);
		expect((await fetch(`${base}/api/spaces/${unknown}/replay.mp4`)).status).toBe(404);
		expect((await postJson(`${base}/api/spaces/${unknown}/export`, {})).status).toBe(401);
		const { spaceId } = await endedSpace('Nothing yet');
		expect(await status(spaceId)).toEqual({ status: 200, body: { state: 'none', percent: 0 } });
		const missing = await fetch(`${base}/api/spaces/${spaceId}/replay.mp4`);
		expect(missing.status).toBe(404);
		expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
		for (const bad of ['a.b', 'a%2Fb', 'x'.repeat(65), 'a%20b']) {
			expect((await fetch(`${base}/api/spaces/${bad}/export`)).status, bad).toBe(400);
			expect((await fetch(`${base}/api/spaces/${bad}/replay.mp4`)).status, bad).toBe(400);
		}
	});
});
