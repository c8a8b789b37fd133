import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { allocateUdpPortPair, buildRtpSenderPlan, loadIngestConfig, waitForUdpPortsBound, WorkerPool } from '@tribune/ingest';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseVp8Descriptor, readRtpPacket, Vp8SlotRelay } from '../src/broadcast/Vp8SlotRelay.js';
import { vp8RepeatFrame } from '../src/broadcast/vp8RepeatFrame.js';
import { readIvfFrames, writeIvf } from './support/ivf.js';

// Real UDP sockets and a real ffmpeg decoding the relay's output: a slot's video goes filler → camera A → camera B
// (other SSRC and sequence/timestamp/picture-ID bases) → filler (B paused) → B → filler (slot emptied), and ffmpeg
// must decode every part at its own size without breaking the stream.

const closers: (() => void)[] = [];
afterEach(() => {
	for (const close of closers.splice(0).reverse()) close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(20);
	}
}

let workDir: string;
/** VP8 frames of two cameras (libvpx, realtime, a keyframe every 25 frames), read from IVF files. */
let cameraA: Buffer[];
let cameraB: Buffer[];

beforeAll(async () => {
	workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-vp8relay-'));
	[cameraA, cameraB] = await Promise.all([encodeIvf('testsrc=s=320x180:r=25', 'a.ivf'), encodeIvf('testsrc2=s=176x144:r=25', 'b.ivf')]);
});
afterAll(async () => {
	await fs.rm(workDir, { recursive: true, force: true });
});

async function encodeIvf(source: string, name: string): Promise<Buffer[]> {
	const file = path.join(workDir, name);
	const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-frames:v', '100', '-c:v', 'libvpx',
		'-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', '25', '-keyint_min', '25', '-f', 'ivf', '-y', file];
	await new Promise<void>((resolve, reject) => {
		const ffmpeg = spawn('ffmpeg', args, { stdio: 'ignore' });
		ffmpeg.once('error', reject);
		ffmpeg.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
	});
	return readIvfFrames(await fs.readFile(file));
}

type Style = 'ffmpeg' | 'chrome';

/**
 * A camera's RTP sender: RFC 7741 packets of ≤ 1000 bytes with a 15-bit picture ID; 'chrome' also carries TL0PICIDX
 * and a TID byte, as libwebrtc does. Plays its frames in a loop at 25 fps from a given frame.
 */
class Camera {
	readonly #socket = dgram.createSocket('udp4');
	#seq: number;
	#ts: number;
	#pictureId: number;
	#playing: AbortController | undefined;
	sentFrames = 0;

	constructor(
		readonly ssrc: number,
		readonly frames: Buffer[],
		readonly style: Style,
		readonly port: number,
		bases: { seq: number; ts: number; pictureId: number },
	) {
		this.#seq = bases.seq;
		this.#ts = bases.ts;
		this.#pictureId = bases.pictureId;
		closers.push(() => {
			this.stop();
			this.#socket.close();
		});
	}

	/** Sends from frame `from` on (a keyframe every 25), until stop(). A paused camera sends nothing. */
	play(from: number): void {
		this.stop();
		const playing = new AbortController();
		this.#playing = playing;
		void (async () => {
			const started = Date.now();
			for (let i = 0; !playing.signal.aborted && i < 2000; i++) {
				this.#sendFrame(this.frames[(from + i) % this.frames.length]!);
				this.sentFrames++;
				// Paced by the wall clock, so a late timer does not slow the camera down for good.
				await sleep(Math.max(0, started + (i + 1) * 40 - Date.now()));
			}
		})();
	}

	stop(): void {
		this.#playing?.abort();
		// A paused producer's timestamps go on with the wall clock when it resumes.
		this.#ts = (this.#ts + 90 * 1000) >>> 0;
	}

