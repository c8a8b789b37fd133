import type dgram from 'node:dgram';
import { bindRtpSocketPair } from './bindRtpSocketPair.js';

export interface OpusGapFillerOptions {
	/** Where the receiving ffmpeg listens for this stream's RTP. */
	target: { host: string; rtpPort: number };
	/** Payload type the receiver's SDP declares for Opus. */
	payloadType: number;
	/** A gap longer than this, ms, is filled with silence. Default 60 (three Opus frames). */
	gapMs?: number;
	/** Address the filler binds. Default 127.0.0.1. */
	host?: string;
}

/** An Opus packet that decodes to 20 ms of silence (CELT-only, fullband, one frame; the one WebRTC sends). */
const opusSilence = Buffer.from([0xf8, 0xff, 0xfe]);
const frameSamples = 960; // 20 ms at 48 kHz
const frameMs = 20;

/**
 * Sits between a speaker's audio consumer and the broadcast ffmpeg and keeps the speaker's RTP flowing: while the
 * speaker is muted (producer paused), between DTX packets, or before the first packet, it sends Opus silence every
 * 20 ms. ffmpeg's audio mix waits for every input, so without it one muted speaker would stall the whole broadcast
 * — or force a restart on every mute. Sequence numbers and timestamps are rewritten into one continuous stream.
 *
 * The stream keeps pace with the wall clock, never more: packets that come late (a sender's network jitter, a busy
 * machine) after silence took their time are dropped, as a jitter buffer drops late packets. Forwarded after the
 * silence instead, each late burst lengthened the stream by its delay: on a machine with 1.5 cores taken the
 * broadcast ran seconds behind live and its replay came out seconds longer than the time on air. A gap is only
 * declared once the packets already waiting in the socket have been read (the timer can fire first after the
 * process was held up).
 */
export class OpusGapFiller {
	readonly #rtp: dgram.Socket;
	readonly #rtcp: dgram.Socket;
	readonly #options: Required<Omit<OpusGapFillerOptions, 'target'>> & { target: OpusGapFillerOptions['target'] };
	readonly #ssrc = (Math.random() * 0xffffffff) >>> 0;
	#seq = Math.floor(Math.random() * 0xffff);
	/** Timestamp of the last packet sent. */
	#ts = (Math.random() * 0xffffffff) >>> 0;
	/** outTs − inTs of the stream followed; undefined until its first packet (and after a hand-over). */
	#offset: number | undefined;
	/** Silence samples sent since the last real packet: the time a late packet may find already taken. */
	#silenceSinceReal = 0;
	#late = 0;
	/** Late packets dropped since the last one forwarded, and how many the silence they came after allows. */
	#lateStreak = 0;
	#lateLimit: number | undefined;
	#lastSentAt = 0;
	#lastRealAt = 0;
	#filling = false;
	#timer: NodeJS.Timeout;
	#closed = false;
	#silenceSent = 0;
	#forwarded = 0;
	#acceptSsrc: number | undefined;

