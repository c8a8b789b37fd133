import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { computeLayout, type Layout } from '@tribune/transcoder';
import { afterAll, describe, expect, it } from 'vitest';
import { SignalingClient } from './support/SignalingClient.js';
import { freePort } from './support/processes.js';
import { postJson } from './support/startTestNode.js';

// The whole system as `npm start` runs it (compiled; `npm test` builds first): launcher, private Redis, API node with
// its mediasoup worker, a transcoder process. Three synthetic speakers, each a solid-colour camera and an espeak-ng
// voice, on a video space; what a listener gets is read back from the origin and decoded with ffmpeg.
const root = path.resolve(import.meta.dirname, '../..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-composite-'));
const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-composite-media-'));
const execFileAsync = promisify(execFile);
let tribune: ChildProcess | undefined;
let host: SignalingClient | undefined;
let output = '';

afterAll(async () => {
	host?.close();
	if (tribune?.pid && tribune.exitCode === null) {
		const exited = new Promise((resolve) => tribune!.once('exit', resolve));
		process.kill(-tribune.pid, 'SIGINT');
		const timer = setTimeout(() => process.kill(-tribune!.pid!, 'SIGKILL'), 20_000);
		await exited;
		clearTimeout(timer);
	}
	fs.rmSync(dataDir, { recursive: true, force: true });
	fs.rmSync(mediaDir, { recursive: true, force: true });
});

/** The broadcast canvas and the rendition read back: the transcoder composes at 1280×720 and encodes 720p as is. */
const canvas = { width: 1280, height: 720 };
const rendition = '720p';
/** Pure colours, far apart in YUV; the host (no camera) is an initials tile in Tribune's dark grey. */
const speakers = [
	{ displayName: 'Red', colour: '#ff0000', rgb: [255, 0, 0] },
	{ displayName: 'Green', colour: '#00ff00', rgb: [0, 255, 0] },
	{ displayName: 'Blue', colour: '#0000ff', rgb: [0, 0, 255] },
] as const;
/** Largest per-channel difference, 0–255, still taken as the same colour after VP8, scaling and x264. */
const colourTolerance = 32;
/** Below this, dBFS, a segment is silent (a muted speaker's gap filler sends digital silence). */
const silenceDb = -60;
/** How much louder, dB, the near channel must be than the far one for a panned voice. */
const panMarginDb = 3;
const say = 'This is a synthetic speaker on the Tribune stage. I keep talking, so that every second of the broadcast carries my voice.';

/** Polls `probe` until it gives a value; `describe` says what the last attempt saw, for the timeout message. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, describe: () => string = () => ''): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last = '';
	for (;;) {
		const value = await probe().then(
			(v) => {
				last = describe();
				return v;
			},
			(error: unknown) => {
				last = String(error);
				return undefined;
			},
		);
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last attempt: ${last})\n${output.slice(-3000)}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}

interface Segment {
	msn: number;
	uri: string;
	/** The init section (EXT-X-MAP) of the encoder run the segment belongs to. */
	init: string;
}

/** The complete segments of a media playlist, each with the init section it needs. */
function segmentsOf(playlist: string): Segment[] {
	const segments: Segment[] = [];
	let init: string | undefined;
	for (const line of playlist.split('\n')) {
		const map = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
		if (map) init = map[1];
		const segment = /^seg-(\d+)\.m4s$/.exec(line);
		if (segment && init) segments.push({ msn: Number(segment[1]), uri: line, init });
	}
	return segments;
}

class Origin {
	readonly #loudness = new Map<number, number>();

	constructor(
		readonly base: string,
		readonly spaceId: string,
	) {}

	async bytes(file: string): Promise<Buffer> {
		const res = await fetch(`${this.base}/hls/${this.spaceId}/${rendition}/${file}`);
		if (res.status !== 200) throw new Error(`GET ${file}: ${res.status}`);
		return Buffer.from(await res.arrayBuffer());
	}

	async segments(): Promise<Segment[]> {
		return segmentsOf((await this.bytes('index.m3u8')).toString('utf8'));
	}

	/** The newest complete segment's number, or -1 before the first. */
	async newestMsn(): Promise<number> {
		return (await this.segments()).at(-1)?.msn ?? -1;
	}

