import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultStageOptions, loadIngestConfig, Stage, WorkerPool, type ShareEndReason, type StagePeer } from '../src/index.js';

/**
 * The stage's one screen share, against a real mediasoup worker: who may share, one share per stage, VP8 only, tab
 * audio only beside its screen, and how a share ends (with the reason the API tells clients). The last test sends
 * real VP8 from ffmpeg: ingest reads its keyframes and ends a share larger than its bounds.
 */
const logger = pino({ level: 'silent' });
let pool: WorkerPool;
const stages: Stage[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
	pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
});
afterEach(() => {
	for (const c of children.splice(0)) c.kill('SIGKILL');
	for (const s of stages.splice(0)) s.close();
});
afterAll(() => pool.close());

async function newStage(): Promise<Stage> {
	const stage = await Stage.create(pool, `share-${stages.length}`, defaultStageOptions, logger);
	stages.push(stage);
	return stage;
}

let ssrc = 1000;
const vp8 = () => ({ codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: ssrc++ }] });
const opus = () => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: ssrc++ }] });
const sharer = { audio: true, video: true, screen: true };

async function sendTransport(peer: StagePeer): Promise<string> {
	return (await peer.createPlainTransport('127.0.0.1')).id;
}

function endings(stage: Stage): { peerId: string; reason: ShareEndReason }[] {
	const seen: { peerId: string; reason: ShareEndReason }[] = [];
	stage.on('shareended', (share, reason) => seen.push({ peerId: share.peerId, reason }));
	return seen;
}

