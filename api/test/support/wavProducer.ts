import { spawn, type ChildProcess } from 'node:child_process';
import { buildRtpSenderPlan } from '@tribune/ingest';
import type { types } from 'mediasoup';

/**
 * A speaker on a stage without a browser: ffmpeg sends a WAV file as Opus RTP to a plain transport on `router`, and
 * the audio producer it feeds is returned. The ffmpeg process is pushed onto `senders` for the caller to kill.
 */
export async function produceWav(router: types.Router, wav: string, ssrc: number, senders: ChildProcess[], durationS = 120): Promise<types.Producer> {
	const ip = '127.0.0.1';
	const transport = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: true });
	const plan = buildRtpSenderPlan({
		audio: { host: ip, rtpPort: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort, ssrc, payloadType: 100, source: { file: wav } },
		durationS,
	});
	const producer = await transport.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
	senders.push(spawn('ffmpeg', plan.args, { stdio: 'ignore' }));
	return producer;
}