	/** Writes init + segments (all of one encoder run) into one playable fMP4 file. */
	async file(segments: Segment[], name: string): Promise<string> {
		const init = segments[0]!.init;
		if (segments.some((s) => s.init !== init)) throw new Error('the segments span an encoder restart');
		const parts = [await this.bytes(init), ...(await Promise.all(segments.map((s) => this.bytes(s.uri))))];
		const file = path.join(mediaDir, name);
		fs.writeFileSync(file, Buffer.concat(parts));
		return file;
	}

	/** Loudest channel of one segment, dBFS (decoded once, then remembered). */
	async loudnessDb(segment: Segment): Promise<number> {
		let db = this.#loudness.get(segment.msn);
		if (db === undefined) {
			const { left, right } = await channelRmsDb(await this.file([segment], 'probe.mp4'));
			db = Math.max(left, right);
			this.#loudness.set(segment.msn, db);
		}
		return db;
	}

	/**
	 * Waits for `count` consecutive silent segments after `afterMsn` and returns the last one's number. Mutes asked for
	 * before `afterMsn` was listed have then reached the stream, however long the media path took.
	 */
	async quietAfter(afterMsn: number, count: number, timeoutMs: number): Promise<number> {
		let checked = afterMsn;
		let quiet = 0;
		return until(`${count} silent segments after #${afterMsn}`, async () => {
			for (const segment of (await this.segments()).filter((s) => s.msn > checked)) {
				quiet = (await this.loudnessDb(segment)) < silenceDb ? quiet + 1 : 0;
				checked = segment.msn;
				if (quiet >= count) return segment.msn;
			}
			return undefined;
		}, timeoutMs, () => `${quiet} silent segments up to #${checked}`);
	}

	/**
	 * `count` segments of one encoder run, as one file, from the one after the first segment after `afterMsn` that is not
	 * silent: that one may hold only the voice's first instant (CI once measured −45.2 dB, against a bound of −45, over
	 * a window that began with it).
	 */
	async voiceAfter(afterMsn: number, count: number, name: string, timeoutMs: number): Promise<string> {
		let checked = afterMsn;
		return until(`a voice after #${afterMsn}`, async () => {
			const fresh = (await this.segments()).filter((s) => s.msn > checked);
			for (const [i, segment] of fresh.entries()) {
				if ((await this.loudnessDb(segment)) < silenceDb) {
					checked = segment.msn;
					continue;
				}
				const window = fresh.slice(i + 1, i + 1 + count);
				if (window.length < count) return undefined; // the rest is not out yet
				if (window.some((s) => s.init !== segment.init)) {
					checked = segment.msn; // a new encoder run inside the window: start later
					continue;
				}
				return this.file(window, name);
			}
			return undefined;
		}, timeoutMs);
	}
}

async function run(program: string, args: string[]): Promise<Buffer> {
	const { stdout } = await execFileAsync(program, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
	return stdout;
}

/** The first video frame of a file, as rgb24. */
async function firstFrame(file: string): Promise<Buffer> {
	const frame = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
	if (frame.length !== canvas.width * canvas.height * 3) throw new Error(`frame of ${frame.length} bytes`);
	return frame;
}

/** Mean colour of the 9×9 block around (x, y). */
function colourAt(frame: Buffer, x: number, y: number): [number, number, number] {
	const sum = [0, 0, 0];
	for (let dy = -4; dy <= 4; dy++) {
		for (let dx = -4; dx <= 4; dx++) {
			const offset = ((y + dy) * canvas.width + (x + dx)) * 3;
			for (let c = 0; c < 3; c++) sum[c]! += frame[offset + c]!;
		}
	}
	return sum.map((v) => Math.round(v / 81)) as [number, number, number];
}

function sameColour(found: readonly number[], expected: readonly number[]): boolean {
	return found.every((v, c) => Math.abs(v - expected[c]!) <= colourTolerance);
}

function centreOf(layout: Layout, speakerId: string): { x: number; y: number } {
	const tile = layout.tiles.find((t) => t.speakerId === speakerId)!;
	return { x: tile.x + Math.floor(tile.width / 2), y: tile.y + Math.floor(tile.height / 2) };
}

/** Per-channel RMS of a file's audio, dBFS. */
async function channelRmsDb(file: string): Promise<{ left: number; right: number }> {
	const pcm = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a:0', '-f', 'f32le', '-ac', '2', '-ar', '48000', 'pipe:1']);
	const samples = new Float32Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength - (pcm.byteLength % 8)));
	const energy = [0, 0];
	for (let i = 0; i < samples.length; i++) energy[i % 2]! += samples[i]! ** 2;
	const db = (e: number) => 10 * Math.log10(e / (samples.length / 2) + 1e-20);
	return { left: db(energy[0]!), right: db(energy[1]!) };
}

