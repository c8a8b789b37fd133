import type { types } from 'mediasoup-client';
import { onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue';
import type { SignalingSocket } from '../signaling/SignalingSocket.js';
import { describeError, mediaErrorCode } from '../space/describeError.js';
import type { RemoteTrack, StageClient } from './StageClient.js';
import { panFor } from './spatialPan.js';

interface RemoteAudio {
	participantId: string;
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
	const micError = ref('');

	let client: StageClient | undefined;
	let clientSocket: SignalingSocket | undefined;
	let context: AudioContext | undefined;
	let mic: MediaStreamTrack | undefined;
	let camera: MediaStreamTrack | undefined;
	let cameraProducer: types.Producer | undefined;
	const remotes = new Map<string, RemoteAudio>();
	const consumerOwner = new Map<string, { participantId: string; kind: 'audio' | 'video' }>();
	let generation = 0;

	function audioContext(): AudioContext {
		context ??= new AudioContext();
		if (context.state === 'suspended') void context.resume();
		return context;
	}

	function placeAll(): void {
		const order = inputs.order.value;
		for (const r of remotes.values()) {
			r.panner.pan.value = spatial.value ? panFor(order.indexOf(r.participantId), order.length) : 0;
		}
	}

	function onTrack({ consumerId, participantId, kind, track }: RemoteTrack): void {
		consumerOwner.set(consumerId, { participantId, kind });
		const stream = new MediaStream([track]);
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
		const source = ctx.createMediaStreamSource(stream);
		const panner = ctx.createStereoPanner();
		const analyser = ctx.createAnalyser();
		source.connect(panner).connect(analyser).connect(ctx.destination);
		remotes.set(consumerId, { participantId, element, source, panner, analyser });
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
		if (owner?.kind === 'video') {
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

	return { joined, cameraOn, spatial, localVideo, remoteVideo, micError, setCamera, setSpatial, onStageReset, levels, packetStats };
}

export type StageMedia = ReturnType<typeof useStageMedia>;
