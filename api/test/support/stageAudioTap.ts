import dgram from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { StageLinkClient } from '@tribune/transcoder';
import type { Redis } from 'ioredis';

/** One RTP packet as it reached the tap: wall clock (ms since the epoch) and Opus payload size. */
export interface TappedPacket {
	atMs: number;
	payloadBytes: number;
}

/** The Opus payload's size: the packet less its RTP header, CSRCs, header extension and padding (RFC 3550 §5.1). */
function payloadBytes(packet: Buffer): number {
	if (packet.length < 12 || packet[0]! >> 6 !== 2) return 0;
	let offset = 12 + 4 * (packet[0]! & 0x0f);
	if (packet[0]! & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
	const padding = packet[0]! & 0x20 ? packet[packet.length - 1]! : 0;
	return Math.max(0, packet.length - offset - padding);
}

/**
 * A speaker's audio where a transcoder receives it: a plain-RTP consumer asked for over the stage link, as a
 * broadcast's encoder run asks for its own (same node, same router, same PlainTransport path), aimed at a UDP
 * socket in the test. Records when each packet arrives; the broadcast's own consumers are untouched.
 */
export class StageAudioTap {
	readonly packets: TappedPacket[] = [];
	readonly #link: StageLinkClient;
	readonly #node: string;
	readonly #sessionId = `tap-${randomUUID().slice(0, 8)}`;
	readonly #sockets: dgram.Socket[];
	readonly #renew: ReturnType<typeof setInterval>;

	private constructor(link: StageLinkClient, node: string, sockets: dgram.Socket[]) {
		this.#link = link;
		this.#node = node;
		this.#sockets = sockets;
		sockets[0]!.on('message', (packet) => this.packets.push({ atMs: Date.now(), payloadBytes: payloadBytes(packet) }));
		// The session's lease is 15 s: a renewal lost now and then is made up by the next one.
		this.#renew = setInterval(() => void link.call(node, 'renew', { sessionId: this.#sessionId }).catch(() => {}), 5000);
	}

	/** Taps the audio of `peerId` (on stage, with a microphone) in `spaceId`, on the Redis of a node with `prefix`. */
	static async open(redis: Redis, prefix: string, spaceId: string, peerId: string): Promise<StageAudioTap> {
		const link = await StageLinkClient.create(redis, prefix);
		const snapshot = await link.snapshot(spaceId);
		const producerId = snapshot?.speakers.find((s) => s.peerId === peerId)?.audioProducerId;
		if (!snapshot || !producerId) {
			await link.close();
			throw new Error(`no audio producer of ${peerId} on the stage of ${spaceId}`);
		}
		const sockets = await Promise.all([0, 1].map(() => new Promise<dgram.Socket>((resolve) => {
			const socket = dgram.createSocket('udp4');
			socket.bind(0, '127.0.0.1', () => resolve(socket));
		})));
		const tap = new StageAudioTap(link, snapshot.node, sockets);
		const session = tap.#sessionId;
		const [rtpPort, rtcpPort] = sockets.map((s) => s.address().port) as [number, number];
		try {
			const { consumerId } = await link.call(snapshot.node, 'consume', { sessionId: session, spaceId, producerId, ip: '127.0.0.1', rtpPort, rtcpPort });
			await link.call(snapshot.node, 'resume', { sessionId: session, consumerIds: [consumerId] });
		} catch (error) {
			await tap.close();
			throw error;
		}
		return tap;
	}

	async close(): Promise<void> {
		clearInterval(this.#renew);
		// The node closes the session's consumer when its lease runs out anyway.
		await this.#link.call(this.#node, 'release', { sessionId: this.#sessionId }).catch(() => {});
		await this.#link.close();
		for (const socket of this.#sockets) socket.close();
	}
}