const round1 = (value: number) => Math.round(value * 10) / 10;

describe('the broadcast composite and spatial mix, end to end', () => {
	it('shows each speaker\'s camera in its tile, the pinned one on top, and pans each voice towards its tile', { timeout: 180_000 }, async ({ annotate }) => {
		const port = await freePort();
		const base = `http://127.0.0.1:${port}`;
		const env: NodeJS.ProcessEnv = {
			...process.env,
			PORT: String(port),
			HOST: '127.0.0.1',
			TRIBUNE_DATA_DIR: dataDir,
			SYNTHETIC_SPEAKERS: 'true',
			LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
			MEDIASOUP_NUM_WORKERS: '1',
			// The first encoder run encodes 720p however busy the machine: the test reads the 720p composite.
			TRIBUNE_BROADCAST_START_IDLE_CORES: '0',
			// Nor does it shed work later: the test follows one encoder run from the grid to the pin, and a level change
			// on a busy CI machine started new runs in between.
			TRIBUNE_BROADCAST_MAX_SHED: '0',
		};
		delete env.REDIS_URL;
		tribune = spawn(process.execPath, [path.join(root, 'api/dist/start.js')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		tribune.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
		tribune.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
		await until('a healthy node with a transcoder', async () => {
			const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; transcoders: number };
			return health.ok && health.transcoders > 0 ? true : undefined;
		}, 30_000);

		const created = await postJson(`${base}/api/spaces`, { title: 'Composite', hostName: 'Hana Host', settings: { video: true } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const hostToken = created.body.token!;
		expect((await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
		host = await SignalingClient.connect(`ws://127.0.0.1:${port}/ws`, hostToken);
		const origin = new Origin(base, spaceId);
		const addUrl = `${base}/api/spaces/${spaceId}/synthetic-speakers`;

		// Only #rrggbb reaches the camera's lavfi graph, and only with a camera.
		for (const colour of ['red', '#ff0000,drawtext=text=x', '#f00']) {
			expect((await postJson(addUrl, { displayName: 'Bad', text: 'x', video: true, colour }, hostToken)).status).toBe(400);
		}
		expect((await postJson(addUrl, { displayName: 'Bad', text: 'x', colour: '#ff0000' }, hostToken)).status).toBe(400);

		const colourOf = new Map<string, readonly number[]>();
		for (const speaker of speakers) {
			const added = await postJson(addUrl, { displayName: speaker.displayName, text: say, video: true, colour: speaker.colour }, hostToken);
			expect(added.status).toBe(201);
			colourOf.set(added.body.participant!.id, speaker.rgb);
		}
		const [red, green, blue] = [...colourOf.keys()] as [string, string, string];
		// The layout the transcoder computes from the stage (stage order: the host, then the speakers as they joined).
		const layoutFor = async (): Promise<Layout> => {
			const state = await host!.request('getState');
			return computeLayout({ speakers: state.stage.map((p) => ({ id: p.id, name: p.displayName, video: colourOf.has(p.id), muted: false })), pinned: state.pinned }, canvas);
		};
		let seen = 'no segment yet';
		const showsLayout = async (layout: Layout, name: string, sinceMsn: number) => {
			const newest = (await origin.segments()).filter((s) => s.msn > sinceMsn).at(-1);
			if (!newest) return undefined;
			const file = await origin.file([newest], name);
			const frame = await firstFrame(file);
			const found = new Map([...colourOf.keys()].map((id) => [id, colourAt(frame, centreOf(layout, id).x, centreOf(layout, id).y)]));
			seen = `segment ${newest.msn} (${newest.init}): ${JSON.stringify([...found.values()])} at the speakers' tile centres`;
			return [...found].every(([id, colour]) => sameColour(colour, colourOf.get(id)!)) ? { file, found, init: newest.init } : undefined;
		};

		// A listener starts from the multivariant playlist, which offers the 720p composite.
		const master = await until('the multivariant playlist', async () => {
			const res = await fetch(`${base}/hls/${spaceId}/master.m3u8`);
			return res.status === 200 ? res.text() : undefined;
		}, 30_000);
		expect(master).toMatch(/#EXT-X-STREAM-INF:[^\n]*RESOLUTION=1280x720[^\n]*\n720p\/index\.m3u8/);

		// Unpinned, four on stage make a 2×2 grid: every camera lands in its own tile.
		const grid = await layoutFor();
		expect(grid.tiles.map((t) => t.speakerId).slice(1)).toEqual([red, green, blue]);
		const gridShown = await until('every camera in its grid tile', () => showsLayout(grid, 'grid.mp4', -1), 60_000, () => seen);

		// Spatial mix: one voice at a time. The host mutes everyone (paused at the SFU: digital silence in the mix) and
		// waits until the stream is silent; after that, whatever is heard comes from the one speaker unmuted next.
		const pans = grid.tiles.filter((t) => colourOf.has(t.speakerId)).sort((a, b) => a.pan - b.pan);
		const [leftTile, rightTile] = [pans[0]!, pans.at(-1)!];
		expect([leftTile.pan < 0, rightTile.pan > 0]).toEqual([true, true]);
		const levels: Record<string, { pan: number; left: number; right: number }> = {};
		for (const [side, tile] of [['left', leftTile], ['right', rightTile]] as const) {
			const { stage } = await host.request('getState');
			for (const id of colourOf.keys()) if (stage.find((p) => p.id === id)!.mute === 'none') await host.request('mute', { participantId: id });
			const quiet = await origin.quietAfter(await origin.newestMsn(), 2, 30_000);
			await host.request('unmute', { participantId: tile.speakerId });
			const rms = await channelRmsDb(await origin.voiceAfter(quiet, 3, `${side}.mp4`, 30_000));
			levels[side] = { pan: tile.pan, left: round1(rms.left), right: round1(rms.right) };
			const [near, far] = side === 'left' ? [rms.left, rms.right] : [rms.right, rms.left];
			expect(near, `${side}: the voice reaches the stream (${JSON.stringify(levels[side])})`).toBeGreaterThan(-45);
			expect(near - far, `${side}-panned voice: near minus far channel, dB`).toBeGreaterThanOrEqual(panMarginDb);
		}

		// Pinning a speaker moves them alone to the top row and the others to a row below, in the running encode: the
		// same encoder run (the same init section) shows both layouts, so a pin never restarts ffmpeg.
		const pinnedAt = await origin.newestMsn();
		await host.request('pin', { participantId: blue });
		const pinned = await layoutFor();
		expect(pinned.tiles[0]).toMatchObject({ speakerId: blue, pinned: true });
		const shown = await until('the pinned speaker on top', () => showsLayout(pinned, 'pinned.mp4', pinnedAt), 60_000, () => seen);
		const top = pinned.tiles[0]!;
		for (const id of [red, green]) expect(centreOf(pinned, id).y).toBeGreaterThan(top.y + top.height);
		// A new run in between (a crash, a level change) is told by the node's log.
		expect(shown.init, `the pinned layout comes from the encoder run that showed the grid\n${output.slice(-3000)}`).toBe(gridShown.init);

		// What a listener's player gets: H.264 1280×720 and stereo AAC.
		const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', shown.file])).toString('utf8')) as {
			streams: { codec_type: string; codec_name: string; width?: number; height?: number; channels?: number }[];
		};
		expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
		expect(probe.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac', channels: 2 });

		const names = new Map([[red, 'red'], [green, 'green'], [blue, 'blue']]);
		const named = (found: Map<string, number[]>) => Object.fromEntries([...found].map(([id, c]) => [names.get(id), c]));
		await annotate(JSON.stringify({ gridColours: named(gridShown.found), pinnedColours: named(shown.found), levels }));
	});
});