	#sendFrame(frame: Buffer): void {
		const chunks: Buffer[] = [];
		for (let at = 0; at < frame.length; at += 1000) chunks.push(frame.subarray(at, at + 1000));
		chunks.forEach((chunk, index) => {
			const id = [0x80 | (this.#pictureId >> 8), this.#pictureId & 0xff];
			const descriptor = this.style === 'chrome' ? [0x80 | (index === 0 ? 0x10 : 0), 0xe0, ...id, 0x05, 0x20] : [0x80 | (index === 0 ? 0x10 : 0), 0x80, ...id];
			const header = Buffer.alloc(12);
			header[0] = 0x80;
			header[1] = (index === chunks.length - 1 ? 0x80 : 0) | 101;
			header.writeUInt16BE(this.#seq, 2);
			header.writeUInt32BE(this.#ts, 4);
			header.writeUInt32BE(this.ssrc, 8);
			this.#seq = (this.#seq + 1) & 0xffff;
			this.#socket.send(Buffer.concat([header, Buffer.from(descriptor), chunk]), this.port, '127.0.0.1');
		});
		this.#ts = (this.#ts + 3600) >>> 0;
		this.#pictureId = (this.#pictureId + 1) & 0x7fff;
	}
}

interface Tapped {
	seq: number;
	ts: number;
	ssrc: number;
	marker: boolean;
	/** F filler, R a repeat of the last picture, A camera A (descriptor 0x80 ext), B camera B (0xe0 ext). */
	kind: 'F' | 'R' | 'A' | 'B' | '?';
	pictureId: number | undefined;
	/** The VP8 data after the payload descriptor. */
	data: Buffer | undefined;
}

/** The repeat frames of the pictures the tests send. */
const repeats = [[320, 180], [176, 144], [16, 16]].map(([width, height]) => vp8RepeatFrame({ width: width!, height: height! }));

/** Sits between the relay and ffmpeg: records what the relay sends, passes it on (if there is an ffmpeg). */
async function tap(forwardTo?: number): Promise<{ port: number; packets: Tapped[] }> {
	const socket = dgram.createSocket('udp4');
	const packets: Tapped[] = [];
	socket.on('message', (packet) => {
		const rtp = readRtpPacket(packet);
		if (rtp) {
			const d = parseVp8Descriptor(rtp.payload);
			const data = d && rtp.payload.subarray(d.length);
			const kind = data && repeats.some((repeat) => repeat.equals(data)) ? 'R' : rtp.payload[0] === 0x10 && !d?.pictureId && d?.picture?.width === 16 ? 'F' : rtp.payload[1] === 0x80 ? 'A' : rtp.payload[1] === 0xe0 ? 'B' : '?';
			packets.push({ seq: rtp.seq, ts: rtp.ts, ssrc: rtp.ssrc, marker: rtp.marker, kind, pictureId: d?.pictureId?.value, data });
		}
		if (forwardTo !== undefined) socket.send(packet, forwardTo, '127.0.0.1');
	});
	await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
	closers.push(() => socket.close());
	return { port: socket.address().port, packets };
}

/** ffmpeg as the broadcast runs it (live RTP from an SDP, wall-clock timestamps, no filter reinit), showing each frame. */
async function decoder(): Promise<{ port: number; ffmpeg: ChildProcess; stderr: () => string; sizes: () => string[] }> {
	const pair = await allocateUdpPortPair();
	closers.push(() => pair.release());
	const sdpPath = path.join(workDir, `slot-${pair.rtpPort}.sdp`);
	const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=slot', 'c=IN IP4 127.0.0.1', 't=0 0', `m=video ${pair.rtpPort} RTP/AVP 96`, 'a=rtpmap:96 VP8/90000', 'a=recvonly', ''];
	await fs.writeFile(sdpPath, sdp.join('\r\n'));
	const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-protocol_whitelist', 'file,udp,rtp',
		'-fflags', '+nobuffer+genpts', '-flags', 'low_delay', '-use_wallclock_as_timestamps', '1',
		'-analyzeduration', '100000', '-probesize', '32768', '-reinit_filter', '0', '-f', 'sdp', '-i', sdpPath,
		// The composite's camera chains start with scale, which takes each frame's own size.
		'-vf', 'showinfo,scale=32:32', '-f', 'null', '-'];
	const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
	let stderr = '';
	ffmpeg.stderr!.setEncoding('utf8');
	ffmpeg.stderr!.on('data', (chunk: string) => (stderr += chunk));
	closers.push(() => ffmpeg.kill('SIGKILL'));
	await waitForUdpPortsBound([pair.rtpPort, pair.rtpPort + 1], 20_000);
	const sizes = () => [...stderr.matchAll(/Parsed_showinfo.*\bn:\s*\d+ .*\bs:(\d+x\d+)/g)].map((m) => m[1]!);
	return { port: pair.rtpPort, ffmpeg, stderr: () => stderr, sizes };
}

/** Each repeat counted as part of what it repeats (ffmpeg decodes it at that picture's size). */
function partKinds(packets: readonly Tapped[]): Tapped['kind'][] {
	let previous: Tapped['kind'] = '?';
	return packets.map((p) => (p.kind === 'R' ? previous : (previous = p.kind)));
}

/** Consecutive equal values collapsed, with their counts. */
function runs<T>(values: readonly T[]): { value: T; count: number }[] {
	const out: { value: T; count: number }[] = [];
	for (const value of values) {
		const last = out.at(-1);
		if (last && last.value === value) last.count++;
		else out.push({ value, count: 1 });
	}
	return out;
}

describe('Vp8SlotRelay', () => {
	it('keeps one decodable VP8 stream through filler → camera A → camera B → paused B → B → empty slot', async () => {
		const ffmpeg = await decoder();
		const wire = await tap(ffmpeg.port);
		const liveChanges: boolean[] = [];
		let keyframeRequests = 0;
		const relay = await Vp8SlotRelay.open({
			target: { host: '127.0.0.1', rtpPort: wire.port },
			payloadType: 96,
			// Longer than any event-loop stall a loaded 2-core box is likely to give the cameras' timers.
			freezeMs: 800,
			onLiveChange: (live) => liveChanges.push(live),
			onNeedKeyframe: () => keyframeRequests++,
		});
		closers.push(() => relay.close());
		expect(relay.rtpPort % 2).toBe(0);
		expect(relay.rtcpPort).toBe(relay.rtpPort + 1);

		// Bases near their wrap points, and far from each other.
		const a = new Camera(0xaaaa0001, cameraA, 'ffmpeg', relay.rtpPort, { seq: 65_500, ts: 0xffff_0000, pictureId: 0x7ff0 });
		const b = new Camera(0xbbbb0002, cameraB, 'chrome', relay.rtpPort, { seq: 1_000, ts: 12_345, pictureId: 300 });
		const stale = dgram.createSocket('udp4');
		closers.push(() => stale.close());
		const junk = (): void => {
			stale.send(Buffer.from([0x80, 0x60, 0, 1]), relay.rtpPort, '127.0.0.1'); // truncated RTP
			const other = Buffer.concat([Buffer.from([0x80, 0xe5, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 0x10]), cameraA[0]!.subarray(0, 100)]);
			stale.send(other, relay.rtpPort, '127.0.0.1'); // a stale sender's keyframe start
			stale.send(Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 7]), relay.rtcpPort, '127.0.0.1'); // an RTCP sender report
		};

		// Empty slot: filler only.
		await until('filler frames decoded', () => ffmpeg.sizes().length >= 10, 20_000);
		junk();

		// Camera A, joining mid-GOP: filler until its keyframe.
		relay.follow(a.ssrc);
		expect(keyframeRequests).toBe(1);
		a.play(10);
		await until('A live', () => relay.live);
		await sleep(1200);
		junk();

		// Camera B replaces A: A goes on until B's keyframe.
		relay.follow(b.ssrc);
		expect(relay.live).toBe(false);
		b.play(5);
		await until('B live', () => relay.live);
		a.stop();
		await sleep(1200);

		// B's camera paused: filler after freezeMs; back at its next keyframe.
		b.stop();
		await until('B frozen', () => liveChanges.length === 4);
		await sleep(600);
		b.play(60);
		await until('B live again', () => liveChanges.length === 5);
		await sleep(1200);

		// Slot emptied: filler at once.
		relay.follow(undefined);
		expect(relay.live).toBe(false);
		await sleep(800);
		b.stop();
		const counts = relay.counts;
		const decodedBeforeClose = ffmpeg.sizes().length;
		await until('ffmpeg to decode the last filler', () => ffmpeg.sizes().length > decodedBeforeClose, 10_000).catch(() => {});
		relay.close();
		relay.close(); // idempotent
		expect(() => relay.follow(1)).toThrow(/after close/);
		await sleep(300);

		expect(liveChanges).toEqual([true, false, true, false, true, false]);
		// A's join, B's join and B's return each waited for a keyframe while asking for one.
		expect(keyframeRequests).toBeGreaterThanOrEqual(3);
		expect(counts.forwarded).toBeGreaterThan(50);
		expect(counts.filler).toBeGreaterThan(30);
		// Stale SSRC, malformed and pre-keyframe packets.
		expect(counts.dropped).toBeGreaterThanOrEqual(4);

		// What the relay sent: one SSRC, sequence numbers without a gap, timestamps that never go back, picture IDs
		// that continue across switches, and the parts in order.
		const sent = wire.packets;
		expect(new Set(sent.map((p) => p.ssrc)).size).toBe(1);
		for (let i = 1; i < sent.length; i++) {
			expect((sent[i]!.seq - sent[i - 1]!.seq + 0x10000) % 0x10000, `seq at ${i}`).toBe(1);
			const step = (sent[i]!.ts - sent[i - 1]!.ts + 0x1_0000_0000) % 0x1_0000_0000;
			expect(step, `ts at ${i}`).toBeLessThan(0x8000_0000);
			// A new frame (after a marker) gets a new timestamp.
			if (sent[i - 1]!.marker) expect(step, `ts at ${i}`).toBeGreaterThan(0);
		}
		expect(runs(partKinds(sent)).map((r) => r.value)).toEqual(['F', 'A', 'B', 'F', 'B', 'F']);
		// B's pause: its last picture held from holdMs until freezeMs, then filler.
		expect(counts.repeated).toBeGreaterThanOrEqual(5);
		const pausedAt = sent.findIndex((p, i) => i > 0 && p.kind === 'F' && sent[i - 1]!.kind === 'R');
		expect(pausedAt, 'repeats just before the filler of B\'s pause').toBeGreaterThan(0);
		const ids = runs(sent.filter((p) => p.pictureId !== undefined).map((p) => p.pictureId!)).map((r) => r.value);
		for (let i = 1; i < ids.length; i++) expect((ids[i]! - ids[i - 1]! + 0x8000) % 0x8000, `picture ID at ${i}`).toBe(1);

		// What ffmpeg decoded: every part, each at its own size, in order.
		const decoded = runs(ffmpeg.sizes());
		expect(decoded.map((r) => r.value)).toEqual(['16x16', '320x180', '176x144', '16x16', '176x144', '16x16']);
		for (const run of decoded) expect(run.count).toBeGreaterThanOrEqual(5);
		// A switch costs the decoder at most a frame or two: each part decodes about as many frames as were sent in it.
		const sentFrames = runs(partKinds(sent)).reduce<{ frames: Set<number>; packets: Tapped[] }[]>((parts, run, index, all) => {
			const begin = all.slice(0, index).reduce((n, r) => n + r.count, 0);
			const packets = sent.slice(begin, begin + run.count);
			return [...parts, { frames: new Set(packets.map((p) => p.ts)), packets }];
		}, []).map((part) => part.frames.size);
		// (Not the first part: ffmpeg drops what it probes with `-fflags nobuffer`.)
		for (let i = 1; i < decoded.length; i++) {
			expect(Math.abs(decoded[i]!.count - sentFrames[i]!), `frames of part ${i}: sent ${sentFrames.join()}`).toBeLessThanOrEqual(2);
		}
		const stderr = ffmpeg.stderr();
		const broken = stderr.split('\n').filter((line) => /missed a picture|sequence broken|keyframe missing|error|corrupt|concealing/i.test(line));
		expect(broken.length, broken.join('\n')).toBeLessThanOrEqual(2);
	}, 60_000);
	it('rewrites 7-bit picture IDs, closes padding holes, forwards reordered packets, asks for keyframes at most every 250 ms, and survives throwing callbacks', async () => {
		const wire = await tap();
		const liveChanges: boolean[] = [];
		const requests: number[] = [];
		const relay = await Vp8SlotRelay.open({
			target: { host: '127.0.0.1', rtpPort: wire.port },
			payloadType: 100,
			fps: 50,
			freezeMs: 300,
			// No repeats here: the packets below are counted one by one.
			holdMs: 10_000,
			onLiveChange: (live) => {
				liveChanges.push(live);
				throw new Error('a runner bug');
			},
			onNeedKeyframe: () => {
				requests.push(Date.now());
				throw new Error('a runner bug');
			},
		});
		closers.push(() => relay.close());
		const sender = dgram.createSocket('udp4');
		closers.push(() => sender.close());
		const ssrc = 0x5151;
		const send = (seq: number, ts: number, marker: boolean, payload: Buffer, from = ssrc): void => {
			const header = Buffer.alloc(12);
			header[0] = 0x80;
			header[1] = (marker ? 0x80 : 0) | 101;
			header.writeUInt16BE(seq, 2);
			header.writeUInt32BE(ts, 4);
			header.writeUInt32BE(from, 8);
			sender.send(Buffer.concat([header, payload]), relay.rtpPort, '127.0.0.1');
		};
		// X, I with a 7-bit picture ID; S on the first packet of a frame.
		const vp8 = (start: boolean, pictureId: number, data: Buffer): Buffer => Buffer.concat([Buffer.from([start ? 0x90 : 0x80, 0x80, pictureId]), data]);
		const key = cameraA[0]!;
		const inter = cameraA[1]!;
		expect(parseVp8Descriptor(vp8(true, 1, key))?.keyframe).toBe(true);
		expect(parseVp8Descriptor(vp8(true, 1, inter))?.keyframe).toBe(false);

		const followedAt = Date.now();
		relay.follow(ssrc);
		expect(requests).toHaveLength(1);
		send(5, 1000, true, vp8(true, 125, inter)); // not a keyframe: dropped
		await sleep(700);
		const waited = Date.now() - followedAt;
		expect(requests.length).toBeGreaterThanOrEqual(2);
		expect(requests.length).toBeLessThanOrEqual(1 + Math.floor(waited / 250));
		expect(relay.live).toBe(false);

		send(10, 4000, false, vp8(true, 126, key.subarray(0, 500)));
		send(11, 4000, true, vp8(false, 126, key.subarray(500)));
		send(12, 7600, true, vp8(true, 127, inter));
		send(13, 7600, false, Buffer.alloc(0)); // padding only (a bandwidth probe)
		send(14, 11200, true, vp8(true, 0, inter));
		send(16, 14800, true, vp8(false, 1, inter.subarray(10))); // arrives before seq 15
		send(15, 14800, false, vp8(true, 1, inter.subarray(0, 10)));
		send(17, 18400, true, vp8(true, 2, inter), 0x7777); // another SSRC
		sender.send(Buffer.from([0x80, 101]), relay.rtpPort, '127.0.0.1'); // malformed
		await until('forwarded', () => relay.counts.forwarded === 6, 10_000);
		expect(relay.live).toBe(true);

		// Followed elsewhere and back before the other source's keyframe: live again at once, no filler between.
		relay.follow(0x9999);
		relay.follow(ssrc);
		expect(relay.live).toBe(true);
		send(17, 18400, true, vp8(true, 2, inter));
		await until('forwarded', () => relay.counts.forwarded === 7, 10_000);

		// Nothing more from the source: filler after freezeMs.
		await until('frozen', () => !relay.live, 10_000);
		await until('filler after the freeze', () => wire.packets.at(-1)?.kind === 'F', 10_000);
		relay.close();
		expect(liveChanges).toEqual([true, false, true, false]);
		expect(relay.counts.dropped).toBeGreaterThanOrEqual(4); // pre-keyframe, padding, other SSRC, malformed

		const forwarded = wire.packets.filter((p) => p.kind !== 'F');
		expect(forwarded).toHaveLength(7);
		const first = forwarded[0]!;
		// Output sequence numbers: no hole for the padding packet, reordered packets keep their order and numbers.
		expect(forwarded.map((p) => (p.seq - first.seq + 0x10000) % 0x10000)).toEqual([0, 1, 2, 3, 5, 4, 6]);
		// The first forwarded packet continues the filler: next sequence number, a later timestamp.
		const before = wire.packets[wire.packets.indexOf(first) - 1]!;
		expect(before.kind).toBe('F');
		expect((first.seq - before.seq + 0x10000) % 0x10000).toBe(1);
		expect((first.ts - before.ts + 0x1_0000_0000) % 0x1_0000_0000).toBeGreaterThan(0);
		// Timestamps keep the source's spacing; 7-bit picture IDs continue, wrapping at 128.
		expect(forwarded.map((p) => (p.ts - first.ts + 0x1_0000_0000) % 0x1_0000_0000)).toEqual([0, 0, 3600, 7200, 10_800, 10_800, 14_400]);
		const ids = forwarded.map((p) => p.pictureId!);
		expect(ids.map((id) => (id - ids[0]! + 128) % 128)).toEqual([0, 0, 1, 2, 3, 3, 4]);
		expect(ids.every((id) => id < 128)).toBe(true);
	});
});

