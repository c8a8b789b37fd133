import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { publishGrantsFor } from '../../src/stage/publishGrantsFor.js';
import type { Spaces } from '../../src/spaces/createSpaces.js';
import { speechWav } from './speechWav.js';

const execFileAsync = promisify(execFile);
const ip = '127.0.0.1';

/**
 * Speakers on camera whose encoders run elsewhere, as in real use (each speaker's browser encodes): a VP8 camera clip
 * and an Opus voice clip per speaker are encoded once, then replayed in real time with `-c copy` into plain RTP
 * producers of the space's stage, so the machine under pressure spends nothing on encoding them (as
 * bench:composite's senders). Each is a real participant on stage (added as a host adds a synthetic speaker).
 */
export interface PressureClips {
	camera: string;
	voices: string[];
}

/** Clip length, s; senders loop their clips. */
const clipS = 12;
const voices = ['en+m1', 'en+f1', 'en+m3', 'en+f2', 'en+m5', 'en+f3', 'en+m7', 'en+f4', 'en+m2'];
const sentences = [
	'Welcome to the stage. Today we talk about keeping a live space in sync for every listener.',
	'The encoder sheds work when the machine is busy, and gives it back when there is room again.',
	'Every listener should hear the same thing at the same time, without waiting for the picture.',
	'And the replay should keep everything that was said, from the first word to the last one.',
];

/** Encodes the camera clip (a moving 640×360 test pattern, a keyframe a second) and `speakers` voices into `dir`. */
export async function encodePressureClips(dir: string, speakers: number): Promise<PressureClips> {
	const camera = path.join(dir, 'camera.webm');
	await execFileAsync('ffmpeg', [
		'-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
		'-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', '25', '-keyint_min', '25', '-t', String(clipS), camera,
	]);
	const encoded: string[] = [];
	for (let i = 0; i < speakers; i++) {
		const file = path.join(dir, `voice-${i}.webm`);
		const speech = speechWav(dir, `speech-${i}`, sentences[i % sentences.length]!, voices[i % voices.length]);
		// Speakers take turns within the clip (each from its own offset), so captions see separate voices.
		await execFileAsync('ffmpeg', [
			'-hide_banner', '-loglevel', 'error', '-y', '-i', speech, '-af', `adelay=${(i * 2800) % 9000},apad`,
			'-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k', '-application', 'voip', '-t', String(clipS), file,
		]);
		encoded.push(file);
	}
	return { camera, voices: encoded };
}

export interface PressureSpeaker {
	participantId: string;
	sender: ChildProcess;
}

/**
 * Puts `count` speakers on camera on the space's stage, each fed by a `-c copy` sender that stops by itself after
 * `maxS` seconds. `hostToken`: the host adds them, as POST /synthetic-speakers does.
 */
export async function startPressureSpeakers(spaces: Spaces, spaceId: string, hostToken: string, clips: PressureClips, count: number, maxS: number): Promise<PressureSpeaker[]> {
	const { actor } = await spaces.service.authenticate(hostToken);
	const space = await spaces.service.getSpace(actor.spaceId);
	const stage = await spaces.stages.open(spaceId);
	const speakers: PressureSpeaker[] = [];
	for (let i = 0; i < count; i++) {
		const participant = await spaces.service.addSyntheticSpeaker(actor, `Speaker ${i + 1}`);
		const peer = stage.addPeer(participant.id, publishGrantsFor('speaker', space.settings));
		const audioSsrc = 1000 + 2 * i;
		const videoSsrc = 1001 + 2 * i;
		const audio = await peer.createPlainTransport(ip);
		const video = await peer.createPlainTransport(ip);
		await peer.produce(audio.id, 'audio', {
			codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
			encodings: [{ ssrc: audioSsrc }],
		});
		await peer.produce(video.id, 'video', { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: videoSsrc }] });
		const rtp = (map: string, port: number, rtcpPort: number, ssrc: number, payloadType: number) => [
			'-map', map, '-c', 'copy', '-t', String(maxS), '-ssrc', String(ssrc), '-payload_type', String(payloadType),
			'-f', 'rtp', `rtp://${ip}:${port}?rtcpport=${rtcpPort}&pkt_size=1200`,
		];
		const sender = spawn('ffmpeg', [
			'-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin',
			'-re', '-stream_loop', '-1', '-i', clips.voices[i % clips.voices.length]!,
			'-re', '-stream_loop', '-1', '-i', clips.camera,
			...rtp('1:v:0', video.tuple.localPort, video.rtcpTuple!.localPort, videoSsrc, 101),
			...rtp('0:a:0', audio.tuple.localPort, audio.rtcpTuple!.localPort, audioSsrc, 100),
		], { stdio: 'ignore' });
		peer.once('close', () => sender.kill('SIGKILL'));
		speakers.push({ participantId: participant.id, sender });
		// Spread the cameras' keyframes over the second, as real speakers' are.
		await new Promise((resolve) => setTimeout(resolve, 1000 / count));
	}
	return speakers;
}

/** Stops the senders (their peers close with the space). */
export function stopPressureSpeakers(speakers: readonly PressureSpeaker[]): void {
	for (const s of speakers) if (s.sender.exitCode === null) s.sender.kill('SIGKILL');
}
