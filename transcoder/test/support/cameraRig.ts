import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { allocateUdpPortPair, buildConsumerSdp, buildRtpSenderPlan, waitForUdpPortsBound, type SdpStream } from '@tribune/ingest';
import type { types } from 'mediasoup';
import pino from 'pino';
import { buildFfmpegPlan, computeLayout, type Rendition, type Tile } from '../../src/index.js';
import { LiveComposite, type LiveView } from '../../src/broadcast/LiveComposite.js';
import type { SlotAssignment } from '../../src/broadcast/liveLayout.js';
import { Vp8SlotRelay } from '../../src/broadcast/Vp8SlotRelay.js';
import { fontFile } from './labelRig.js';

/** A small canvas keeps frames cheap to move and read; the composite's filters are the broadcast's own. */
export const cameraCanvas = { width: 640, height: 360 };
const rendition: Rendition = { name: 'small', video: { ...cameraCanvas, kbps: 300 }, audioKbps: 64 };
const latency = { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 };
const frameBytes = cameraCanvas.width * cameraCanvas.height * 3;
const vp8PayloadType = 101;
const video = { codecs: [{ mimeType: 'video/VP8', payloadType: vp8PayloadType, clockRate: 90000, parameters: {} }] } as unknown as types.RtpParameters;

/** A camera as the composite receives it: libvpx VP8 over RTP, one solid colour at a given size. */
export interface CameraSpec {
	width: number;
	height: number;
	/** `#rrggbb`. */
	colour: string;
}

/** Where a colour is drawn in a frame: its bounding box and pixel count (within `tolerance` per channel). */
export interface ColourBox {
	pixels: number;
	width: number;
	height: number;
}

/**
 * The broadcast's video composite as `runStageBroadcast` drives it, with everything real but the stage: a standing
 * encode planned with `slots` video slots (the plan `buildFfmpegPlan` makes, read from an SDP), each fed by its own
 * `Vp8SlotRelay` (filler until a camera's first keyframe), cameras sent by ffmpeg/libvpx over RTP to the relays, and
 * a `LiveComposite` on the encode's zmq socket that shows a camera in its tile when its relay goes live — the order
 * of events a join takes. Output: raw RGB frames read back here.
 */
export class CameraRig {
	readonly relays: Vp8SlotRelay[];
	readonly warnings: string[];
	readonly #speakers: readonly string[];
	readonly #slotOf: Map<string, number>;
	readonly #streams: { video: number }[];
	readonly #children: ChildProcess[] = [];
	readonly #releases: (() => void)[] = [];
	readonly #abort = new AbortController();
	#composite: LiveComposite | undefined;
	#latest: Buffer | undefined;
	#frames = 0;
	readonly #watchers = new Set<(frame: Buffer) => void>();
	#nextSsrc = 0x1000;
	#workDir = '';

	private constructor(speakers: readonly string[], relays: Vp8SlotRelay[], warnings: string[]) {
		this.#speakers = speakers;
		this.relays = relays;
		this.warnings = warnings;
		this.#slotOf = new Map(speakers.map((id, slot) => [id, slot]));
		this.#streams = speakers.map((_, slot) => ({ video: slot }));
	}