/** One RTP packet of a VP8 frame (payload type 101, marker set): the descriptor's bytes, then the frame. */
function vp8Packet(seq: number, ts: number, ssrc: number, descriptor: readonly number[], frame: Buffer): Buffer {
	const header = Buffer.alloc(12);
	header[0] = 0x80;
	header[1] = 0x80 | 101;
	header.writeUInt16BE(seq, 2);
	header.writeUInt32BE(ts, 4);
	header.writeUInt32BE(ssrc, 8);
	return Buffer.concat([header, Buffer.from(descriptor), frame]);
}

describe('Vp8SlotRelay holding a quiet source', () => {
	it('repeats its last picture while it is quiet, then goes on with its own frames (no keyframe needed), and ffmpeg decodes every frame exactly', async () => {
		const ffmpeg = await decoder();
		const wire = await tap(ffmpeg.port);
		const liveChanges: boolean[] = [];
		const relay = await Vp8SlotRelay.open({
			target: { host: '127.0.0.1', rtpPort: wire.port },
			payloadType: 96,
			holdMs: 120,
			freezeMs: 3000,
			onLiveChange: (live) => liveChanges.push(live),
		});
		closers.push(() => relay.close());
		const a = new Camera(0xaaaa0003, cameraA, 'chrome', relay.rtpPort, { seq: 65_400, ts: 77, pictureId: 0x7fe0 });
		await until('filler decoded', () => ffmpeg.sizes().length >= 5, 20_000);
		relay.follow(a.ssrc);
		a.play(0);
		await until('A live', () => relay.live);
		await sleep(800);
		// The sender goes quiet between two frames (a still screen, a hiccup), then sends its next frame: an interframe.
		a.stop();
		const sentBefore = a.sentFrames;
		await sleep(700);
		const repeatedInPause = relay.counts.repeated;
		a.play(sentBefore);
		await sleep(800);
		a.stop();
		const decodedBeforeClose = ffmpeg.sizes().length;
		// A grace for the decoder's last frames only: the counts below allow for frames it had not shown yet.
		await until('ffmpeg to decode the last frames', () => ffmpeg.sizes().length > decodedBeforeClose, 5_000).catch(() => {});
		await sleep(300);
		relay.close();

		// Held, not frozen: live throughout, about one repeat per 40 ms of the 700 ms quiet after the first 120 ms.
		expect(liveChanges).toEqual([true]);
		expect(repeatedInPause).toBeGreaterThanOrEqual(6);
		expect(repeatedInPause).toBeLessThanOrEqual(17);
		const sent = wire.packets.slice(wire.packets.findIndex((p) => p.kind === 'B'));
		expect(sent.some((p) => p.kind === 'F')).toBe(false);
		for (let i = 1; i < sent.length; i++) {
			expect((sent[i]!.seq - sent[i - 1]!.seq + 0x10000) % 0x10000, `seq at ${i}`).toBe(1);
			const step = (sent[i]!.ts - sent[i - 1]!.ts + 0x1_0000_0000) % 0x1_0000_0000;
			if (sent[i - 1]!.marker) expect(step, `ts at ${i}`).toBeGreaterThan(0);
			expect(step, `ts at ${i}`).toBeLessThan(0x8000_0000);
		}
		const ids = runs(sent.map((p) => p.pictureId!)).map((r) => r.value);
		for (let i = 1; i < ids.length; i++) expect((ids[i]! - ids[i - 1]! + 0x8000) % 0x8000, `picture ID at ${i}`).toBe(1);

		// The frames the relay sent, put in a file and decoded: each of A's frames decodes exactly as in A's own file (a
		// repeat that disturbed the decoder's state would garble the frames after it), and each repeat shows the picture
		// before it.
		const frames: { data: Buffer; repeat: boolean }[] = [];
		let open: Buffer[] = [];
		for (const packet of sent) {
			open.push(packet.data!);
			if (packet.marker) {
				frames.push({ data: Buffer.concat(open), repeat: packet.kind === 'R' });
				open = [];
			}
		}
		const original = await checksumsOf(path.join(workDir, 'a.ivf'));
		const relayed = await checksumsOf(await writeIvf(path.join(workDir, 'relayed.ivf'), frames.map((frame) => frame.data), { width: 320, height: 180 }));
		expect(relayed).toHaveLength(frames.length);
		let next = 0;
		frames.forEach((frame, at) => {
			if (frame.repeat) expect(relayed[at], `repeat at ${at}`).toBe(relayed[at - 1]);
			else expect(relayed[at], `A's frame ${next} at ${at}`).toBe(original[next++ % original.length]);
		});
		expect(frames.filter((frame) => frame.repeat).length).toBe(relay.counts.repeated);
		expect(next).toBe(a.sentFrames);
		// The live decoder, as the broadcast runs it, took the stream without a break.
		expect(ffmpeg.sizes().filter((size) => size === '320x180').length).toBeGreaterThanOrEqual(frames.length - 3);
		const broken = ffmpeg.stderr().split('\n').filter((line) => /missed a picture|sequence broken|keyframe missing|error|corrupt|concealing/i.test(line));
		expect(broken, broken.join('\n')).toEqual([]);
	}, 60_000);

	it('numbers its repeats as the source numbers its pictures: 7-bit IDs, or none (sequence numbers alone)', async () => {
		for (const style of ['7-bit', 'none'] as const) {
			const wire = await tap();
			const relay = await Vp8SlotRelay.open({ target: { host: '127.0.0.1', rtpPort: wire.port }, payloadType: 100, holdMs: 100, freezeMs: 5000 });
			closers.push(() => relay.close());
			const sender = dgram.createSocket('udp4');
			closers.push(() => sender.close());
			const send = (seq: number, ts: number, pictureId: number, frame: Buffer): void => {
				const descriptor = style === '7-bit' ? [0x90, 0x80, pictureId & 0x7f] : [0x10];
				sender.send(vp8Packet(seq, ts, 0x7171, descriptor, frame), relay.rtpPort, '127.0.0.1');
			};
			relay.follow(0x7171);
			// A keyframe, a quiet half second, the next interframe, and one after a lost packet (seq 103).
			send(100, 9000, 126, cameraA[0]!);
			await until('held', () => relay.counts.repeated >= 5, 10_000);
			send(101, 54_000, 127, cameraA[1]!);
			send(103, 57_600, 1, cameraA[3]!);
			await until('forwarded', () => relay.counts.forwarded === 3, 10_000);
			relay.close();
			// From the source's first packet to its last (a late close may add repeats after it).
			const sent = wire.packets.slice(wire.packets.findIndex((p) => p.kind !== 'F'), wire.packets.findLastIndex((p) => p.kind !== 'R' && p.kind !== 'F') + 1);
			const kinds = sent.map((p) => (p.kind === 'R' ? 'R' : 'S'));
			expect(kinds.join(''), style).toMatch(/^SR{5,}S+$/);
			const seqs = sent.map((p) => (p.seq - sent[0]!.seq + 0x10000) % 0x10000);
			// Continuous through the repeats; the packet the source lost is still a gap.
			expect(seqs.slice(0, -1), style).toEqual(seqs.slice(0, -1).map((_, i) => i));
			expect(seqs.at(-1)! - seqs.at(-2)!, style).toBe(2);
			if (style === '7-bit') {
				const ids = sent.map((p) => p.pictureId!);
				expect(ids.every((id) => id < 128), style).toBe(true);
				expect(ids.slice(0, -1).map((id) => (id - ids[0]! + 128) % 128), style).toEqual(ids.slice(0, -1).map((_, i) => i));
				expect((ids.at(-1)! - ids.at(-2)! + 128) % 128, 'the lost picture still missing').toBe(2);
			} else {
				expect(sent.every((p) => p.pictureId === undefined), style).toBe(true);
			}
		}
	}, 60_000);

	it('repeats only after a frame that refreshed the picture a repeat copies: not after a non-reference or upper-temporal-layer frame', async () => {
		const wire = await tap();
		const relay = await Vp8SlotRelay.open({ target: { host: '127.0.0.1', rtpPort: wire.port }, payloadType: 100, holdMs: 50, freezeMs: 5000 });
		closers.push(() => relay.close());
		const sender = dgram.createSocket('udp4');
		closers.push(() => sender.close());
		let seq = 10;
		const send = (descriptor: number[], frame: Buffer): void => {
			seq++;
			sender.send(vp8Packet(seq, seq * 3600, 0x7373, descriptor, frame), relay.rtpPort, '127.0.0.1');
		};
		relay.follow(0x7373);
		// X, S; T; TID in the top two bits of the next byte. A base-layer keyframe, then a layer-1 frame, then quiet.
		send([0x90, 0x20, 0x00], cameraA[0]!);
		send([0x90, 0x20, 0x40], cameraA[1]!);
		await until('forwarded', () => relay.counts.forwarded === 2, 10_000);
		await sleep(400);
		expect(relay.counts.repeated, 'after a layer-1 frame').toBe(0);
		// N: a non-reference frame.
		send([0xb0, 0x20, 0x00], cameraA[2]!);
		await until('forwarded', () => relay.counts.forwarded === 3, 10_000);
		await sleep(400);
		expect(relay.counts.repeated, 'after a non-reference frame').toBe(0);
		// A base-layer reference frame: held.
		send([0x90, 0x20, 0x00], cameraA[3]!);
		await until('held after a base-layer frame', () => relay.counts.repeated >= 3, 10_000);
		relay.close();
	}, 60_000);

	it('does not repeat a picture its keyframe claims to be larger than 4K (the header is the sender\'s word)', async () => {
		const wire = await tap();
		const relay = await Vp8SlotRelay.open({ target: { host: '127.0.0.1', rtpPort: wire.port }, payloadType: 100, holdMs: 50, freezeMs: 5000 });
		closers.push(() => relay.close());
		const sender = dgram.createSocket('udp4');
		closers.push(() => sender.close());
		// Camera A's keyframe, its size rewritten to 16383 × 16383.
		const huge = Buffer.from(cameraA[0]!);
		huge.writeUInt16LE(0x3fff, 6);
		huge.writeUInt16LE(0x3fff, 8);
		relay.follow(0x7272);
		sender.send(vp8Packet(7, 9000, 0x7272, [0x10], huge), relay.rtpPort, '127.0.0.1');
		await until('forwarded', () => relay.counts.forwarded === 1, 10_000);
		await sleep(400);
		expect(relay.live).toBe(true);
		expect(relay.counts.repeated).toBe(0);
		relay.close();
	}, 60_000);
});

