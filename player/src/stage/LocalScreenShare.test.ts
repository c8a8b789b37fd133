import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalScreenShare } from './LocalScreenShare.js';
import { ScreenShareView } from './ScreenShareView.js';
import type { StageClient } from './StageClient.js';

/** Node has no capture: a track and a stream that record being stopped, and a client whose producers record closing. */
function fakes() {
	const video = { kind: 'video', stopped: false, contentHint: '', stop: () => (video.stopped = true), getSettings: () => ({ width: 1920, height: 1080 }), addEventListener: () => {} };
	const producers: { closed: boolean; close: () => void }[] = [];
	const client = {
		publish: async () => {
			const p = { closed: false, close: () => (p.closed = true) };
			producers.push(p);
			return p;
		},
	} as unknown as StageClient;
	vi.stubGlobal('navigator', { mediaDevices: { getDisplayMedia: async () => ({ getVideoTracks: () => [video], getAudioTracks: () => [], getTracks: () => [video] }) } });
	vi.stubGlobal('MediaStream', class {
		readonly id = 'preview';
	});
	return { video, producers, client };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('LocalScreenShare', () => {
	let screens: ScreenShareView;
	let local: LocalScreenShare;
	beforeEach(() => {
		screens = new ScreenShareView();
		local = new LocalScreenShare(screens, { onError: () => {}, socket: () => undefined });
	});
	afterEach(() => vi.unstubAllGlobals());

	it('replaced by someone else\'s share: stops sending at once, keeps its preview and capture until the successor shows', async () => {
		const { video, producers, client } = fakes();
		expect(await local.share(client, { participantId: 'tess', replace: false, current: () => true })).toBe(true);
		local.view.value!.shown();
		local.onShareEvent({ share: { participantId: 'sam', producerId: 'p-sam', audio: false, startedAt: 0 }, speakersMayShare: true, ended: { participantId: 'tess', reason: 'replaced' } });
		expect(producers.every((p) => p.closed)).toBe(true);
		expect(local.replaced.value).toBe(true);
		expect(local.view.value?.participantId).toBe('tess');
		expect(video.stopped).toBe(false);
		screens.received({ consumerId: 'c-sam', producerId: 'p-sam', participantId: 'sam', stream: {} as MediaStream });
		screens.remote.value!.shown();
		await settle();
		expect(video.stopped).toBe(true);
		expect(local.view.value).toBeUndefined();
		expect(local.replaced.value).toBe(false);
	});

	it('stopped by a host: the capture stops at once', async () => {
		const { video, producers, client } = fakes();
		await local.share(client, { participantId: 'tess', replace: false, current: () => true });
		local.onShareEvent({ share: null, speakersMayShare: true, ended: { participantId: 'tess', reason: 'stopped_by_moderator' } });
		expect(producers.every((p) => p.closed)).toBe(true);
		expect(video.stopped).toBe(true);
		expect(local.view.value).toBeUndefined();
	});

	it('another share ending leaves ours alone', async () => {
		const { video, client } = fakes();
		await local.share(client, { participantId: 'tess', replace: false, current: () => true });
		local.onShareEvent({ share: { participantId: 'tess', producerId: 'p-tess', audio: false, startedAt: 0 }, speakersMayShare: true, ended: { participantId: 'sam', reason: 'replaced' } });
		expect(video.stopped).toBe(false);
		expect(local.view.value?.participantId).toBe('tess');
	});
});
