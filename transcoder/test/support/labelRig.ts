import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { buildFfmpegPlan, computeLayout, type Layout, type Rendition, type StageSnapshot } from '../../src/index.js';
import { freePort } from '../../../scripts/test/fixtures.js';
import { LiveComposite } from '../../src/broadcast/LiveComposite.js';
import { assignBySpeakerId, labelOptions, labelText, type SlotAssignment } from '../../src/broadcast/liveLayout.js';

export const fontFile = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
/** A small canvas keeps frames cheap to move and compare; the composite's filters are the broadcast's own. */
export const canvas = { width: 320, height: 180 };
const rendition: Rendition = { name: 'small', video: { ...canvas, kbps: 300 }, audioKbps: 64 };
const latency = { fps: 25, partTargetMs: 200, segmentTargetMs: 1000 };
const frameBytes = canvas.width * canvas.height * 3;


export { prng } from '../../../scripts/test/fixtures.js';

/** Speakers `s0`, `s1`, … with these names; `active`: the one talking (their tile framed, a dot before their name). */
export function stageOf(names: readonly string[], active?: string): StageSnapshot {
	return { speakers: names.map((name, i) => ({ id: `s${i}`, name, video: false, muted: false })), pinned: [], activeSpeakerId: active };
}

/** A rectangle of the canvas, `x1`/`y1` exclusive. */
export interface Region {
	x0: number;
	y0: number;
	x1: number;
	y1: number;
}

/**
 * Where a speaker's name is drawn: their tile (the initials) and their label's box, from its left edge to the
 * canvas's right (a long name runs past its tile). Everything outside must not change whatever the name.
 */
export function nameRegions(layout: Layout, speakerId: string): Region[] {
	const tile = layout.tiles.find((t) => t.speakerId === speakerId)!;
	const [size, border, x, y] = /fontsize=(\d+):boxborderw=(\d+):x=(-?\d+):y=(-?\d+)/.exec(labelOptions(tile))!.slice(1).map(Number) as [number, number, number, number];
	// The box: the text (under two font sizes high, descenders included) and its border all round, 2 px to spare.
	const label = { x0: x - border - 2, y0: y - border - 2, x1: canvas.width, y1: Math.min(canvas.height, y + 2 * size + border + 2) };
	return [{ x0: tile.x, y0: tile.y, x1: tile.x + tile.width, y1: tile.y + tile.height }, label];
}

/** Pixels that differ between two frames outside the given regions. */
export function changedOutside(a: Buffer, b: Buffer, regions: readonly Region[]): number {
	let changed = 0;
	for (let y = 0; y < canvas.height; y++) {
		for (let x = 0; x < canvas.width; x++) {
			if (regions.some((r) => x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1)) continue;
			const i = (y * canvas.width + x) * 3;
			if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) changed++;
		}
	}
	return changed;
}

/** The broadcast's composite graph for a stage of `names` (one slot each), paced at 2× real time. */
function compositeGraph(names: readonly string[], port: number, active?: string): { layout: Layout; slots: SlotAssignment; graph: string } {
	const layout = computeLayout(stageOf(names, active), canvas);
	const slots = assignBySpeakerId(layout, new Map());
	const plan = buildFfmpegPlan(layout, [rendition], latency, { composite: true, sdpPath: '/tmp/unused.sdp', slots, workDir: os.tmpdir(), fontFile, outputs: { small: 'unused' }, controlPort: port });
	// An empty stage is paced by `realtime`; twice as fast, commands (taken as frames pass) are answered sooner.
	const graph = plan.filterGraph.replace(',realtime', ',realtime=speed=2');
	if (graph === plan.filterGraph) throw new Error('LabelRig: the plan no longer paces an empty stage with realtime');
	return { layout, slots, graph };
}

/**
 * The broadcast's composite (the graph `buildFfmpegPlan` makes for `names`, one slot each) run by a real ffmpeg that
 * writes raw RGB frames, with a `LiveComposite` on its zmq control socket: the label path as the broadcast drives it.
 * The empty stage's `realtime` pacing runs at 2× so commands (taken as frames pass) are answered quickly.
 */
export class LabelRig {
	readonly layout: Layout;
	readonly slots: SlotAssignment;
	readonly composite: LiveComposite;
	readonly warnings: string[];
	readonly #ffmpeg: ChildProcess;
	readonly #abort: AbortController;
	#frames = 0;
	#latest: Buffer | undefined;
	#applied = 0;
	#waiters: (() => void)[] = [];

	private constructor(init: { layout: Layout; slots: SlotAssignment; composite: LiveComposite; ffmpeg: ChildProcess; abort: AbortController; warnings: string[] }) {
		this.layout = init.layout;
		this.slots = init.slots;
		this.composite = init.composite;
		this.#ffmpeg = init.ffmpeg;
		this.#abort = init.abort;
		this.warnings = init.warnings;
	}

