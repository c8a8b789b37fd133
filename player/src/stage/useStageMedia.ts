import type { types } from 'mediasoup-client';
import { computed, onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue';
import { SignalingError, type SignalingSocket } from '../signaling/SignalingSocket.js';
import { describeError, mediaErrorCode } from '../space/describeError.js';
import type { RemoteTrack, StageClient } from './StageClient.js';
import { panFor } from './spatialPan.js';

interface RemoteAudio {
	participantId: string;
	/** The shared tab's sound: heard, but not placed as a voice nor counted as speaking. */
	tabAudio: boolean;
	element: HTMLAudioElement;
	source: MediaStreamAudioSourceNode;
	panner: StereoPannerNode;
	analyser: AnalyserNode;
}

export interface StageMediaInputs {
	socket: Ref<SignalingSocket | undefined>;
	/** True while this participant is on stage and the space is live. */
	active: Ref<boolean>;
	/** The space has video: ask for the camera too. */
	video: Ref<boolean>;
	/** Stage order of participant ids, for spatial positions. */
	order: Ref<string[]>;
	/** This participant's id (a share of ours is shown under it). */
	youId?: Ref<string | undefined>;
	onError: (message: string) => void;
}

/** A screen share on stage as this speaker sees it: someone else's (consumed) or their own (a local preview). */
export interface ScreenView {
	participantId: string;
	stream: MediaStream;
	mine: boolean;
}

/**
 * What a screen share asks the browser for: at most 1920 × 1080 (the browser scales a larger screen down) and 15
 * fps, the tab's sound if the user ticks it, and not this tab itself (sharing the stage page would loop).
 */
export const displayMediaOptions = {
	video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { ideal: 15, max: 15 } },
	audio: true,
	selfBrowserSurface: 'exclude',
	surfaceSwitching: 'include',
	systemAudio: 'exclude',
} as DisplayMediaStreamOptions;

/** This browser can share a screen (phones cannot: no getDisplayMedia). */
export const canShareScreen = (): boolean => typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';

/**
 * A speaker's media: when `active` turns true it asks for the microphone (and camera in a video space), joins the
 * stage with mediasoup-client and plays every other speaker through Web Audio (a stereo panner each, placed where
 * their tile is when spatial audio is on); when it turns false, or the socket is replaced, it leaves.
 */
