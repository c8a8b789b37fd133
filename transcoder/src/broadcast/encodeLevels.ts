import { validateLadder, type LatencyProfile, type Rendition } from './ladder.js';

/**
 * What one degradation level encodes. Level 0 is the broadcast as configured; each level after it sheds one more
 * piece of work, in this order (a step the ladder or latency cannot take is left out):
 * 1. the top video rendition (`720p` in the default ladder) is no longer encoded: it carries the next one's output
 *    (same bytes and init section; players on it keep playing, at the lower size), and the composite is drawn at
 *    that size;
 * 2. `fps`: the frame rate drops to 15;
 * 3. `preset`: x264 runs `ultrafast` instead of `veryfast`;
 * 4. `fps-low`: the frame rate drops to 10.
 * Every frame rate keeps segments and parts whole frames (and GOPs whole parts), as the packager needs.
 */
export interface EncodeLevel {
	level: number;
	/** Ids of what this level sheds, in shed order (for the job's progress and logs). */
	shed: string[];
	/** The renditions the encode writes. */
	ladder: Rendition[];
	/** Renditions not encoded, each carrying the output of the one named (the packager reads it for both). */
	servedFrom: Readonly<Record<string, string>>;
	latency: LatencyProfile;
	/** The composite's size. */
	canvas: { width: number; height: number };
	/**
	 * What going back to the level below costs, as a multiple of the encoder's CPU at this level (0 at level 0): an
	 * estimate from what each step saves (see docs/ARCHITECTURE.md, "The broadcast"), for `EncoderDegradation`'s
	 * restore, which waits for that much idle CPU.
	 */
	restoreCost: number;
}

/** Lowered frame rates, in shed order, with their shed ids. */
const fpsSteps = [
	{ id: 'fps', fps: 15 },
	{ id: 'fps-low', fps: 10 },
] as const;

/**
 * Estimated cost of restoring each step, as a multiple of the encoder's CPU with the step shed. Measured with an
 * empty stage's composite (3 speakers, no camera; 10 s a level): 0.226 cores at level 0, 0.056 without the 720p
 * encode, 0.038 at 15 fps, 0.030 ultrafast, 0.024 at 10 fps. Cameras add decoding and scaling that no step but the
 * first shrinks, so the top rendition is taken at 2 (not the 3 measured); a frame rate step costs 80 % of its frame
 * ratio (the audio does not change with it: 25 → 15 fps measured +47 %), `veryfast` +30 % over `ultrafast` (+27 %).
 */
const restoreCosts = { top: 2, preset: 0.3, perFrameRatio: 0.8 } as const;

/** The levels of a broadcast, level 0 (as configured) first. An audio-only ladder has level 0 only: nothing to shed. */
export function planEncodeLevels(ladder: readonly Rendition[], latency: LatencyProfile, canvas: { width: number; height: number }): EncodeLevel[] {
	validateLadder(ladder, latency);
	const levels: EncodeLevel[] = [{ level: 0, shed: [], ladder: [...ladder], servedFrom: {}, latency: { ...latency }, canvas: { ...canvas }, restoreCost: 0 }];
	const videos = ladder.filter((r) => r.video).sort((a, b) => b.video!.width * b.video!.height - a.video!.width * a.video!.height);
	if (videos.length === 0) return levels;
	const add = (id: string, change: (from: EncodeLevel) => Omit<EncodeLevel, 'level' | 'shed'>): void => {
		const from = levels.at(-1)!;
		levels.push({ ...change(from), level: levels.length, shed: [...from.shed, id] });
	};
	const [top, next] = videos;
	if (top && next) {
		add(top.name, (from) => ({
			ladder: from.ladder.filter((r) => r.name !== top.name),
			servedFrom: { [top.name]: next.name },
			latency: from.latency,
			// The composite at the size of what is left: no picture is drawn larger than any rendition shows it.
			canvas: next.video!.width < from.canvas.width ? { width: next.video!.width, height: next.video!.height } : from.canvas,
			restoreCost: restoreCosts.top,
		}));
	}
	const fpsStep = (step: (typeof fpsSteps)[number]): void => {
		const current = levels.at(-1)!.latency;
		const lowered = { ...current, fps: step.fps };
		if (step.fps >= current.fps || !wholeFrames(lowered)) return;
		add(step.id, (from) => ({ ...from, latency: lowered, restoreCost: round2((current.fps / step.fps - 1) * restoreCosts.perFrameRatio) }));
	};
	fpsStep(fpsSteps[0]);
	add('preset', (from) => ({ ...from, ladder: from.ladder.map((r) => (r.video ? { ...r, video: { ...r.video, preset: 'ultrafast' as const } } : r)), restoreCost: restoreCosts.preset }));
	fpsStep(fpsSteps[1]);
	return levels;
}

/** Whether segments and parts are whole frames at this frame rate (a GOP is a segment, a fragment a part). */
function wholeFrames(latency: LatencyProfile): boolean {
	try {
		validateLadder([{ name: 'check', audioKbps: 64 }], latency);
	} catch {
		return false;
	}
	return Number.isInteger((latency.partTargetMs * latency.fps) / 1000);
}

function round2(value: number): number {
	return Math.round(value * 100) / 100;
}