	/** `connections`: the composite's control connections (default its own, 8). */
	static async start(names: readonly string[], options: { connections?: number } = {}): Promise<LabelRig> {
		const port = await freePort();
		const { layout, slots, graph } = compositeGraph(names, port);
		// Only the outputs differ from the broadcast: raw frames on stdout, the audio discarded.
		const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-filter_complex', graph,
			'-map', '[vo_small]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1', '-map', '[ao_small]', '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
		const abort = new AbortController();
		const warnings: string[] = [];
		// Warnings (a refused command) are kept for the test to show; the counts come from the composite.
		const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
		let rig: LabelRig | undefined;
		let pending: Buffer = Buffer.alloc(0);
		ffmpeg.stdout!.on('data', (chunk: Buffer) => {
			pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
			while (pending.length >= frameBytes) {
				if (rig) {
					rig.#latest = Buffer.from(pending.subarray(0, frameBytes));
					rig.#frames++;
					rig.#wake();
				}
				pending = pending.subarray(frameBytes);
			}
		});
		ffmpeg.stderr!.on('data', (chunk: Buffer) => void warnings.push(`ffmpeg: ${chunk.toString('utf8').trim()}`));
		try {
			const composite = await LiveComposite.connect({
				port,
				composite: true,
				planned: { layout, slots },
				signal: abort.signal,
				logger,
				...(options.connections !== undefined && { connections: options.connections }),
				onApplied: () => {
					if (!rig) return;
					rig.#applied++;
					rig.#wake();
				},
			});
			rig = new LabelRig({ layout, slots, composite, ffmpeg, abort, warnings });
			// A started encode: frames pass the zmq filter, so a command is answered within a frame. On a loaded machine
			// the first frame can take longer than a command's timeout, and the label path is not what that measures.
			await rig.frame(30_000);
			return rig;
		} catch (error) {
			abort.abort();
			ffmpeg.kill('SIGKILL');
			throw error;
		}
	}

	/**
	 * The stage with these names (same speakers, same slots) on the air: resolves once the composite has sent it.
	 * `active`: who talks. `extraSlots`: slots the encode was not planned with (empty ones; their filters do not
	 * exist, so ffmpeg refuses every command for them).
	 */
	async show(names: readonly string[], options: { active?: string; extraSlots?: number; timeoutMs?: number } = {}): Promise<void> {
		const layout = computeLayout(stageOf(names, options.active), canvas);
		const applied = this.#applied;
		const streams = [...this.slots.streams, ...Array.from({ length: options.extraSlots ?? 0 }, () => ({}))];
		this.composite.show({ layout, slots: { ...this.slots, streams } });
		const timeoutMs = options.timeoutMs ?? 15_000;
		await this.#until(() => this.#applied > applied, timeoutMs, 'layout applied');
	}

	/**
	 * A frame drawn after everything shown so far: the zmq filter (after the labels in the chain) applies a command as
	 * frame N passes it, so N+1 is the first with it; one more covers a frame still on its way through the pipe.
	 */
	async frame(timeoutMs = 10_000): Promise<Buffer> {
		const after = this.#frames + 3;
		await this.#until(() => this.#frames >= after, timeoutMs, 'frame');
		return this.#latest!;
	}

	/**
	 * The first frame equal to `expected`, or the last one seen when none is within `timeoutMs`. Frames still on
	 * their way when ffmpeg acknowledged a command (how many depends on the machine's load) show the previous state.
	 */
	async frameLike(expected: Buffer, timeoutMs = 10_000): Promise<Buffer> {
		const deadline = Date.now() + timeoutMs;
		let frame = await this.frame(timeoutMs);
		while (!frame.equals(expected) && Date.now() < deadline) {
			const next = this.#frames + 1;
			await this.#until(() => this.#frames >= next, Math.max(1, deadline - Date.now()), 'frame').catch(() => undefined);
			frame = this.#latest!;
		}
		return frame;
	}

	/**
	 * The frame the plan for `names` draws from the start, each label's text read by drawtext from a file (no parser
	 * sees it): what "drawn as typed" looks like.
	 */
	async reference(names: readonly string[], active?: string): Promise<Buffer> {
		const planned = compositeGraph(names, 1, active);
		const { layout } = planned;
		let { graph } = planned;
		const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tribune-label-ref-'));
		try {
			for (const tile of layout.tiles) {
				const slot = planned.slots.slotOf.get(tile.speakerId)!;
				const file = path.join(dir, `label${slot}.txt`);
				await fs.writeFile(file, labelText(tile), 'utf8');
				const options = `fontfile=${fontFile}:expansion=none:box=1:${labelOptions(tile)}:fontcolor=white:boxcolor=black@0.55:textfile=${file}`;
				const before = graph;
				graph = graph.replace(new RegExp(`drawtext@name${slot}=[^,;\\[]*`), `drawtext@name${slot}=${options}`);
				if (graph === before) throw new Error(`LabelRig: no drawtext@name${slot} in the graph`);
			}
			graph = graph.replace(/,a?zmq=[^,]*/g, '');
			return await new Promise<Buffer>((resolve, reject) => {
				const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-filter_complex', graph,
					'-map', '[vo_small]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1', '-map', '[ao_small]', '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
				const out: Buffer[] = [];
				let stderr = '';
				const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
				child.stdout!.on('data', (chunk: Buffer) => {
					out.push(chunk);
					// One frame is all it is for; the graph's other output need not run on.
					if (Buffer.concat(out).length >= frameBytes) child.kill('SIGKILL');
				});
				child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
				child.on('close', (code) => {
					clearTimeout(timer);
					const frame = Buffer.concat(out);
					if (frame.length >= frameBytes) resolve(frame.subarray(0, frameBytes));
					else reject(new Error(`reference ffmpeg ended with ${code} after ${frame.length} bytes: ${stderr.slice(0, 500)}`));
				});
			});
		} finally {
			await fs.rm(dir, { recursive: true, force: true });
		}
	}

	close(): void {
		this.#abort.abort();
		this.#ffmpeg.kill('SIGKILL');
		for (const wake of this.#waiters.splice(0)) wake();
	}

	#wake(): void {
		for (const wake of this.#waiters.splice(0)) wake();
	}

	async #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!done()) {
			const left = deadline - Date.now();
			if (left <= 0 || this.#abort.signal.aborted) throw new Error(`LabelRig: no ${what} within ${timeoutMs} ms (${this.warnings.slice(-3).join(' | ')})`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, left);
				this.#waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}
}