	/** The stage: speakers `s0`, `s1`, … (one slot each), all with their camera on; a camera shows once its relay is live. */
	static async start(speakerCount: number): Promise<CameraRig> {
		const speakers = Array.from({ length: speakerCount }, (_, i) => `s${i}`);
		const warnings: string[] = [];
		const relays: Vp8SlotRelay[] = [];
		const rig = new CameraRig(speakers, relays, warnings);
		try {
			rig.#workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-camera-rig-'));
			const sdpStreams: SdpStream[] = [];
			for (let slot = 0; slot < speakerCount; slot++) {
				const ports = await allocateUdpPortPair();
				rig.#releases.push(ports.release);
				const relay = await Vp8SlotRelay.open({ target: { host: '127.0.0.1', rtpPort: ports.rtpPort }, payloadType: vp8PayloadType, onLiveChange: () => rig.#refresh() });
				rig.#releases.push(() => relay.close());
				relays.push(relay);
				sdpStreams.push({ kind: 'video', rtpParameters: video, rtpPort: ports.rtpPort });
			}
			const sdpPath = path.join(rig.#workDir, 'stage.sdp');
			await fs.writeFile(sdpPath, buildConsumerSdp('127.0.0.1', sdpStreams));
			const controlPort = (await allocateUdpPortPair()).rtpPort;
			const planned = rig.view();
			const plan = buildFfmpegPlan(planned.layout, [rendition], latency, { composite: true, sdpPath, slots: planned.slots, workDir: rig.#workDir, fontFile, outputs: { small: 'unused' }, controlPort });
			// The broadcast's input options and graph; only the outputs differ: raw frames on stdout, the audio discarded.
			const ffmpeg = spawn('ffmpeg', [...plan.input.options, '-i', plan.input.url, '-filter_complex', plan.filterGraph,
				'-map', '[vo_small]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1', '-map', '[ao_small]', '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
			rig.#children.push(ffmpeg);
			ffmpeg.stderr!.on('data', (chunk: Buffer) => void warnings.push(`ffmpeg: ${chunk.toString('utf8').trim()}`));
			let pending: Buffer = Buffer.alloc(0);
			ffmpeg.stdout!.on('data', (chunk: Buffer) => {
				pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
				while (pending.length >= frameBytes) {
					rig.#latest = Buffer.from(pending.subarray(0, frameBytes));
					rig.#frames++;
					for (const watcher of rig.#watchers) watcher(rig.#latest);
					pending = pending.subarray(frameBytes);
				}
			});
			await waitForUdpPortsBound(sdpStreams.map((s) => s.rtpPort), 30_000);
			rig.#composite = await LiveComposite.connect({
				port: controlPort,
				composite: true,
				planned,
				signal: rig.#abort.signal,
				logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }),
				connectTimeoutMs: 30_000,
			});
			rig.#refresh();
			return rig;
		} catch (error) {
			await rig.close();
			throw error;
		}
	}

	/** What the encode should show now: every speaker's tile, a camera where its relay forwards one. */
	view(): LiveView {
		const cameras = new Set(this.#speakers.filter((id) => this.relays[this.#slotOf.get(id)!]?.live));
		const layout = computeLayout({ speakers: this.#speakers.map((id) => ({ id, name: id, video: cameras.has(id), muted: false })), pinned: [] }, cameraCanvas);
		const slots: SlotAssignment = { streams: this.#streams, slotOf: this.#slotOf, cameras };
		return { layout, slots };
	}

	tile(speakerId: string): Tile {
		return this.view().layout.tiles.find((t) => t.speakerId === speakerId)!;
	}

	/**
	 * A camera of `spec` sending to `speakerId`'s slot, which follows it from now on (as a consumer made for a join):
	 * the slot shows filler until its first keyframe. Returns a function that stops it.
	 */
	async camera(speakerId: string, spec: CameraSpec): Promise<() => void> {
		const relay = this.relays[this.#slotOf.get(speakerId)!]!;
		const ssrc = this.#nextSsrc++;
		const plan = buildRtpSenderPlan({
			video: { width: spec.width, height: spec.height, fps: 25, pattern: { colour: spec.colour }, codec: 'VP8', host: '127.0.0.1', rtpPort: relay.rtpPort, rtcpPort: relay.rtcpPort, payloadType: vp8PayloadType, ssrc },
		});
		relay.follow(ssrc);
		const sender = spawn('ffmpeg', plan.args, { stdio: ['ignore', 'ignore', 'pipe'] });
		this.#children.push(sender);
		return () => void sender.kill('SIGKILL');
	}

	/** Waits (bounded) until `done` holds for the newest frame; returns that frame, or throws with the last one's reading. */
	async frameWhere(done: (frame: Buffer) => boolean, timeoutMs: number, what: string, describe: (frame: Buffer) => string): Promise<Buffer> {
		const deadline = Date.now() + timeoutMs;
		let seen = -1;
		for (;;) {
			const frame = this.#latest;
			if (frame && this.#frames !== seen) {
				seen = this.#frames;
				if (done(frame)) return frame;
			}
			if (Date.now() > deadline) throw new Error(`CameraRig: no frame with ${what} within ${timeoutMs} ms; last: ${frame ? describe(frame) : 'no frame'} (${this.warnings.slice(-3).join(' | ')})`);
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
	}

	/** Calls `watcher` with every frame from now on, until the returned function is called. */
	watch(watcher: (frame: Buffer) => void): () => void {
		this.#watchers.add(watcher);
		return () => void this.#watchers.delete(watcher);
	}

	/** Frames read so far. */
	get frames(): number {
		return this.#frames;
	}

	async close(): Promise<void> {
		this.#abort.abort();
		for (const child of this.#children) child.kill('SIGKILL');
		for (const release of this.#releases.splice(0)) release();
		if (this.#workDir) await fs.rm(this.#workDir, { recursive: true, force: true });
	}

	#refresh(): void {
		this.#composite?.show(this.view());
	}
}

/**
 * Pixels of the slot relay's filler picture (black) in the middle of `tile` (its central half each way, clear of the
 * name label in its bottom-left corner): what a camera drawn as a dot, or as its filler stretched to the tile, shows.
 */
export function fillerPixels(frame: Buffer, tile: { x: number; y: number; width: number; height: number }): number {
	let pixels = 0;
	for (let y = tile.y + Math.floor(tile.height / 4); y < tile.y + Math.ceil((tile.height * 3) / 4); y++) {
		for (let x = tile.x + Math.floor(tile.width / 4); x < tile.x + Math.ceil((tile.width * 3) / 4); x++) {
			const i = (y * cameraCanvas.width + x) * 3;
			if (frame[i]! <= 16 && frame[i + 1]! <= 16 && frame[i + 2]! <= 16) pixels++;
		}
	}
	return pixels;
}

/** The box of pixels of `colour` (each channel within `tolerance`) inside `tile`. */
export function colourBox(frame: Buffer, tile: { x: number; y: number; width: number; height: number }, colour: string, tolerance = 40): ColourBox {
	const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as [number, number, number];
	let pixels = 0;
	let x0 = Infinity;
	let x1 = -Infinity;
	let y0 = Infinity;
	let y1 = -Infinity;
	for (let y = Math.max(0, tile.y); y < Math.min(cameraCanvas.height, tile.y + tile.height); y++) {
		for (let x = Math.max(0, tile.x); x < Math.min(cameraCanvas.width, tile.x + tile.width); x++) {
			const i = (y * cameraCanvas.width + x) * 3;
			if (Math.abs(frame[i]! - r) > tolerance || Math.abs(frame[i + 1]! - g) > tolerance || Math.abs(frame[i + 2]! - b) > tolerance) continue;
			pixels++;
			x0 = Math.min(x0, x);
			x1 = Math.max(x1, x);
			y0 = Math.min(y0, y);
			y1 = Math.max(y1, y);
		}
	}
	return pixels === 0 ? { pixels, width: 0, height: 0 } : { pixels, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

