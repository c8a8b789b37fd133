/** How long a stopping broadcast may keep its encoder to package what it still holds. */
export interface ReplayDrainOptions {
	/**
	 * Where the packaged media ends, wall-clock ms (program-date-time of the last segment plus its duration; the least
	 * over the renditions, so every one is drained). 0 before any media.
	 */
	mediaEndMs: () => number;
	/** Longest the stop waits, ms (default 15000). */
	maxWaitMs?: number;
	/** The stop goes on once the media end has not advanced for this long, ms: nothing more is coming (default 3000). */
	idleMs?: number;
	/** The media may end this much before the stop and count as whole, ms: the last part still open (default 400). */
	marginMs?: number;
	/** How often the media end is read, ms (default 200). */
	pollMs?: number;
	nowMs?: () => number;
}

/**
 * The signal a broadcast's encoder runs stop on, from the job's stop signal: a recorded broadcast that is asked to stop
 * keeps encoding until its packaged media reaches the moment of the stop, so the replay holds everything said until
 * then. A slow encoder runs seconds behind its input, and a stop (ffmpeg's SIGINT) makes it drop the input it has not
 * read yet: on a busy machine a replay lost its last ~10 s that way. Aborts once the media end reaches the stop time
 * (less `marginMs`), once it stops advancing for `idleMs`, or after `maxWaitMs`, whichever comes first; at once when
 * there is no media yet.
 */
export function drainedStopSignal(stop: AbortSignal, options: ReplayDrainOptions): AbortSignal {
	const controller = new AbortController();
	const now = options.nowMs ?? Date.now;
	const { maxWaitMs = 15_000, idleMs = 3000, marginMs = 400, pollMs = 200 } = options;
	const onStop = (): void => {
		const stopAtMs = now();
		let lastEndMs = options.mediaEndMs();
		let advancedAtMs = stopAtMs;
		const check = (): void => {
			const endMs = options.mediaEndMs();
			if (endMs > lastEndMs) {
				lastEndMs = endMs;
				advancedAtMs = now();
			}
			const done = endMs <= 0 || endMs >= stopAtMs - marginMs || now() - advancedAtMs >= idleMs || now() - stopAtMs >= maxWaitMs;
			if (!done) return void setTimeout(check, pollMs);
			controller.abort(stop.reason);
		};
		check();
	};
	if (stop.aborted) onStop();
	else stop.addEventListener('abort', onStop, { once: true });
	return controller.signal;
}
