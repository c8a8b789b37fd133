import type { HlsConfig } from 'hls.js';

/**
 * hls.js settings for a live stage (the same ones the LL-HLS benches measure, api/test/origin/support/hlsPage.ts):
 * low-latency mode with blocking playlist reload and parts.
 */
export function liveHlsConfig(): Partial<HlsConfig> {
	return {
		lowLatencyMode: true,
		// hls.js' own rate catch-up stays off: it needs over a second buffered ahead, which a listener near PART-HOLD-BACK
		// never has, and gives up past one target duration behind. The player holds the target itself (liveCatchUp).
		maxLiveSyncPlaybackRate: 1,
		// The player moves its target back after stalls itself, and forward again once playback is calm (LiveTarget):
		// hls.js' own increase (per stall, kept until the next load) stays off.
		liveSyncOnStallIncrease: 0,
		backBufferLength: 30,
		// A broadcast moving to another transcoder leaves the origin without new parts for 5-8 s: keep asking with
		// backoff for ~30 s rather than giving up (the defaults end in a fatal error after a few seconds).
		playlistLoadPolicy: blockingReloadPolicy(),
		manifestLoadPolicy: patientLoadPolicy(4, 8),
		fragLoadPolicy: patientLoadPolicy(6, 8),
	};
}

/**
 * Playlist reloads. hls.js gives a blocking reload (`_HLS_msn`/`_HLS_part`) only max(3 parts, 0.8 target durations) —
 * 0.8 s here — before it times out, whatever the policy says; on a busy server or network one sometimes takes longer,
 * and a timed-out reload retried after the backoff (250 ms doubling to 4 s) left the listener without new parts for
 * seconds while the live edge went on (levelLoadTimeOut, then a stall). A timed-out blocking reload is asked again
 * at once, every 0.1 s after its timeout, for as long as a broadcast takeover lasts (~40 tries, ~36 s); other
 * errors keep the backoff.
 */
function blockingReloadPolicy(): HlsConfig['playlistLoadPolicy'] {
	const policy = patientLoadPolicy(8, 12);
	return { default: { ...policy.default, timeoutRetry: { maxNumRetry: 40, retryDelayMs: 100, maxRetryDelayMs: 100, backoff: 'linear' } } };
}

/** Generous timeouts and exponential backoff (250 ms doubling to 4 s): `timeouts` and `errors` retries. */
function patientLoadPolicy(timeouts: number, errors: number): HlsConfig['playlistLoadPolicy'] {
	const retry = (maxNumRetry: number) => ({ maxNumRetry, retryDelayMs: 250, maxRetryDelayMs: 4000, backoff: 'exponential' as const });
	return { default: { maxTimeToFirstByteMs: 10_000, maxLoadTimeMs: 20_000, timeoutRetry: retry(timeouts), errorRetry: retry(errors) } };
}

/** A replay is ordinary VOD. */
export function replayHlsConfig(): Partial<HlsConfig> {
	return { lowLatencyMode: false, backBufferLength: 60 };
}

/** One caption cue as shown: WebVTT voice spans (`<v Ada>…</v>`) become "Ada: …"; other tags are dropped. */
export function captionText(cueText: string): { speaker: string | null; text: string } {
	const voice = /^<v(?:\.[^ >]*)? ([^>]+)>/.exec(cueText);
	const text = cueText.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
	return { speaker: voice ? voice[1]!.trim() : null, text };
}