	private constructor(rtp: dgram.Socket, rtcp: dgram.Socket, options: OpusGapFillerOptions) {
		this.#rtp = rtp;
		this.#rtcp = rtcp;
		this.#options = { gapMs: 60, host: '127.0.0.1', ...options };
		rtp.on('message', (packet) => this.#onPacket(packet));
		// A send before ffmpeg binds its port, or after it exits, is simply lost; nothing to report.
		rtp.on('error', () => {});
		rtcp.on('error', () => {});
		// mediasoup's sender reports are dropped: the stream they describe is rewritten here.
		rtcp.on('message', () => {});
		this.#timer = setInterval(() => this.#fill(), frameMs);
	}

	/** Binds an even RTP port and the RTCP port after it (what a PlainTransport `connect()` needs). */
	static async open(options: OpusGapFillerOptions): Promise<OpusGapFiller> {
		const { rtp, rtcp } = await bindRtpSocketPair(options.host ?? '127.0.0.1', 'OpusGapFiller');
		return new OpusGapFiller(rtp, rtcp, options);
	}

	/** Port the consumer's transport sends RTP to; RTCP goes to rtpPort + 1. */
	get rtpPort(): number {
		return this.#rtp.address().port;
	}

	get rtcpPort(): number {
		return this.#rtcp.address().port;
	}

	/**
	 * Forwards the stream of `ssrc` from now on, or nothing (silence) when undefined: a broadcast slot handing its voice
	 * from one speaker's consumer to another's. The next packet forwarded re-anchors its timestamps after the last one
	 * sent, so the stream ffmpeg reads stays continuous across the switch. Packets of other SSRCs are dropped: a port
	 * freed by an earlier broadcast may still receive a stale sender's packets, and mixing them in would corrupt the
	 * stream. Until the first call, every packet is forwarded.
	 */
	follow(ssrc: number | undefined): void {
		// No SSRC is negative: -1 matches no packet.
		this.#acceptSsrc = ssrc ?? -1;
		this.#offset = undefined;
	}

	/** Packets forwarded from the speaker, silence packets sent and late packets dropped, for tests and metrics. */
	get counts(): { forwarded: number; silence: number; late: number } {
		return { forwarded: this.#forwarded, silence: this.#silenceSent, late: this.#late };
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		this.#rtp.close();
		this.#rtcp.close();
	}

	#onPacket(packet: Buffer): void {
		const payload = rtpPayload(packet);
		if (!payload || payload.length === 0) return;
		if (this.#acceptSsrc !== undefined && packet.readUInt32BE(8) !== this.#acceptSsrc) return;
		this.#lastRealAt = Date.now();
		const inTs = packet.readUInt32BE(4);
		const next = (this.#ts + (this.#lastSentAt === 0 ? 0 : frameSamples)) >>> 0;
		if (this.#offset !== undefined) {
			// Where the sender's clock puts this packet against the next slot of the stream sent: more than a frame back,
			// within the silence sent since its last packet, it came late and its time is taken; otherwise more than half
			// a frame off (a DTX pause or a mute longer or shorter than the silence, a sender's new timeline), the stream
			// goes on continuously from here; about there, it simply follows.
			const behind = (next - ((inTs + this.#offset) >>> 0)) | 0;
			// At most as many as the silence had frames: a sender that comes later for good (its delay stepped up) and
			// not in a burst stays behind by the same amount packet after packet, and is then followed again rather
			// than muted.
			this.#lateLimit ??= Math.round(this.#silenceSinceReal / frameSamples);
			if (behind > frameSamples * 1.5 && behind <= this.#silenceSinceReal + frameSamples / 2 && this.#lateStreak < this.#lateLimit) {
				this.#lateStreak++;
				this.#late++;
				return;
			}
			if (Math.abs(behind) > frameSamples / 2) this.#offset = undefined;
		}
		this.#filling = false;
		this.#silenceSinceReal = 0;
		this.#lateStreak = 0;
		this.#lateLimit = undefined;
		// At the start, after a hand-over or past a pause: continue one frame after the last packet sent.
		if (this.#offset === undefined) this.#offset = (next - inTs) >>> 0;
		this.#send((inTs + this.#offset) >>> 0, payload);
		this.#forwarded++;
	}

	#fill(): void {
		if (this.#filling) return this.#sendSilence(1);
		if (this.#lastRealAt !== 0 && Date.now() - this.#lastRealAt < this.#options.gapMs) return;
		// Packets that arrived while this process was held up are read after the timers: only a gap still there once
		// they have been read is one.
		setImmediate(() => {
			const now = Date.now();
			if (this.#closed || this.#filling || (this.#lastRealAt !== 0 && now - this.#lastRealAt < this.#options.gapMs)) return;
			// A gap starts. Cover the time since the last packet at once, so this input's sample count keeps pace with
			// the wall clock (the mix waits for the slowest input; a short input would delay the broadcast for good).
			this.#filling = true;
			this.#sendSilence(this.#lastSentAt === 0 ? 1 : Math.max(1, Math.min(50, Math.round((now - this.#lastSentAt) / frameMs))));
		});
	}

	#sendSilence(frames: number): void {
		for (let i = 0; i < frames; i++) {
			this.#send((this.#ts + (this.#lastSentAt === 0 ? 0 : frameSamples)) >>> 0, opusSilence);
			this.#silenceSent++;
			this.#silenceSinceReal += frameSamples;
		}
	}

	#send(ts: number, payload: Buffer): void {
		if (this.#closed) return;
		const header = Buffer.alloc(12);
		header[0] = 0x80; // version 2, no padding, no extension, no CSRC
		header[1] = this.#options.payloadType & 0x7f;
		this.#seq = (this.#seq + 1) & 0xffff;
		header.writeUInt16BE(this.#seq, 2);
		header.writeUInt32BE(ts, 4);
		header.writeUInt32BE(this.#ssrc, 8);
		this.#ts = ts;
		this.#lastSentAt = Date.now();
		this.#rtp.send(Buffer.concat([header, payload]), this.#options.target.rtpPort, this.#options.target.host);
	}
}

/** The payload of an RTP packet, past CSRCs, header extension and padding; undefined if malformed. */
export function rtpPayload(packet: Buffer): Buffer | undefined {
	if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
	let offset = 12 + (packet[0]! & 0x0f) * 4;
	if (packet[0]! & 0x10) {
		if (packet.length < offset + 4) return undefined;
		offset += 4 + packet.readUInt16BE(offset + 2) * 4;
	}
	let end = packet.length;
	if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
	return offset <= end ? packet.subarray(offset, end) : undefined;
}