export function useStageMedia(inputs: StageMediaInputs) {
	const joined = ref(false);
	const cameraOn = ref(false);
	const spatial = ref(true);
	const localVideo = shallowRef<MediaStream | undefined>();
	/** Remote cameras by participant id. */
	const remoteVideo = shallowRef(new Map<string, MediaStream>());
	/** The screen share on stage (someone else's, or ours), while this speaker is on stage. */
	const remoteScreen = shallowRef<ScreenView | undefined>();
	const localScreen = shallowRef<ScreenView | undefined>();
	const screen = computed(() => localScreen.value ?? remoteScreen.value);
	/** Our share is being set up (the browser's picker is open, or the server is asked). */
	const sharing = ref(false);
	const micError = ref('');

	let client: StageClient | undefined;
	let clientSocket: SignalingSocket | undefined;
	let context: AudioContext | undefined;
	let mic: MediaStreamTrack | undefined;
	let camera: MediaStreamTrack | undefined;
	let cameraProducer: types.Producer | undefined;
	let screenTracks: MediaStreamTrack[] = [];
	let screenProducers: types.Producer[] = [];
	let offShareEvents: (() => void) | undefined;
	let remoteScreenConsumer: string | undefined;
	const remotes = new Map<string, RemoteAudio>();
	const consumerOwner = new Map<string, { participantId: string; kind: 'audio' | 'video'; source: RemoteTrack['source'] }>();
	let generation = 0;

	function audioContext(): AudioContext {
		context ??= new AudioContext();
		if (context.state === 'suspended') void context.resume();
		return context;
	}

	function placeAll(): void {
		const order = inputs.order.value;
		for (const r of remotes.values()) {
			r.panner.pan.value = spatial.value && !r.tabAudio ? panFor(order.indexOf(r.participantId), order.length) : 0;
		}
	}

	function onTrack({ consumerId, participantId, kind, source, track }: RemoteTrack): void {
		consumerOwner.set(consumerId, { participantId, kind, source });
		const stream = new MediaStream([track]);
		if (source === 'screen') {
			remoteScreenConsumer = consumerId;
			remoteScreen.value = { participantId, stream, mine: false };
			return;
		}
		if (kind === 'video') {
			remoteVideo.value = new Map(remoteVideo.value).set(participantId, stream);
			return;
		}
		const ctx = audioContext();
		// Chromium feeds a remote WebRTC stream into Web Audio only while a media element plays it too (muted here).
		const element = new Audio();
		element.muted = true;
		element.srcObject = stream;
		void element.play().catch(() => {});
		const sourceNode = ctx.createMediaStreamSource(stream);
		const panner = ctx.createStereoPanner();
		const analyser = ctx.createAnalyser();
		sourceNode.connect(panner).connect(analyser).connect(ctx.destination);
		remotes.set(consumerId, { participantId, tabAudio: source === 'screenAudio', element, source: sourceNode, panner, analyser });
		placeAll();
	}

	function onTrackEnded(consumerId: string): void {
		const owner = consumerOwner.get(consumerId);
		consumerOwner.delete(consumerId);
		const remote = remotes.get(consumerId);
		if (remote) {
			remote.source.disconnect();
			remote.panner.disconnect();
			remote.element.srcObject = null;
			remotes.delete(consumerId);
		}
		if (owner?.source === 'screen') {
			// A replacement's consumer may arrive before the replaced one's closes.
			if (remoteScreenConsumer === consumerId) {
				remoteScreenConsumer = undefined;
				remoteScreen.value = undefined;
			}
		} else if (owner?.kind === 'video') {
			const next = new Map(remoteVideo.value);
			next.delete(owner.participantId);
			remoteVideo.value = next;
		}
	}

	async function getMicrophone(): Promise<MediaStreamTrack | undefined> {
		try {
			const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
			micError.value = '';
			return stream.getAudioTracks()[0];
		} catch (e) {
			micError.value = describeError(mediaErrorCode(e));
			inputs.onError(micError.value);
			return undefined;
		}
	}

	async function enter(socket: SignalingSocket): Promise<void> {
		const mine = ++generation;
		mic ??= await getMicrophone();
		// mediasoup-client is loaded only by those who go on stage; listeners never download it.
		const { StageClient: Client } = await import('./StageClient.js');
		if (mine !== generation) return;
		client = new Client(socket, { onTrack, onTrackEnded });
		clientSocket = socket;
		offShareEvents?.();
		// The server ended our share (a host stopped it, a new one replaced it, we were demoted, it went past its
		// bounds): the capture stops here too, so the browser's "sharing" indicator goes away.
		offShareEvents = socket.on('screenShare', ({ share, ended }) => {
			const mine = localScreen.value?.participantId;
			if (ended && ended.participantId === mine && share?.participantId !== mine) endLocalShare();
		});
		try {
			await client.join(mic ? [mic] : []);
			if (mine !== generation) return;
			joined.value = true;
			if (inputs.video.value && !camera) await setCamera(true);
		} catch (e) {
			if (mine === generation) inputs.onError(`Could not join the stage: ${(e as Error).message}`);
		}
	}

	function exit(stopDevices: boolean): void {
		generation++;
		offShareEvents?.();
		offShareEvents = undefined;
		endLocalShare();
		remoteScreen.value = undefined;
		client?.close();
		client = undefined;
		clientSocket = undefined;
		cameraProducer = undefined;
		for (const id of [...remotes.keys(), ...consumerOwner.keys()]) onTrackEnded(id);
		joined.value = false;
		if (stopDevices) {
			mic?.stop();
			mic = undefined;
			camera?.stop();
			camera = undefined;
			cameraOn.value = false;
			localVideo.value = undefined;
		}
	}

	async function setCamera(on: boolean): Promise<void> {
		if (!client) return;
		if (on) {
			try {
				const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
				camera = stream.getVideoTracks()[0];
			} catch (e) {
				inputs.onError(mediaErrorCode(e) === 'mic_denied' ? 'Camera access was denied.' : 'No camera was found.');
				return;
			}
			if (!camera) return;
			cameraProducer = await client.publish(camera);
			localVideo.value = new MediaStream([camera]);
			cameraOn.value = true;
		} else {
			if (cameraProducer) await clientSocket?.request('closeProducer', { producerId: cameraProducer.id }).catch(() => {});
			cameraProducer?.close();
			cameraProducer = undefined;
			camera?.stop();
			camera = undefined;
			localVideo.value = undefined;
			cameraOn.value = false;
		}
	}

	/**
	 * Shares a screen, window or tab (the browser asks which, and whether to include the tab's sound). `replace`: take
	 * over someone else's share (the page asked first). Answers false when nothing was shared (picker cancelled,
	 * refused), having said why.
	 */
	async function shareScreen(replace = false): Promise<boolean> {
		if (!client || sharing.value || localScreen.value) return false;
		if (!canShareScreen()) {
			inputs.onError('This browser cannot share a screen (phones and tablets cannot).');
			return false;
		}
		sharing.value = true;
		const mine = generation;
		const me = client;
		let stream: MediaStream | undefined;
		try {
			stream = await navigator.mediaDevices.getDisplayMedia(displayMediaOptions);
			const video = stream.getVideoTracks()[0];
			if (!video) throw new Error('no picture was shared');
			// Text and fine lines: keep the resolution, give up frames when short of bandwidth.
			video.contentHint = 'detail';
			await fitScreen(video);
			if (mine !== generation || client !== me) throw new Error('left the stage');
			screenTracks = stream.getTracks();
			const producer = await me.publish(video, { source: 'screen', replace });
			screenProducers = [producer];
			localScreen.value = { participantId: currentId(), stream: new MediaStream([video]), mine: true };
			// The browser's own "Stop sharing" (or the shared window closing) ends it like our button.
			video.addEventListener('ended', () => void stopShare());
			const audio = stream.getAudioTracks()[0];
			if (audio) {
				try {
					screenProducers.push(await me.publish(audio, { source: 'screenAudio' }));
				} catch {
					inputs.onError('Your screen is shared without its sound: the sound could not be sent.');
				}
			}
			return true;
		} catch (e) {
			for (const t of stream?.getTracks() ?? []) t.stop();
			screenTracks = [];
			screenProducers = [];
			const name = (e as { name?: string }).name;
			// Cancelling the picker is not an error worth a message.
			if (name !== 'NotAllowedError' && name !== 'AbortError') inputs.onError(`Could not share your screen: ${describeShareError(e)}`);
			return false;
		} finally {
			sharing.value = false;
		}
	}

	/** Stops our share: the server first (so everyone sees it end now), then the capture. */
	async function stopShare(): Promise<void> {
		if (!localScreen.value && screenProducers.length === 0) return;
		const socket = clientSocket;
		endLocalShare();
		// Already ended at the server (a host stopped it first, or we left): nothing more to do.
		await socket?.request('stopShare', {}).catch(() => {});
	}

	function endLocalShare(): void {
		for (const p of screenProducers) p.close();
		screenProducers = [];
		for (const t of screenTracks) t.stop();
		screenTracks = [];
		localScreen.value = undefined;
	}

	function currentId(): string {
		return inputs.youId?.value ?? 'you';
	}

	function setSpatial(on: boolean): void {
		spatial.value = on;
		placeAll();
	}

	watch(
		[inputs.active, inputs.socket],
		([active, socket], [wasActive, oldSocket]) => {
			if (active && socket && (!wasActive || socket !== oldSocket || !client)) {
				exit(false);
				void enter(socket);
			} else if (!active && wasActive) exit(true);
		},
		{ immediate: true },
	);
	watch(inputs.order, placeAll);

	/** After `stageReset`: the stage moved to another media worker; rejoin with the same microphone. */
	function onStageReset(): void {
		const socket = inputs.socket.value;
		if (!inputs.active.value || !socket) return;
		exit(false);
		void enter(socket);
	}

	/** Loudness per remote speaker, 0–1 (tests and the speaking ring). */
	function levels(): Record<string, number> {
		const out: Record<string, number> = {};
		for (const r of remotes.values()) {
			if (r.tabAudio) continue;
			const samples = new Float32Array(r.analyser.fftSize);
			r.analyser.getFloatTimeDomainData(samples);
			let sum = 0;
			for (const s of samples) sum += s * s;
			out[r.participantId] = Math.max(out[r.participantId] ?? 0, Math.sqrt(sum / samples.length));
		}
		return out;
	}

	/** RTP packets in (per remote participant) and out, from WebRTC stats. */
	async function packetStats(): Promise<{ inbound: Record<string, number>; outbound: number }> {
		const inbound: Record<string, number> = {};
		let outbound = 0;
		for (const consumer of client?.consumers ?? []) {
			if (consumer.kind !== 'audio') continue;
			const owner = consumerOwner.get(consumer.id)?.participantId ?? consumer.id;
			(await consumer.getStats()).forEach((s: { type: string; packetsReceived?: number }) => {
				if (s.type === 'inbound-rtp') inbound[owner] = (inbound[owner] ?? 0) + (s.packetsReceived ?? 0);
			});
		}
		for (const producer of client?.producers ?? []) {
			if (producer.kind !== 'audio') continue;
			(await producer.getStats()).forEach((s: { type: string; packetsSent?: number }) => {
				if (s.type === 'outbound-rtp') outbound += s.packetsSent ?? 0;
			});
		}
		return { inbound, outbound };
	}

	onBeforeUnmount(() => {
		exit(true);
		void context?.close();
	});

	/** What the test page and tests read of the share: whose, and the picture's size as this browser gets it. */
	function screenInfo(): { participantId: string; mine: boolean; width: number; height: number } | null {
		const s = screen.value;
		const settings = s?.stream.getVideoTracks()[0]?.getSettings();
		return s ? { participantId: s.participantId, mine: s.mine, width: settings?.width ?? 0, height: settings?.height ?? 0 } : null;
	}

	return { joined, cameraOn, spatial, localVideo, remoteVideo, screen, sharing, micError, setCamera, setSpatial, shareScreen, stopShare, onStageReset, levels, packetStats, screenInfo };
}

export type StageMedia = ReturnType<typeof useStageMedia>;

/**
 * Keeps a captured screen inside ingest's bounds even where the browser ignored the request's maximum (a screen
 * larger than 1920 × 1080 is scaled down, keeping its shape). Best effort: a browser that refuses keeps its size, and
 * ingest ends a share past its bounds with a message.
 */
async function fitScreen(track: MediaStreamTrack): Promise<void> {
	const { width = 0, height = 0 } = track.getSettings();
	const scale = Math.min(1, 1920 / Math.max(width, 1), 1920 / Math.max(height, 1), Math.sqrt((1920 * 1080) / Math.max(width * height, 1)));
	if (scale >= 1) return;
	// Refused: the share goes at its size, and ingest says so if that is past its bounds.
	await track.applyConstraints({ width: Math.floor(width * scale), height: Math.floor(height * scale), frameRate: { max: 15 } }).catch(() => undefined);
}

function describeShareError(e: unknown): string {
	if (e instanceof SignalingError) {
		if (e.code === 'conflict') return `${e.message}.`;
		if (e.code === 'forbidden') return e.message.includes('replace') ? `${e.message}.` : 'you may not share a screen in this space.';
	}
	return e instanceof Error ? e.message : 'unknown error';
}
