import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/processes.js';
import { postJson } from './support/startTestNode.js';

const run = promisify(execFile);

// The whole system as `npm start` runs it (compiled; `npm test` builds first): launcher, private Redis, API node with
// its mediasoup workers, a transcoder process.
const root = path.resolve(import.meta.dirname, '../..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-e2e-'));
let tribune: ChildProcess | undefined;
let output = '';

afterAll(async () => {
	if (tribune?.pid && tribune.exitCode === null) {
		process.kill(-tribune.pid, 'SIGINT');
		await new Promise((resolve) => tribune!.once('exit', resolve));
	}
	fs.rmSync(dataDir, { recursive: true, force: true });
});


async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe().catch(() => undefined);
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output.slice(-3000)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

describe('a live space reaches its audience over LL-HLS', () => {
	it('broadcasts a synthetic speaker from the stage through a transcoder to the origin, keeps the replay and exports it as MP4', async () => {
		const port = await freePort();
		const base = `http://127.0.0.1:${port}`;
		const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', TRIBUNE_DATA_DIR: dataDir, SYNTHETIC_SPEAKERS: 'true', LOG_LEVEL: 'warn' };
		delete env.REDIS_URL;
		tribune = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		tribune.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
		tribune.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
		await until('a healthy node with a transcoder', async () => {
			const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; transcoders: number };
			return health.ok && health.transcoders > 0 ? true : undefined;
		}, 30_000);

		const created = await postJson(`${base}/api/spaces`, { title: 'End to end', hostName: 'Hana Host', settings: { video: false, recording: true } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const hostToken = created.body.token!;
		expect((await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
		expect((await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Robo', text: 'Hello listeners, this is a live broadcast from the stage.' }, hostToken)).status).toBe(201);

		// The transcoder took the job and the packager's parts reach the origin.
		const master = await until('the multivariant playlist', async () => {
			const res = await fetch(`${base}/hls/${spaceId}/master.m3u8`);
			return res.status === 200 ? res.text() : undefined;
		}, 30_000);
		expect(master).toMatch(/#EXT-X-STREAM-INF:[^\n]*CODECS="mp4a\.40\.2"/);
		expect(master).not.toMatch(/avc1/); // an audio-only space: no video renditions
		const media = await until('parts in the audio playlist', async () => {
			const text = await (await fetch(`${base}/hls/${spaceId}/audio/index.m3u8`)).text();
			return (text.match(/#EXT-X-PART:/g) ?? []).length >= 10 ? text : undefined;
		}, 30_000);
		expect(media).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART/);
		const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(media)![1]!;
		const bytes = Buffer.from(await (await fetch(`${base}/hls/${spaceId}/audio/${part}`)).arrayBuffer());
		expect(bytes.subarray(4, 8).toString()).toBe('moof');

		// Hosts see the broadcast's progress; listeners and strangers do not.
		const status = await until('live broadcast progress', async () => {
			const res = await fetch(`${base}/api/spaces/${spaceId}/broadcast`, { headers: { authorization: `Bearer ${hostToken}` } });
			const body = (await res.json()) as { state: string; progress?: { state: string; transcoder: string; speakers: number } };
			return res.status === 200 && body.progress?.state === 'live' ? body : undefined;
		}, 20_000);
		// On stage: the host (no microphone here) and the synthetic speaker.
		expect(status).toMatchObject({ state: 'active', progress: { state: 'live', speakers: 2, transcoder: expect.any(String) } });
		const listener = await postJson(`${base}/api/spaces/${spaceId}/join`, { displayName: 'Lena Listener' });
		expect((await fetch(`${base}/api/spaces/${spaceId}/broadcast`, { headers: { authorization: `Bearer ${listener.body.token!}` } })).status).toBe(403);
		expect((await fetch(`${base}/api/spaces/${spaceId}/broadcast`)).status).toBe(401);

		// The space ends: the broadcast ends with an ENDLIST and the replay stays on disk.
		expect((await postJson(`${base}/api/spaces/${spaceId}/end`, {}, hostToken)).status).toBe(200);
		await until('the end of the live playlist', async () => {
			const text = await (await fetch(`${base}/hls/${spaceId}/audio/index.m3u8`)).text();
			return text.includes('#EXT-X-ENDLIST') ? true : undefined;
		}, 20_000);
		await until('the replay playlist on disk', async () => (fs.existsSync(path.join(dataDir, 'hls', spaceId, 'audio', 'vod.m3u8')) ? true : undefined), 10_000);

		// The space was recorded: the API queued its MP4 export as it ended, and a transcoder made it.
		const exported = await until('the MP4 export', async () => {
			const status = (await (await fetch(`${base}/api/spaces/${spaceId}/export`)).json()) as { state: string; url?: string; bytes?: number };
			if (status.state === 'failed') throw new Error(`export failed: ${JSON.stringify(status)}`);
			return status.state === 'ready' ? status : undefined;
		}, 30_000);
		const download = await fetch(`${base}${exported.url!}`);
		expect(download.status).toBe(200);
		expect(download.headers.get('content-type')).toBe('audio/mp4');
		expect(download.headers.get('content-disposition')).toBe('attachment; filename="End-to-end.mp4"');
		const mp4 = path.join(dataDir, 'download.mp4');
		fs.writeFileSync(mp4, Buffer.from(await download.arrayBuffer()));
		expect(fs.statSync(mp4).size).toBe(exported.bytes);
		const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', mp4]);
		const probed = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
		expect(probed.streams.map((s) => s.codec_name)).toEqual(['aac']);
		const vod = fs.readFileSync(path.join(dataDir, 'hls', spaceId, 'audio', 'vod.m3u8'), 'utf8');
		const playlistS = [...vod.matchAll(/#EXTINF:([0-9.]+),/g)].reduce((sum, m) => sum + Number(m[1]), 0);
		expect(playlistS).toBeGreaterThan(1);
		expect(Math.abs(Number(probed.format.duration) - playlistS)).toBeLessThanOrEqual(0.5);
	});
});
