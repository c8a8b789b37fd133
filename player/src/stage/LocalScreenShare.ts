import type { types } from 'mediasoup-client';
import { ref, shallowRef } from 'vue';
import type { EventData } from '../../../api/src/signaling/protocol.js';
import type { SignalingSocket } from '../signaling/SignalingSocket.js';
import { canShareScreen, describeShareError, displayMediaOptions, fitScreen } from './screenCapture.js';
import type { ScreenShareView, ScreenView } from './ScreenShareView.js';
import type { StageClient } from './StageClient.js';

/**
 * This speaker's own screen share: the capture, its producers and its preview. The server may end it (a host stopped
 * it, we were demoted, it went past its bounds): the capture stops here too, so the browser's "sharing" indicator
 * goes. Replaced by someone else's, it stops sending at once but keeps its preview (and so its capture) until the
 * successor's picture shows on this page, which then takes its place.
 */
export class LocalScreenShare {
	/** Our share's preview, while we share. */
	readonly view = shallowRef<ScreenView | undefined>();
	/** Being set up (the browser's picker is open, or the server is asked). */
	readonly sharing = ref(false);
	/** Replaced: the preview waits for the successor's picture; the page shows the successor as soon as it has one. */
	readonly replaced = ref(false);
	readonly #screens: ScreenShareView;
	readonly #onError: (message: string) => void;
	readonly #socket: () => SignalingSocket | undefined;
	#tracks: MediaStreamTrack[] = [];
	#producers: types.Producer[] = [];

	/** `socket`: the stage's signaling, to tell the server when we stop. */
	constructor(screens: ScreenShareView, options: { onError: (message: string) => void; socket: () => SignalingSocket | undefined }) {
		this.#screens = screens;
		this.#onError = options.onError;
		this.#socket = options.socket;
	}

	/**
	 * Shares a screen, window or tab (the browser asks which, and whether to include the tab's sound). `replace`: take
	 * over someone else's share (the page asked first); `current`: still the same stage session (checked after the
	 * picker). Answers false when nothing was shared (picker cancelled, refused), having said why.
	 */
	async share(client: StageClient, options: { participantId: string; replace: boolean; current: () => boolean }): Promise<boolean> {
		// A replaced share's preview waiting for its successor's picture gives way to a new share of ours.
		if (this.replaced.value) this.end();
		if (this.sharing.value || this.view.value) return false;
		if (!canShareScreen()) {
			this.#onError('This browser cannot share a screen (phones and tablets cannot).');
			return false;
		}
		this.sharing.value = true;
		let stream: MediaStream | undefined;
		try {
			stream = await navigator.mediaDevices.getDisplayMedia(displayMediaOptions);
			const video = stream.getVideoTracks()[0];
			if (!video) throw new Error('no picture was shared');
			// Text and fine lines: keep the resolution, give up frames when short of bandwidth.
			video.contentHint = 'detail';
			await fitScreen(video);
			if (!options.current()) throw new Error('left the stage');
			this.#tracks = stream.getTracks();
			this.#producers = [await client.publish(video, { source: 'screen', replace: options.replace })];
			this.view.value = this.#screens.view(options.participantId, new MediaStream([video]), true);
			// The browser's own "Stop sharing" (or the shared window closing) ends it like our button.
			video.addEventListener('ended', () => void this.stop());
			const audio = stream.getAudioTracks()[0];
			if (audio) {
				try {
					this.#producers.push(await client.publish(audio, { source: 'screenAudio' }));
				} catch {
					this.#onError('Your screen is shared without its sound: the sound could not be sent.');
				}
			}
			return true;
		} catch (e) {
			for (const t of stream?.getTracks() ?? []) t.stop();
			this.#tracks = [];
			this.#producers = [];
			const name = (e as { name?: string }).name;
			// Cancelling the picker is not an error worth a message.
			if (name !== 'NotAllowedError' && name !== 'AbortError') this.#onError(`Could not share your screen: ${describeShareError(e)}`);
			return false;
		} finally {
			this.sharing.value = false;
		}
	}

	/** Stops our share: here at once (producers, capture, preview), then at the server, which tells everyone. */
	async stop(): Promise<void> {
		if (!this.view.value && this.#producers.length === 0) return;
		const socket = this.#socket();
		this.end();
		// A refusal or a lost connection needs nothing more: the share had already ended at the server (a host stopped
		// it, or it was replaced), or it ends there with our connection.
		await socket?.request('stopShare', {}).catch(() => {}); // safe to ignore: see the comment above
	}

	/** A `screenShare` event: one that ends our share (and names no share of ours) ends it here. */
	onShareEvent({ share, ended }: EventData['screenShare']): void {
		const mine = this.view.value?.participantId;
		if (!ended || ended.participantId !== mine || share?.participantId === mine) return;
		if (ended.reason === 'replaced' && share) this.#handOver();
		else this.end();
	}

	/** Ends the share here: producers, capture and preview. */
	end(): void {
		for (const p of this.#producers) p.close();
		this.#producers = [];
		for (const t of this.#tracks) t.stop();
		this.#tracks = [];
		this.view.value = undefined;
		this.replaced.value = false;
	}

	#handOver(): void {
		for (const p of this.#producers) p.close();
		this.#producers = [];
		const view = this.view.value;
		if (!view || this.replaced.value) return;
		this.replaced.value = true;
		void this.#screens.replaced(view).then(() => {
			if (this.view.value === view) this.end();
		});
	}
}
