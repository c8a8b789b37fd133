import type { Logger } from 'pino';

export interface RepeatKeyframeRequestsOptions {
	/** One request to every video consumer of the run (the stage link's `requestKeyframe`). */
	request: () => Promise<unknown>;
	/** Stops the requests: the run's video flows, or the run ended. */
	signal: AbortSignal;
	/** Default 250 ms. */
	intervalMs?: number;
	/** Default 40: 10 s at the default interval, past the slowest start seen under load (5–6 s at load 10–20). */
	maxRequests?: number;
	logger: Logger;
}

/**
 * Keeps asking a new run's cameras for keyframes until its video flows. ffmpeg decodes nothing of a video stream
 * before its first keyframe, and the composite waits for a picture from every camera; one request (the one `resume`
 * makes) can be lost on the way, or its keyframe can reach ffmpeg before it reads the port, and a browser camera
 * sends no other keyframe by itself: the run would never go on air. Requests go out every `intervalMs` (a keyframe
 * costs the camera little, and mediasoup sends its producer one request at a time), at most `maxRequests` of them.
 * A failed request (the node slow under load) is logged and the next one goes out on time.
 */
export function repeatKeyframeRequests(options: RepeatKeyframeRequestsOptions): void {
	const { signal, logger } = options;
	const intervalMs = options.intervalMs ?? 250;
	const maxRequests = options.maxRequests ?? 40;
	if (signal.aborted || maxRequests <= 0) return;
	let sent = 0;
	let inFlight = false;
	const timer = setInterval(() => {
		if (signal.aborted) return stop();
		// A request still unanswered (the node busy) is not stacked on.
		if (inFlight) return;
		sent++;
		if (sent >= maxRequests) stop();
		inFlight = true;
		options
			.request()
			.catch((error: unknown) => {
				if (!signal.aborted) logger.debug({ err: error }, 'keyframe request failed');
			})
			.finally(() => {
				inFlight = false;
			});
	}, intervalMs);
	const stop = (): void => {
		clearInterval(timer);
		signal.removeEventListener('abort', stop);
	};
	signal.addEventListener('abort', stop, { once: true });
}
