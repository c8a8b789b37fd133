import { spawn, type ChildProcess } from 'node:child_process';
import { buildRtpSenderPlan } from '@tribune/ingest';
import type { types } from 'mediasoup';

/** A synthetic speaker's producers on the router, and the ffmpeg sending them. */
export interface TestSpeaker {
	audio: types.Producer;
	video?: types.Producer;
	/** Killed by {@link TestSpeakers.stop}, or earlier by a test that takes the speaker away. */
	process: ChildProcess;
}

export interface TestSpeakerOptions {
	toneHz: number;
	/** The voice's SSRC; the camera's is the next one. */
	ssrc: number;
	/** A camera of this solid colour (320×240, 25 fps); none without. */
	colour?: string;
	/** Default VP8. */
	codec?: 'VP8' | 'H264';
	/** How long the ffmpeg sends, s. Default 120. */
	durationS?: number;
}

/**
 * Synthetic speakers for tests of the stage and the standing encode: each an ffmpeg sending a tone (Opus) and, with a
 * colour, a test-pattern camera as RTP into plain transports of a mediasoup router (comedia, RTCP apart), produced
 * there as a browser's tracks would be. `stop()` kills every one (in `afterAll`).
 */
export class TestSpeakers {
	readonly #processes: ChildProcess[] = [];

	async add(router: types.Router, { toneHz, ssrc, colour, codec = 'VP8', durationS = 120 }: TestSpeakerOptions): Promise<TestSpeaker> {
		const ip = '127.0.0.1';
		const options = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(options);
		const videoIn = colour ? await router.createPlainTransport(options) : undefined;
		const plan = buildRtpSenderPlan({
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc, payloadType: 100, source: { toneHz } },
			...(videoIn && colour && {
				video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: ssrc + 1, payloadType: 101, codec, width: 320, height: 240, fps: 25, pattern: { colour } },
			}),
			durationS,
		});
		const audio = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		const video = videoIn && (await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! }));
		const process = spawn('ffmpeg', plan.args, { stdio: 'ignore' });
		this.#processes.push(process);
		return { audio, ...(video && { video }), process };
	}

	stop(): void {
		for (const process of this.#processes) process.kill('SIGKILL');
	}
}
