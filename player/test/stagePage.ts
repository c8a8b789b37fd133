/**
 * The page a headless Chromium speaker runs in Tribune's stage tests: the player's own SignalingSocket and
 * StageClient, driven by the test through `window.tribune`. Built with vite by api/test/support/stagePageBundle.ts.
 */
import { SignalingSocket } from '../src/signaling/SignalingSocket.js';
import { StageClient } from '../src/stage/StageClient.js';

/** Makes a 50 ms 1 kHz beep every `periodS` seconds and says (by message) when each one starts. */
const beeperWorklet = `
class Beeper extends AudioWorkletProcessor {
	constructor(options) {
		super();
		this.n = 0;
		this.period = Math.round(sampleRate * options.processorOptions.periodS);
		this.length = Math.round(sampleRate * 0.05);
	}
	process(_inputs, outputs) {
		const out = outputs[0][0];
		for (let i = 0; i < out.length; i++) {
			const k = (this.n + i) % this.period;
			if (k === 0) this.port.postMessage(0);
			out[i] = k < this.length ? 0.5 * Math.sin((2 * Math.PI * 1000 * k) / sampleRate) : 0;
		}
		this.n += out.length;
		return true;
	}
}
registerProcessor('beeper', Beeper);
`;

/** Says (by message) when sound starts after at least 200 ms of quiet. */
const detectorWorklet = `
class Detector extends AudioWorkletProcessor {
	constructor() {
		super();
		this.quiet = 1e9;
	}
	process(inputs) {
		const ch = inputs[0] && inputs[0][0];
		if (!ch) return true;
		for (let i = 0; i < ch.length; i++) {
			if (Math.abs(ch[i]) > 0.1) {
				if (this.quiet > sampleRate * 0.2) this.port.postMessage(0);
				this.quiet = 0;
			} else this.quiet++;
		}
		return true;
	}
}
registerProcessor('detector', Detector);
`;

const epochMs = (): number => performance.timeOrigin + performance.now();
let audioContext: AudioContext | undefined;
async function context(): Promise<AudioContext> {
	if (!audioContext) {
		audioContext = new AudioContext({ sampleRate: 48000 });
		for (const code of [beeperWorklet, detectorWorklet]) await audioContext.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'application/javascript' })));
	}
	await audioContext.resume();
	return audioContext;
}
const beepTimes: number[] = [];
const onsetTimes: Record<string, number[]> = {};

interface TestStage {
	/** Joins the stage publishing beeps (for the latency bench) instead of the microphone; beep start times go to beepTimes. */
	joinStageWithBeeps(periodS: number): Promise<void>;
	/** Epoch ms at which each beep left the speaker's audio graph. */
	beepTimes: number[];
	/** Epoch ms at which sound started in each remote speaker's received audio, by participant id. */
	onsetTimes: Record<string, number[]>;
	events: { event: string; data: unknown }[];
	connect(wsUrl: string, token: string): Promise<void>;
	request(name: string, data: unknown): Promise<unknown>;
	/** Joins the stage; publishes the (fake) microphone if `publish`. */
	joinStage(publish: boolean): Promise<void>;
	leaveStage(): void;
	/** RTP packets received so far from each remote speaker's audio, by participant id. */
	inboundAudioPackets(): Promise<Record<string, number>>;
	outboundAudioPackets(): Promise<number>;
}

let signaling: SignalingSocket | undefined;
let stage: StageClient | undefined;
const consumerOwners = new Map<string, string>();
const events: TestStage['events'] = [];
const recorded = ['tick', 'roleChanged', 'tokenRenewed', 'handChanged', 'handQueueChanged', 'muteChanged', 'activeSpeaker', 'newConsumer', 'consumerClosed', 'stageReset', 'removed'] as const;

const api: TestStage = {
	events,
	beepTimes,
	onsetTimes,
	async joinStageWithBeeps(periodS) {
		const ctx = await context();
		const beeper = new AudioWorkletNode(ctx, 'beeper', { processorOptions: { periodS } });
		beeper.port.onmessage = () => beepTimes.push(epochMs());
		const destination = ctx.createMediaStreamDestination();
		beeper.connect(destination);
		stage = new StageClient(signaling!, {});
		await stage.join(destination.stream.getAudioTracks());
	},
	async connect(wsUrl, token) {
		signaling = await SignalingSocket.connect(wsUrl, token);
		for (const name of recorded) signaling.on(name, (data) => events.push({ event: name, data }));
	},
	request(name, data) {
		return signaling!.request(name as never, data as never);
	},
	async joinStage(publish) {
		stage = new StageClient(signaling!, {
			onTrack: ({ consumerId, participantId, kind, track }) => {
				consumerOwners.set(consumerId, participantId);
				if (kind !== 'audio') return;
				const audio = document.createElement('audio');
				audio.id = `consumer-${consumerId}`;
				audio.srcObject = new MediaStream([track]);
				audio.autoplay = true;
				document.body.append(audio);
				// The latency bench listens for beeps in what arrives.
				void context().then((ctx) => {
					const detector = new AudioWorkletNode(ctx, 'detector');
					detector.port.onmessage = () => (onsetTimes[participantId] ??= []).push(epochMs());
					ctx.createMediaStreamSource(new MediaStream([track])).connect(detector);
				});
			},
			onTrackEnded: (consumerId) => document.getElementById(`consumer-${consumerId}`)?.remove(),
		});
		const tracks = publish ? (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks() : [];
		await stage.join(tracks);
	},
	leaveStage() {
		stage?.close();
		stage = undefined;
	},
	async inboundAudioPackets() {
		const out: Record<string, number> = {};
		for (const consumer of stage?.consumers ?? []) {
			if (consumer.kind !== 'audio') continue;
			const stats = await consumer.getStats();
			stats.forEach((s: { type: string; packetsReceived?: number }) => {
				if (s.type === 'inbound-rtp') out[consumerOwners.get(consumer.id) ?? consumer.id] = s.packetsReceived ?? 0;
			});
		}
		return out;
	},
	async outboundAudioPackets() {
		let sent = 0;
		for (const producer of stage?.producers ?? []) {
			const stats = await producer.getStats();
			stats.forEach((s: { type: string; packetsSent?: number }) => {
				if (s.type === 'outbound-rtp') sent += s.packetsSent ?? 0;
			});
		}
		return sent;
	},
};

(window as unknown as { tribune: TestStage }).tribune = api;