describe('screen share on a stage', () => {
	it('takes one share per stage, beside the sharer\'s camera, and refuses a second sharer', async () => {
		const stage = await newStage();
		const a = stage.addPeer('a', sharer);
		const b = stage.addPeer('b', sharer);
		const ta = await sendTransport(a);
		const tb = await sendTransport(b);
		const camera = await a.produce(ta, 'video', vp8());
		const screen = await a.produce(ta, 'video', vp8(), 'screen');
		expect(camera.appData.source).toBe('camera');
		expect(stage.share).toMatchObject({ peerId: 'a', videoProducerId: screen.id });
		await expect(a.produce(ta, 'video', vp8(), 'screen')).rejects.toMatchObject({ code: 'conflict' });
		await expect(b.produce(tb, 'video', vp8(), 'screen')).rejects.toMatchObject({ code: 'conflict', message: /someone else is sharing/ });
		expect(stage.share?.peerId).toBe('a');
	});

	it('refuses a share without the grant, not in VP8, in several encodings, or tab audio without a screen', async () => {
		const stage = await newStage();
		const speaker = stage.addPeer('s', { audio: true, video: true });
		const t = await sendTransport(speaker);
		await expect(speaker.produce(t, 'video', vp8(), 'screen')).rejects.toMatchObject({ code: 'forbidden' });
		const granted = stage.addPeer('g', sharer);
		const tg = await sendTransport(granted);
		await expect(granted.produce(tg, 'video', { codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }], encodings: [{ ssrc: ssrc++ }] }, 'screen')).rejects.toMatchObject({ code: 'bad_request' });
		await expect(granted.produce(tg, 'video', { ...vp8(), encodings: [{ ssrc: ssrc++ }, { ssrc: ssrc++ }] }, 'screen')).rejects.toMatchObject({ code: 'bad_request' });
		await expect(granted.produce(tg, 'audio', opus(), 'screenAudio')).rejects.toMatchObject({ code: 'conflict' });
		await expect(granted.produce(tg, 'audio', vp8(), 'screen')).rejects.toMatchObject({ code: 'bad_request' });
		expect(stage.share).toBeUndefined();
	});

	it('carries tab audio with the screen, leaves it out of the active speaker, and closes it with the screen', async () => {
		const stage = await newStage();
		const a = stage.addPeer('a', sharer);
		const t = await sendTransport(a);
		const changes: (string | undefined)[] = [];
		stage.on('sharechanged', (s) => changes.push(s.audioProducerId));
		const screen = await a.produce(t, 'video', vp8(), 'screen');
		const tab = await a.produce(t, 'audio', opus(), 'screenAudio');
		expect(stage.share?.audioProducerId).toBe(tab.id);
		expect(changes).toEqual([undefined, tab.id]);
		const seen = endings(stage);
		a.closeProducer(screen.id);
		expect(tab.closed).toBe(true);
		expect(stage.share).toBeUndefined();
		expect(seen).toEqual([{ peerId: 'a', reason: 'stopped' }]);
	});

	it('says why a share ended: stopped by a moderator, grant withdrawn, sharer gone', async () => {
		const stage = await newStage();
		const seen = endings(stage);
		const a = stage.addPeer('a', sharer);
		const t = await sendTransport(a);
		await a.produce(t, 'video', vp8(), 'screen');
		expect(stage.stopShare('stopped_by_moderator')?.peerId).toBe('a');
		await a.produce(t, 'video', vp8(), 'screen');
		a.setGrants({ audio: true, video: true, screen: false });
		expect(stage.share).toBeUndefined();
		a.setGrants(sharer);
		await a.produce(t, 'video', vp8(), 'screen');
		a.close();
		expect(seen.map((e) => e.reason)).toEqual(['stopped_by_moderator', 'not_allowed', 'left']);
		// With the share gone, someone else may share.
		const b = stage.addPeer('b', sharer);
		await b.produce(await sendTransport(b), 'video', vp8(), 'screen');
		expect(stage.share?.peerId).toBe('b');
	});

	it('replaces a live share when told whose: the new one is the stage\'s at once, the old one ends once every peer consumes the new', async () => {
		const stage = await newStage();
		const a = stage.addPeer('a', sharer);
		const b = stage.addPeer('b', sharer);
		const viewer = stage.addPeer('v', { audio: true, video: false });
		await viewer.createWebRtcTransport('recv');
		await viewer.setRtpCapabilities(stage.rtpCapabilities);
		const order: string[] = [];
		stage.on('sharechanged', (share) => order.push(`share ${share.peerId}`));
		stage.on('shareended', (share, reason) => order.push(`ended ${share.peerId} ${reason}`));
		viewer.on('newconsumer', (info) => order.push(`consumer ${info.participantId} ${info.source}`));
		viewer.on('consumerclosed', () => order.push('consumer closed'));
		const ta = await sendTransport(a);
		const screen = await a.produce(ta, 'video', vp8(), 'screen');
		const tab = await a.produce(ta, 'audio', opus(), 'screenAudio');
		const tb = await sendTransport(b);
		// Replacing someone who is not the sharer is no replacement.
		await expect(b.produce(tb, 'video', vp8(), 'screen', 'v')).rejects.toMatchObject({ code: 'conflict' });
		order.length = 0;
		const next = await b.produce(tb, 'video', vp8(), 'screen', 'a');
		expect(stage.share).toMatchObject({ peerId: 'b', videoProducerId: next.id });
		for (let i = 0; i < 100 && !(screen.closed && order.filter((e) => e === 'consumer closed').length === 2); i++) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(order).toEqual(['share b', 'consumer b screen', 'ended a replaced', 'consumer closed', 'consumer closed']);
		expect(tab.closed).toBe(true);
		expect(stage.share?.peerId).toBe('b');
	});

	it('refuses a fourth share started by one peer within ten seconds', async () => {
		const stage = await newStage();
		const a = stage.addPeer('a', sharer);
		const t = await sendTransport(a);
		for (let i = 0; i < 3; i++) {
			await a.produce(t, 'video', vp8(), 'screen');
			stage.stopShare('stopped');
		}
		await expect(a.produce(t, 'video', vp8(), 'screen')).rejects.toMatchObject({ code: 'rate_limited' });
		// Someone else is not held back by it.
		const b = stage.addPeer('b', sharer);
		await b.produce(await sendTransport(b), 'video', vp8(), 'screen');
		expect(stage.share?.peerId).toBe('b');
	});

	it('reads the keyframes of a real VP8 share: 1280 × 720 stays, 2560 × 1440 is ended as too large', async () => {
		const stage = await newStage();
		const seen = endings(stage);
		const send = async (peerId: string, size: string) => {
			const peer = stage.addPeer(peerId, sharer);
			const transport = await peer.createPlainTransport('127.0.0.1');
			const parameters = vp8();
			const producer = await peer.produce(transport.id, 'video', parameters, 'screen');
			const child = spawn('ffmpeg', [
				'-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=5`, '-t', '20',
				'-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '400k', '-g', '10',
				'-ssrc', String(parameters.encodings[0]!.ssrc), '-payload_type', '101',
				'-f', 'rtp', `rtp://127.0.0.1:${transport.tuple.localPort}?rtcpport=${transport.rtcpTuple!.localPort}&pkt_size=1200`,
			], { stdio: 'ignore' });
			children.push(child);
			return producer;
		};
		const small = await send('small', '1280x720');
		// Its first keyframes have been through ingest's reader once packets have arrived for a while (a keyframe every 2 s).
		const deadline = Date.now() + 15_000;
		while (Date.now() < deadline && ((await small.getStats())[0]?.packetCount ?? 0) < 200) await new Promise((r) => setTimeout(r, 200));
		expect((await small.getStats())[0]?.packetCount ?? 0).toBeGreaterThanOrEqual(200);
		expect(stage.share?.peerId).toBe('small');
		expect(seen).toEqual([]);
		stage.stopShare('stopped');
		const large = await send('large', '2560x1440');
		const end = Date.now() + 15_000;
		while (Date.now() < end && !large.closed) await new Promise((r) => setTimeout(r, 100));
		expect(seen).toEqual([{ peerId: 'small', reason: 'stopped' }, { peerId: 'large', reason: 'too_large' }]);
	});
});