/** The MD5 of each picture ffmpeg decodes from an IVF file, in order. */
async function checksumsOf(file: string): Promise<string[]> {
	const stdout = await new Promise<string>((resolve, reject) => {
		const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file, '-f', 'framemd5', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
		let text = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
		child.once('error', reject);
		child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffmpeg exited ${code}`))));
	});
	return stdout.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(',').at(-1)!.trim());
}

describe('Vp8SlotRelay behind real mediasoup consumers', () => {
	let pool: WorkerPool;
	let router: types.Router;
	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), pino({ level: 'warn' }));
		router = await pool.createRouter({ test: 'vp8-slot-relay' });
	});
	afterAll(() => pool?.close());

	/** A synthetic camera (ffmpeg → comedia PlainTransport producer; keyframes 4 a second, PLI ignored). */
	async function camera(width: number, height: number, ssrc: number): Promise<types.Producer> {
		const transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: false, comedia: true });
		closers.push(() => transport.close());
		const target = { host: '127.0.0.1', rtpPort: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort, ssrc, payloadType: 101 };
		const plan = buildRtpSenderPlan({ video: { ...target, codec: 'VP8', width, height, fps: 25 }, durationS: 60 });
		const producer = await transport.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! });
		const ffmpeg = spawn('ffmpeg', plan.args, { stdio: 'ignore' });
		closers.push(() => ffmpeg.kill('SIGKILL'));
		return producer;
	}

	/** The broadcast's side: a paused consumer sending to the slot's relay, resumed once connected. */
	async function consume(producer: types.Producer, relay: Vp8SlotRelay): Promise<types.Consumer> {
		const transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: false, comedia: false });
		closers.push(() => transport.close());
		await transport.connect({ ip: '127.0.0.1', port: relay.rtpPort, rtcpPort: relay.rtcpPort });
		const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
		await consumer.resume();
		return consumer;
	}

	it('switches between two consumers on one port pair, fills a paused producer, and ffmpeg decodes every part', async () => {
		const ffmpeg = await decoder();
		const wire = await tap(ffmpeg.port);
		const consumers = new Map<number, types.Consumer>();
		let requests = 0;
		const liveChanges: boolean[] = [];
		let followed: number | undefined;
		const relay = await Vp8SlotRelay.open({
			target: { host: '127.0.0.1', rtpPort: wire.port },
			payloadType: 96,
			freezeMs: 800,
			onLiveChange: (live) => liveChanges.push(live),
			onNeedKeyframe: () => {
				requests++;
				if (followed !== undefined) void consumers.get(followed)?.requestKeyFrame().catch(() => {});
			},
		});
		closers.push(() => relay.close());
		const follow = (ssrc: number | undefined): void => {
			followed = ssrc;
			relay.follow(ssrc);
		};
		const [a, b] = await Promise.all([camera(320, 180, 3001), camera(176, 144, 3002)]);
		for (const producer of [a, b]) {
			const consumer = await consume(producer, relay);
			consumers.set(consumer.rtpParameters.encodings![0]!.ssrc!, consumer);
		}
		const [ssrcA, ssrcB] = [...consumers.keys()];

		await until('filler decoded', () => ffmpeg.sizes().length >= 10, 20_000);
		follow(ssrcA);
		await until('A live', () => relay.live, 20_000);
		await sleep(1000);
		follow(ssrcB);
		await until('B live', () => relay.live, 20_000);
		await sleep(1000);
		await b.pause(); // camera off: mediasoup stops sending
		await until('B frozen', () => !relay.live, 10_000);
		await sleep(500);
		await b.resume();
		await until('B live again', () => relay.live, 20_000);
		await sleep(1000);
		follow(undefined);
		await sleep(800);
		const decodedBeforeClose = ffmpeg.sizes().length;
		await until('ffmpeg to decode the last filler', () => ffmpeg.sizes().length > decodedBeforeClose, 10_000).catch(() => {});
		relay.close();

		expect(liveChanges).toEqual([true, false, true, false, true, false]);
		expect(requests).toBeGreaterThanOrEqual(3);
		const sent = wire.packets;
		expect(new Set(sent.map((p) => p.ssrc)).size).toBe(1);
		for (let i = 1; i < sent.length; i++) expect((sent[i]!.seq - sent[i - 1]!.seq + 0x10000) % 0x10000, `seq at ${i}`).toBe(1);
		const decoded = runs(ffmpeg.sizes());
		expect(decoded.map((r) => r.value)).toEqual(['16x16', '320x180', '176x144', '16x16', '176x144', '16x16']);
		for (const run of decoded) expect(run.count).toBeGreaterThanOrEqual(5);
		const broken = ffmpeg.stderr().split('\n').filter((line) => /missed a picture|sequence broken|keyframe missing|error|corrupt|concealing/i.test(line));
		expect(broken.length, broken.join('\n')).toBeLessThanOrEqual(2);
	});
});
