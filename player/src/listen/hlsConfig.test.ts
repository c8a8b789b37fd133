import { describe, expect, it } from 'vitest';
import { captionText, liveHlsConfig } from './hlsConfig.js';

describe('live hls.js settings', () => {
	it('run in low-latency mode, hls.js\' own rate catch-up off (the player holds the target: liveCatchUp)', () => {
		expect(liveHlsConfig()).toMatchObject({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1, liveSyncOnStallIncrease: 0 });
	});

	it('ask a timed-out blocking playlist reload again at once, for longer than a broadcast takeover', () => {
		const retry = liveHlsConfig().playlistLoadPolicy!.default.timeoutRetry!;
		expect(retry).toMatchObject({ retryDelayMs: 100, maxRetryDelayMs: 100, backoff: 'linear' });
		// hls.js times a blocking reload out after 0.8 s (Tribune's 200 ms parts, 1 s segments).
		expect(retry.maxNumRetry * (800 + retry.retryDelayMs)).toBeGreaterThan(15_000);
	});

	it('keep retrying playlists for longer than a broadcast takeover (5-8 s)', () => {
		const retry = liveHlsConfig().playlistLoadPolicy!.default.errorRetry!;
		let total = 0;
		for (let n = 0; n < retry.maxNumRetry; n++) total += Math.min(retry.maxRetryDelayMs, retry.retryDelayMs * 2 ** n);
		expect(total).toBeGreaterThan(15_000);
	});
});

describe('captionText', () => {
	it('reads the speaker from a WebVTT voice span', () => {
		expect(captionText('<v Ada Lovelace>Hello there</v>')).toEqual({ speaker: 'Ada Lovelace', text: 'Hello there' });
		expect(captionText('<v.loud Bo>Hi <i>all</i></v>')).toEqual({ speaker: 'Bo', text: 'Hi all' });
	});

	it('shows plain cues without a speaker', () => {
		expect(captionText('just\ntext')).toEqual({ speaker: null, text: 'just text' });
	});
});
