import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types } from 'mediasoup';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateUdpPortPair, buildConsumerSdp, buildRtpSenderPlan, loadIngestConfig, waitForUdpPortsBound, WorkerPool } from '../src/index.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';
const recordSeconds = 4;

/** Resolves when a process exits, with its code and the tail of its stderr. */
function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
	return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}


describe('media path: ffmpeg RTP → mediasoup → ffmpeg recording', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-media-path-'));
	const processes: ChildProcess[] = [];
	let pool: WorkerPool;
	let router: types.Router;

	beforeAll(async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), pino({ level: 'warn' }));
		router = await pool.createRouter({ test: 'media-path' });
	});

	afterAll(() => {
		for (const child of processes) child.kill('SIGKILL');
		pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('records a test pattern and a tone that crossed the SFU, with the expected streams and duration', async () => {
		// Producer side: ffmpeg → comedia PlainTransports (mediasoup learns ffmpeg's address from its first packets).
		const plainOptions = { listenIp: ip, rtcpMux: false, comedia: true };
		const audioIn = await router.createPlainTransport(plainOptions);
		const videoIn = await router.createPlainTransport(plainOptions);
		const plan = buildRtpSenderPlan({
			video: { host: ip, rtpPort: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple!.localPort, ssrc: 2222, payloadType: 101, codec: 'VP8', width: 320, height: 240, fps: 25 },
			audio: { host: ip, rtpPort: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple!.localPort, ssrc: 1111, payloadType: 100, source: { toneHz: 440 } },
			durationS: 30,
		});
		const audioProducer = await audioIn.produce({ kind: 'audio', rtpParameters: plan.audioRtpParameters! });
		const videoProducer = await videoIn.produce({ kind: 'video', rtpParameters: plan.videoRtpParameters! });
		const sender = spawn('ffmpeg', plan.args, { stdio: ['ignore', 'ignore', 'pipe'] });
		processes.push(sender);
		const senderExit = exited(sender);

		// Consumer side: paused consumers on PlainTransports aimed at the recorder's port pairs.
		const audioPorts = await allocateUdpPortPair({ host: ip });
		const videoPorts = await allocateUdpPortPair({ host: ip });
		const consumerFor = async (producer: types.Producer, ports: { rtpPort: number; rtcpPort: number }) => {
			const transport = await router.createPlainTransport({ listenIp: ip, rtcpMux: false, comedia: false });
			await transport.connect({ ip, port: ports.rtpPort, rtcpPort: ports.rtcpPort });
			return transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
		};
		const audioConsumer = await consumerFor(audioProducer, audioPorts);
		const videoConsumer = await consumerFor(videoProducer, videoPorts);
		expect(audioConsumer.paused).toBe(true);

		const sdp = buildConsumerSdp(ip, [
			{ kind: 'audio', rtpParameters: audioConsumer.rtpParameters, rtpPort: audioPorts.rtpPort },
			{ kind: 'video', rtpParameters: videoConsumer.rtpParameters, rtpPort: videoPorts.rtpPort },
		]);
		const output = path.join(dir, 'recording.mkv');
		const recorder = spawn(
			'ffmpeg',
			['-hide_banner', '-loglevel', 'warning', '-protocol_whitelist', 'pipe,udp,rtp', '-f', 'sdp', '-i', 'pipe:0',
				'-map', '0:a', '-map', '0:v', '-c', 'copy', '-t', String(recordSeconds), '-y', output],
			{ stdio: ['pipe', 'ignore', 'pipe'] },
		);
		processes.push(recorder);
		const recorderExit = exited(recorder);
		recorder.stdin!.end(sdp);

		// Resume only once the recorder listens, then ask for a keyframe so its first video frame is decodable.
		await waitForUdpPortsBound([videoPorts.rtpPort], 10_000);
		await waitForUdpPortsBound([audioPorts.rtpPort], 10_000);
		await audioConsumer.resume();
		await videoConsumer.resume();
		await videoConsumer.requestKeyFrame();

		const result = await Promise.race([
			recorderExit,
			new Promise<never>((_, reject) => setTimeout(() => reject(new Error('recorder did not finish in 30 s')), 30_000)),
		]);
		expect(result.code, result.stderr).toBe(0);
		sender.kill('SIGTERM');
		await senderExit;
		audioPorts.release();
		videoPorts.release();

		const producerStats = await videoProducer.getStats();
		expect(producerStats.reduce((n, s) => n + s.packetCount, 0)).toBeGreaterThan(0);

		const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height:format=duration', '-of', 'json', output]);
		const probe = JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string; width?: number }[]; format: { duration: string } };
		const video = probe.streams.find((s) => s.codec_type === 'video');
		const audio = probe.streams.find((s) => s.codec_type === 'audio');
		expect(video).toMatchObject({ codec_name: 'vp8', width: 320, height: 240 });
		expect(audio).toMatchObject({ codec_name: 'opus' });
		expect(Number(probe.format.duration)).toBeGreaterThan(recordSeconds - 0.5);
		expect(Number(probe.format.duration)).toBeLessThan(recordSeconds + 0.5);
	});
});
