import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { OpusGapFiller, rtpPayload } from '../src/broadcast/OpusGapFiller.js';

interface Received {
	seq: number;
	ts: number;
	payload: Buffer;
}

const closers: (() => void)[] = [];
afterEach(() => {
	for (const close of closers.splice(0)) close();
});

async function receiver(): Promise<{ port: number; packets: Received[] }> {
	const socket = dgram.createSocket('udp4');
	const packets: Received[] = [];
	socket.on('message', (packet) => packets.push({ seq: packet.readUInt16BE(2), ts: packet.readUInt32BE(4), payload: rtpPayload(packet)! }));
	await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
	closers.push(() => socket.close());
	return { port: socket.address().port, packets };
}

function rtp(seq: number, ts: number, payload: Buffer, extension = false): Buffer {
	const header = Buffer.alloc(12);
	header[0] = 0x80 | (extension ? 0x10 : 0);
	header[1] = 111;
	header.writeUInt16BE(seq, 2);
	header.writeUInt32BE(ts, 4);
	header.writeUInt32BE(42, 8);
	// One-byte header extension (RFC 8285) with one word of data, as mediasoup adds.
	const ext = extension ? Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]) : Buffer.alloc(0);
	return Buffer.concat([header, ext, payload]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A filler sending to a fresh receiver, and a socket to send it packets from. */
async function relayWithSender(): Promise<{ target: { port: number; packets: Received[] }; filler: OpusGapFiller; sender: dgram.Socket }> {
	const target = await receiver();
	const filler = await OpusGapFiller.open({ target: { host: '127.0.0.1', rtpPort: target.port }, payloadType: 100 });
	closers.push(() => filler.close());
	const sender = dgram.createSocket('udp4');
	closers.push(() => sender.close());
	return { target, filler, sender };
}

describe('OpusGapFiller', () => {
	it('sends silence until the speaker sends, forwards their packets, fills a mute with silence, and keeps one continuous stream', async () => {
		const target = await receiver();
		const filler = await OpusGapFiller.open({ target: { host: '127.0.0.1', rtpPort: target.port }, payloadType: 100 });
		closers.push(() => filler.close());
		expect(filler.rtpPort % 2).toBe(0);
		expect(filler.rtcpPort).toBe(filler.rtpPort + 1);

		const sender = dgram.createSocket('udp4');
		closers.push(() => sender.close());
		await sleep(200); // nobody talks yet: silence flows
		const voice = Buffer.from([0x78, 1, 2, 3, 4, 5]);
		for (let i = 0; i < 10; i++) {
			sender.send(rtp(5000 + i, 90_000 + i * 960, voice, true), filler.rtpPort, '127.0.0.1');
			await sleep(20);
		}
		await sleep(400); // muted: the producer is paused, no packets
		for (let i = 0; i < 5; i++) {
			sender.send(rtp(7000 + i, 500_000 + i * 960, voice), filler.rtpPort, '127.0.0.1');
			await sleep(20);
		}
		await sleep(50);
		filler.close();

		const { packets } = target;
		const kinds = packets.map((p) => (p.payload.equals(voice) ? 'v' : p.payload.equals(Buffer.from([0xf8, 0xff, 0xfe])) ? 's' : '?')).join('');
		// silence… voice×10, silence… voice×5 (and perhaps silence again after the last packet)
		expect(kinds).toMatch(/^s{5,}v{10}s{15,}v{5}s*$/);
		expect(filler.counts.forwarded).toBe(15);
		// One stream: consecutive sequence numbers, and every packet 20 ms (960 samples) after the one before.
		for (let i = 1; i < packets.length; i++) {
			expect((packets[i]!.seq - packets[i - 1]!.seq + 0x10000) % 0x10000).toBe(1);
			expect((packets[i]!.ts - packets[i - 1]!.ts + 0x100000000) % 0x100000000).toBe(960);
		}
	});

	it('forwards only the SSRC it follows', async () => {
		const target = await receiver();
		const filler = await OpusGapFiller.open({ target: { host: '127.0.0.1', rtpPort: target.port }, payloadType: 100 });
		closers.push(() => filler.close());
		filler.follow(42);
		const sender = dgram.createSocket('udp4');
		closers.push(() => sender.close());
		const stale = rtp(1, 1, Buffer.from([1, 2, 3]));
		stale.writeUInt32BE(7, 8);
		sender.send(stale, filler.rtpPort, '127.0.0.1');
		sender.send(rtp(2, 960, Buffer.from([4, 5, 6])), filler.rtpPort, '127.0.0.1');
		await sleep(50);
		expect(filler.counts.forwarded).toBe(1);
		expect(target.packets.some((p) => p.payload.equals(Buffer.from([4, 5, 6])))).toBe(true);
		expect(target.packets.some((p) => p.payload.equals(Buffer.from([1, 2, 3])))).toBe(false);
	});

	it('hands a slot from one speaker to another: silence while it follows nobody, one continuous stream throughout', async () => {
		const { target, filler, sender } = await relayWithSender();
		const send = (seq: number, ts: number, ssrc: number, byte: number) => {
			const packet = rtp(seq, ts, Buffer.from([byte, byte, byte]));
			packet.writeUInt32BE(ssrc, 8);
			sender.send(packet, filler.rtpPort, '127.0.0.1');
		};
		// An empty slot: a speaker's packets reach it, but it follows nobody yet.
		filler.follow(undefined);
		for (let i = 0; i < 5; i++, await sleep(20)) send(100 + i, 5000 + i * 960, 42, 1);
		// Speaker 42 takes the slot, then speaker 43 (other sequence numbers and timestamps) replaces them.
		filler.follow(42);
		for (let i = 0; i < 5; i++, await sleep(20)) send(200 + i, 90_000 + i * 960, 42, 2);
		filler.follow(43);
		for (let i = 0; i < 5; i++, await sleep(20)) send(7 + i, 4_000_000 + i * 960, 43, 3);
		await sleep(50);
		filler.close();
		const kinds = target.packets.map((p) => (p.payload[0] === 0xf8 ? 's' : String(p.payload[0]))).join('');
		expect(kinds).not.toContain('1');
		expect(kinds).toMatch(/^s+2{5}s*3{5}s*$/);
		// Sequence numbers one by one; timestamps never step back and never jump by more than the wall time passed.
		for (let i = 1; i < target.packets.length; i++) {
			const [a, b] = [target.packets[i - 1]!, target.packets[i]!];
			expect((b.seq - a.seq + 0x10000) % 0x10000).toBe(1);
			const step = (b.ts - a.ts + 0x100000000) % 0x100000000;
			expect(step).toBeGreaterThan(0);
			expect(step).toBeLessThanOrEqual(960 * 10);
		}
	});

	it('drops packets that come after silence took their time, so the stream keeps pace with the wall clock', async () => {
		const { target, filler, sender } = await relayWithSender();
		const voice = Buffer.from([0x78, 9, 9, 9]);
		const startedAt = Date.now();
		let seq = 0;
		const send = () => sender.send(rtp(1000 + seq, 10_000 + seq++ * 960, voice), filler.rtpPort, '127.0.0.1');
		for (let i = 0; i < 10; i++, await sleep(20)) send();
		// The sender's next 30 packets are held up for 600 ms (a jitter spike), then come at once; then it goes on.
		await sleep(600);
		for (let i = 0; i < 30; i++) send();
		for (let i = 0; i < 10; i++) {
			await sleep(20);
			send();
		}
		await sleep(30);
		const elapsedMs = Date.now() - startedAt;
		filler.close();
		const { forwarded, silence, late } = filler.counts;
		expect(forwarded + late).toBe(50);
		// At least most of the 600 ms the silence covered is dropped (on a busy machine this test's own timers are late
		// too, and more packets come after silence took their time).
		expect(late).toBeGreaterThanOrEqual(20);
		// One continuous stream whose length is the time that passed (within the filler's own lag at the end), not
		// that plus the 600 ms delay.
		const packets = target.packets;
		for (let i = 1; i < packets.length; i++) expect((packets[i]!.ts - packets[i - 1]!.ts + 0x100000000) % 0x100000000).toBe(960);
		expect(Math.abs(packets.length * 20 - elapsedMs), `${packets.length} packets in ${elapsedMs} ms`).toBeLessThan(250);
		expect(packets.length).toBe(forwarded + silence);
	});

	it('follows a sender again whose packets come later for good after a pause, instead of muting it', async () => {
		const { target, filler, sender } = await relayWithSender();
		const voice = Buffer.from([0x78, 5, 5, 5]);
		let seq = 0;
		const send = () => sender.send(rtp(3000 + seq, 50_000 + seq++ * 960, voice), filler.rtpPort, '127.0.0.1');
		for (let i = 0; i < 10; i++, await sleep(20)) send();
		// Its delay steps up by 300 ms and stays there: no burst, the next packets simply come 300 ms later.
		await sleep(300);
		for (let i = 0; i < 40; i++, await sleep(20)) send();
		await sleep(50);
		filler.close();
		const kinds = target.packets.map((p) => (p.payload.equals(voice) ? 'v' : 's')).join('');
		// Dropped at most for the silence's length (and a little more on a busy machine's late timers), then heard.
		expect(filler.counts.late, kinds).toBeLessThanOrEqual(25);
		expect(kinds, 'heard again at the end').toMatch(/v{10,}s{0,3}$/);
	});

	it('declares no gap for packets that arrived while the process was held up', async () => {
		const target = await receiver();
		const filler = await OpusGapFiller.open({ target: { host: '127.0.0.1', rtpPort: target.port }, payloadType: 100 });
		closers.push(() => filler.close());
		// Another process sends a packet every 20 ms (for at most 10 s) while this one is busy for 250 ms at a time.
		const script = `const s=require('node:dgram').createSocket('udp4');let i=0;const h=Buffer.alloc(12);h[0]=0x80;h[1]=111;h.writeUInt32BE(42,8);
const t=setInterval(()=>{h.writeUInt16BE(i&0xffff,2);h.writeUInt32BE(i*960,4);s.send(Buffer.concat([h,Buffer.from([0x78,7,7])]),${filler.rtpPort},'127.0.0.1');if(++i>=500){clearInterval(t);setTimeout(()=>s.close(),50);}},20);`;
		const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
		closers.push(() => child.kill());
		// The sender's stream flowing first (at most 5 s).
		for (let i = 0; i < 50 && filler.counts.forwarded < 5; i++) await sleep(100);
		// Held up, the sender's packets wait in the socket; once this process runs again its timers come first. A try
		// counts when at least three packets were waiting (on a busy machine the sender may be held up too).
		let waiting = 0;
		for (let attempt = 0; attempt < 5 && waiting < 3; attempt++) {
			await sleep(100);
			// Busy in an immediate: the next turn of the event loop runs the (overdue) timers, then reads the socket,
			// then this reads the counts.
			const [before, after] = await new Promise<[typeof filler.counts, typeof filler.counts]>((resolve) =>
				setImmediate(() => {
					const counts = filler.counts;
					const busyUntil = Date.now() + 250;
					while (Date.now() < busyUntil) {
						// Busy: nothing else in this process runs.
					}
					setImmediate(() => resolve([counts, filler.counts]));
				}),
			);
			waiting = after.forwarded - before.forwarded;
			if (waiting < 3) continue;
			// No silence for the time the waiting packets cover, and none of them dropped as late.
			expect(after.silence - before.silence, `${waiting} packets waited`).toBeLessThanOrEqual(1);
			expect(after.late).toBe(before.late);
		}
		expect(waiting, 'packets waiting after a hold-up').toBeGreaterThanOrEqual(3);
	});

	it('drops malformed packets', () => {
		expect(rtpPayload(Buffer.from([0x80, 0]))).toBeUndefined();
		expect(rtpPayload(Buffer.concat([Buffer.from([0x40]), Buffer.alloc(20)]))).toBeUndefined();
		const withBadExtension = Buffer.alloc(14);
		withBadExtension[0] = 0x90;
		expect(rtpPayload(withBadExtension)).toBeUndefined();
	});
});
