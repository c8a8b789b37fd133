import type { SpaceInfo } from '../../../api/src/signaling/protocol.js';

export interface FollowSpaceInfoOptions {
	/** Reads the space's public info (GET /api/spaces/:id). */
	read: () => Promise<SpaceInfo>;
	/** Called with every info read (the caller compares; an unchanged read is cheap to apply). */
	onInfo: (space: SpaceInfo) => void;
	/** Time between reads, ms. Default 15 000: a caption-mode change reaches an embed within about that. */
	intervalMs?: number;
	/** Each wait is stretched by up to this fraction at random, so a page's many embeds do not read in step. Default 0.2. */
	jitter?: number;
	/** True while the page is hidden: reads are skipped then (nobody is watching). Default: never hidden. */
	hidden?: () => boolean;
	random?: () => number;
	setTimer?: (fn: () => void, ms: number) => unknown;
	clearTimer?: (handle: unknown) => void;
}

/**
 * Follows a space's public info on a slow timer, for a page without a signaling connection (the embed): one small
 * GET every `intervalMs`, none while the page is hidden, none after the space has ended (nothing changes then). A
 * failed read is skipped; the last info stays. Returns the stop (idempotent).
 */
export function followSpaceInfo(options: FollowSpaceInfoOptions): () => void {
	const intervalMs = options.intervalMs ?? 15_000;
	const jitter = options.jitter ?? 0.2;
	const random = options.random ?? Math.random;
	const setTimer = options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
	const clearTimer = options.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
	let stopped = false;
	let timer: unknown;

	const schedule = (): void => {
		if (!stopped) timer = setTimer(() => void tick(), intervalMs * (1 + jitter * random()));
	};
	const tick = async (): Promise<void> => {
		timer = undefined;
		if (stopped) return;
		if (options.hidden?.()) {
			schedule();
			return;
		}
		let space: SpaceInfo | undefined;
		try {
			space = await options.read();
		} catch {
			// A network blip or a restarting node: try again next time.
		}
		if (stopped) return;
		if (space) options.onInfo(space);
		if (space?.state === 'ended') return;
		schedule();
	};
	schedule();
	return () => {
		stopped = true;
		if (timer !== undefined) clearTimer(timer);
		timer = undefined;
	};
}
