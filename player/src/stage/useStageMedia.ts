import type { types } from 'mediasoup-client';
import { computed, onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue';
import type { SignalingSocket } from '../signaling/SignalingSocket.js';
import { describeError, mediaErrorCode } from '../space/describeError.js';
import { LocalScreenShare } from './LocalScreenShare.js';
import { ScreenShareView } from './ScreenShareView.js';
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
	const screens = new ScreenShareView();
	const localShare = new LocalScreenShare(screens, { onError: inputs.onError, socket: () => clientSocket });
	/**
	 * The screen share on stage while this speaker is on stage: ours, or someone else's; ours replaced, its successor
	 * once here (the page swaps pictures when the successor has one).
	 */
	const screen = computed(() => (localShare.replaced.value ? (screens.remote.value ?? localShare.view.value) : (localShare.view.value ?? screens.remote.value)));
	/** Our share is being set up (the browser's picker is open, or the server is asked). */
	const sharing = localShare.sharing;
	const micError = ref('');

	let client: StageClient | undefined;
	let clientSocket: SignalingSocket | undefined;
	let context: AudioContext | undefined;
	let mic: MediaStreamTrack | undefined;
	let camera: MediaStreamTrack | undefined;
	let cameraProducer: types.Producer | undefined;
	let offShareEvents: (() => void) | undefined;
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

	function onTrack({ consumerId, producerId, participantId, kind, source, track }: RemoteTrack): void {
		consumerOwner.set(consumerId, { participantId, kind, source });
		const stream = new MediaStream([track]);
		if (source === 'screen') {
			screens.received({ consumerId, producerId, participantId, stream });
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

	function onTrackEnded(consumerId: string): Promise<void> | undefined {
		const owner = consumerOwner.get(consumerId);
		consumerOwner.delete(consumerId);
		const remote = remotes.get(consumerId);
		if (remote) {
			remote.source.disconnect();
			remote.panner.disconnect();
			remote.element.srcObject = null;
			remotes.delete(consumerId);
		}
		// A replaced share's consumer stays open, its picture on screen, until its successor's picture shows.
		if (owner?.source === 'screen') return screens.ended(consumerId);
		if (owner?.kind === 'video') {
			const next = new Map(remoteVideo.value);
			next.delete(owner.participantId);
			remoteVideo.value = next;
		}
		return undefined;
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
		offShareEvents = socket.on('screenShare', (data) => {
			screens.announced(data.share);
			localShare.onShareEvent(data);
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
		localShare.end();
		client?.close();
		client = undefined;
		clientSocket = undefined;
		cameraProducer = undefined;
		for (const id of [...remotes.keys(), ...consumerOwner.keys()]) void onTrackEnded(id);
		screens.clear();
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

	/** Shares a screen (see `LocalScreenShare.share`); `replace`: take over someone else's share (the page asked first). */
	async function shareScreen(replace = false): Promise<boolean> {
		const mine = generation;
		const me = client;
		if (!me) return false;
		return localShare.share(me, { participantId: inputs.youId?.value ?? 'you', replace, current: () => mine === generation && client === me });
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

	return { joined, cameraOn, spatial, localVideo, remoteVideo, screen, sharing, micError, setCamera, setSpatial, shareScreen, stopShare: () => localShare.stop(), onStageReset, levels, packetStats, screenInfo };
}

export type StageMedia = ReturnType<typeof useStageMedia>;
