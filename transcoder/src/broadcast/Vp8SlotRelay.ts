import type dgram from 'node:dgram';
import { bindRtpSocketPair } from './bindRtpSocketPair.js';
import { performance } from 'node:perf_hooks';
import { rtpPayload } from './OpusGapFiller.js';
import { vp8RepeatFrame } from './vp8RepeatFrame.js';

export interface Vp8SlotRelayOptions {
	/** Where the receiving ffmpeg listens for this slot's video RTP. */
	target: { host: string; rtpPort: number };
	/** Payload type the receiver's SDP declares for VP8 (0–127). */
	payloadType: number;
	/** Address the relay binds. Default 127.0.0.1. */
	host?: string;
	/** Filler frames per second while nothing live flows. Default 25. */
	fps?: number;
	/**
	 * The source sending nothing for this long, ms, after a whole frame: the slot holds its last picture, repeated at
	 * `fps` (see `vp8RepeatFrame`), until the source sends again or `freezeMs` passes. Default 120 (three frames at 25
	 * fps): a sender's hiccup, or a still screen sending a picture a second, no longer holds up the whole composite.
	 */
	holdMs?: number;
	/** The followed source sending nothing for this long, ms, counts as a frozen (paused) camera. Default 500. */
	freezeMs?: number;
	/** `live` changed. False: the slot shows filler or the previous source, and needs a keyframe from the followed one. */
	onLiveChange?: (live: boolean) => void;
	/**
	 * The relay waits for a keyframe from the followed source (after `follow()`, or after a freeze): ask mediasoup for
	 * one. Called at once on `follow()`, then at most every 250 ms while the wait lasts.
	 */
	onNeedKeyframe?: () => void;
}

/** An RTP packet's fields the relay reads; `payload` is past CSRCs, header extension and padding. */
export interface RtpPacket {
	marker: boolean;
	payloadType: number;
	seq: number;
	ts: number;
	ssrc: number;
	payload: Buffer;
}

/** The VP8 payload descriptor at the start of an RTP payload (RFC 7741 §4.2). */
export interface Vp8Descriptor {
	/** Bytes of descriptor before the VP8 data. */
	length: number;
	/** S: the packet starts a VP8 partition. */
	start: boolean;
	partitionIndex: number;
	/** Where the picture ID sits in the payload, and its width (M bit: 15 bits, else 7). */
	pictureId?: { offset: number; width: 7 | 15; value: number };
	/** The packet starts a keyframe: S=1, partition 0, P=0 in the frame tag and the keyframe start code after it. */
	keyframe: boolean;
	/** A keyframe's picture size and VP8 version, when its first packet holds them (RFC 6386 §9.1). */
	picture?: { width: number; height: number; version: number };
	/** N: the sender says no other frame refers to this one (RFC 7741 §4.2). */
	nonReference?: true;
	/** TID, when the descriptor has one (T): the frame's temporal layer, 0 the base. */
	temporalLayer?: number;
}

/**
 * A 16×16 black VP8 keyframe (libvpx, `-g 1`, 31 bytes). Every filler frame is a keyframe, so the decoder can switch
 * to and from filler at any frame without a reference.
 */
/** The filler picture's width and height, px: the composite never draws a picture this small (see `cameraPlacement`). */
export const fillerPictureSize = 16;
const fillerFrame = Buffer.from('EAIAnQEqEAAQAABHCIWFiIWEiAICAAwNYAD+/6tQgA==', 'base64');
/** Descriptor 0x10: S=1, partition 0, no extension (so no picture ID: ffmpeg checks IDs only between non-keyframes). */
const fillerPayload = Buffer.concat([Buffer.from([0x10]), fillerFrame]);
const keyframeRequestIntervalMs = 250;
/**
 * The largest picture the relay repeats, px (4K UHD): a keyframe header is the sender's word, and a repeat frame costs
 * work per macroblock to build; a hostile 16383×16383 would take the event loop for a tenth of a second per size.
 */
const maxRepeatedPicturePx = 3840 * 2160;
/** RTP clock of video, Hz (RFC 7741 §6.1). */
const ticksPerMs = 90;

/**
 * Keeps one composite slot's video RTP flowing into the standing broadcast ffmpeg, whatever the slot shows: a
 * speaker's camera (the consumer's PlainTransport sends here), another speaker after a switch, or black filler frames
 * while the slot is empty or the camera is paused. ffmpeg's overlay waits for every video input, so one silent input
 * would stall the whole broadcast. The output is one RTP stream with its own SSRC and continuous sequence numbers,
 * timestamps and VP8 picture IDs: ffmpeg's VP8 depacketizer drops frames on picture-ID or sequence jumps.
 *
 * A switch happens only at a keyframe of the new source (filler frames are all keyframes), so the decoder never sees
 * a frame whose reference it lacks.
 *
 * A source that goes quiet after a whole frame is held: after `holdMs` the relay sends frames that repeat its last
 * picture, each taking the next sequence number and picture ID, so the source's own frames continue after them with
 * nothing missing in between (a packet the source really lost still shows as a gap).
 */
export class Vp8SlotRelay {
	readonly #rtp: dgram.Socket;
	readonly #rtcp: dgram.Socket;
	readonly #rtpPort: number;
	readonly #rtcpPort: number;
	readonly #target: Vp8SlotRelayOptions['target'];
	readonly #payloadType: number;
	readonly #freezeMs: number;
	readonly #holdMs: number;
	readonly #frameIntervalMs: number;
	readonly #onLiveChange: ((live: boolean) => void) | undefined;
	readonly #onNeedKeyframe: (() => void) | undefined;
	readonly #ssrc = (Math.random() * 0xffffffff) >>> 0;
	/** Sequence number, timestamp and picture ID (15-bit space) of the newest packet sent. */
	#seq = Math.floor(Math.random() * 0x10000);
	#ts = (Math.random() * 0xffffffff) >>> 0;
	#pictureId = Math.floor(Math.random() * 0x8000);
	/** performance.now() of the newest packet sent; undefined before the first. */
	#lastSentAt: number | undefined;
	/** The SSRC to show; undefined: an empty slot. */
	#followed: number | undefined;
	/** The SSRC being forwarded (the followed one, or the previous one until the followed one's keyframe). */
	#current: number | undefined;
	#lastSourceAt = 0;
	/** out = in + offset for the current run of forwarded packets; set at each switch. */
	#seqOffset = 0;
	#tsOffset = 0;
	#pictureIdOffset: number | undefined;
	/** Highest input sequence number of the current run, to close the hole a padding-only packet leaves. */
	#lastInSeq = 0;
	/** The current source's picture (from its last keyframe), what it last sent, and how the output's picture IDs look. */
	#picture: { width: number; height: number; version: number } | undefined;
	#lastMediaAt = 0;
	#frameComplete = false;
	/**
	 * The last frame was one a repeat shows again: a repeat copies the last-frame reference, which a frame the sender
	 * marks as referred to by none (N) or of a temporal layer above the base (TID > 0: libvpx's layer patterns refresh
	 * it only in the base layer) leaves holding an older picture. After such a frame, no repeats: filler at `freezeMs`.
	 */
	#lastFrameRepeatable = false;
	#pictureIdWidth: 7 | 15 | undefined;
	/** Repeats were sent since the source's last packet: its next frame gets a timestamp after theirs. */
	#holding = false;
	#live = false;
	#lastKeyframeRequestAt = Number.NEGATIVE_INFINITY;
	readonly #timer: NodeJS.Timeout;
	#closed = false;
	#forwarded = 0;
	#filler = 0;
	#repeated = 0;
	#dropped = 0;

	private constructor(rtp: dgram.Socket, rtcp: dgram.Socket, options: Vp8SlotRelayOptions) {
		this.#rtp = rtp;
		this.#rtcp = rtcp;
		// Kept: a closed socket's address() throws.
		this.#rtpPort = rtp.address().port;
		this.#rtcpPort = rtcp.address().port;
		this.#target = options.target;
		this.#payloadType = options.payloadType;
		this.#freezeMs = options.freezeMs ?? 500;
		this.#holdMs = options.holdMs ?? 120;
		this.#frameIntervalMs = 1000 / (options.fps ?? 25);
		this.#onLiveChange = options.onLiveChange;
		this.#onNeedKeyframe = options.onNeedKeyframe;
		rtp.on('message', (packet) => this.#onPacket(packet));
		// A send before ffmpeg binds its port, or after it exits, is simply lost; nothing to report.
		rtp.on('error', () => {});
		rtcp.on('error', () => {});
		// mediasoup's sender reports are dropped: the stream they describe is rewritten here.
		rtcp.on('message', () => {});
		this.#timer = setInterval(() => this.#tick(), this.#frameIntervalMs);
	}

	/** Binds an even RTP port and the RTCP port after it (what a PlainTransport `connect()` needs), then starts filler. */
	static async open(options: Vp8SlotRelayOptions): Promise<Vp8SlotRelay> {
		validateOptions(options);
		const { rtp, rtcp } = await bindRtpSocketPair(options.host ?? '127.0.0.1', 'Vp8SlotRelay');
		return new Vp8SlotRelay(rtp, rtcp, options);
	}

	/** Port the consumer's transport sends RTP to; RTCP goes to rtpPort + 1. */
	get rtpPort(): number {
		return this.#rtpPort;
	}

	get rtcpPort(): number {
		return this.#rtcpPort;
	}

	/** Forwarding the followed source's own frames (not filler, not the previous source). */
	get live(): boolean {
		return this.#live;
	}

	/**
	 * RTP packets forwarded from sources, filler frames sent, frames repeating a quiet source's last picture, and packets
	 * dropped (malformed, other SSRC, or before a keyframe).
	 */
	get counts(): { forwarded: number; filler: number; repeated: number; dropped: number } {
		return { forwarded: this.#forwarded, filler: this.#filler, repeated: this.#repeated, dropped: this.#dropped };
	}

	/**
	 * Shows this SSRC (a consumer's) in the slot from its next keyframe on; until then what flowed goes on (filler, or
	 * the previous source). Undefined empties the slot: filler at once. Packets of any other SSRC are dropped: a port
	 * freed by an earlier broadcast may still receive a stale sender's packets.
	 */
	follow(ssrc: number | undefined): void {
		if (this.#closed) throw new Error('Vp8SlotRelay: follow() after close()');
		if (ssrc !== undefined && !(Number.isInteger(ssrc) && ssrc >= 0 && ssrc <= 0xffffffff)) {
			throw new RangeError(`Vp8SlotRelay: SSRC ${ssrc} is not a 32-bit unsigned integer`);
		}
		if (ssrc === this.#followed) return;
		this.#followed = ssrc;
		if (ssrc === undefined) this.#current = undefined;
		this.#updateLive();
		this.#lastKeyframeRequestAt = Number.NEGATIVE_INFINITY;
		this.#requestKeyframeIfWaiting(performance.now());
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		this.#rtp.close();
		this.#rtcp.close();
	}

	#onPacket(packet: Buffer): void {
		if (this.#closed) return;
		const rtp = readRtpPacket(packet);
		if (!rtp || (rtp.ssrc !== this.#current && rtp.ssrc !== this.#followed)) {
			this.#dropped++;
			return;
		}
		const now = performance.now();
		if (rtp.ssrc === this.#current) {
			this.#lastSourceAt = now;
			// A padding-only packet (bandwidth probing) is no loss: close its hole so ffmpeg does not wait for it.
			if (rtp.payload.length === 0 && rtp.seq === ((this.#lastInSeq + 1) & 0xffff)) {
				this.#seqOffset = (this.#seqOffset - 1) & 0xffff;
				this.#lastInSeq = rtp.seq;
				this.#dropped++;
				return;
			}
		}
		const descriptor = parseVp8Descriptor(rtp.payload);
		if (!descriptor) {
			this.#dropped++;
			return;
		}
		if (rtp.ssrc !== this.#current) {
			// The followed source, not yet forwarded: it takes over at its keyframe.
			if (!descriptor.keyframe) {
				this.#dropped++;
				return;
			}
			this.#current = rtp.ssrc;
			this.#lastSourceAt = now;
			this.#anchor(rtp, now);
			this.#updateLive();
		} else if (this.#holding) {
			// The source's first packet after repeats: its frame comes after theirs.
			this.#tsOffset = (this.#ts + this.#tsStep(now) - rtp.ts) >>> 0;
		}
		this.#holding = false;
		if (descriptor.keyframe) {
			const picture = descriptor.picture;
			this.#picture = picture && picture.width * picture.height <= maxRepeatedPicturePx ? picture : undefined;
		}
		this.#lastMediaAt = now;
		this.#frameComplete = rtp.marker;
		this.#lastFrameRepeatable = !descriptor.nonReference && !(descriptor.temporalLayer !== undefined && descriptor.temporalLayer > 0);
		this.#forward(rtp, descriptor, now);
	}

	/** Re-bases the new run so its first packet continues the output: next sequence number, timestamp after wall time. */
	#anchor(rtp: RtpPacket, now: number): void {
		this.#seqOffset = (this.#seq + 1 - rtp.seq) & 0xffff;
		this.#tsOffset = (this.#ts + this.#tsStep(now) - rtp.ts) >>> 0;
		this.#pictureIdOffset = undefined;
		this.#pictureIdWidth = undefined;
		this.#lastInSeq = rtp.seq;
	}

	#forward(rtp: RtpPacket, descriptor: Vp8Descriptor, now: number): void {
		if (isNewer(rtp.seq, this.#lastInSeq, 0x10000)) this.#lastInSeq = rtp.seq;
		const seq = (rtp.seq + this.#seqOffset) & 0xffff;
		const ts = (rtp.ts + this.#tsOffset) >>> 0;
		const packet = Buffer.concat([rtpHeader(rtp.marker, this.#payloadType, seq, ts, this.#ssrc), rtp.payload]);
		let pictureId: number | undefined;
		if (descriptor.pictureId) {
			this.#pictureIdOffset ??= (this.#pictureId + 1 - descriptor.pictureId.value) & 0x7fff;
			this.#pictureIdWidth = descriptor.pictureId.width;
			pictureId = (descriptor.pictureId.value + this.#pictureIdOffset) & 0x7fff;
			rewritePictureId(packet.subarray(12), descriptor, pictureId);
		}
		// A reordered packet goes out as it came, but the output continues from the newest one.
		if (this.#lastSentAt === undefined || isNewer(seq, this.#seq, 0x10000)) {
			this.#seq = seq;
			this.#ts = ts;
			if (pictureId !== undefined) this.#pictureId = pictureId;
			this.#lastSentAt = now;
		}
		this.#forwarded++;
		this.#send(packet);
	}

	#tick(): void {
		if (this.#closed) return;
		const now = performance.now();
		if (this.#current !== undefined && now - this.#lastSourceAt >= this.#freezeMs) {
			// A paused camera (or a dead sender): filler, and the source comes back only at its next keyframe.
			this.#current = undefined;
			this.#updateLive();
		}
		this.#requestKeyframeIfWaiting(now);
		if (this.#current !== undefined) {
			this.#repeatIfQuiet(now);
			return;
		}
		const seq = (this.#seq + 1) & 0xffff;
		const ts = (this.#ts + this.#tsStep(now)) >>> 0;
		this.#seq = seq;
		this.#ts = ts;
		this.#lastSentAt = now;
		this.#filler++;
		this.#send(Buffer.concat([rtpHeader(true, this.#payloadType, seq, ts, this.#ssrc), fillerPayload]));
	}

	/** The source quiet for `holdMs` after a whole frame: one frame repeating its last picture, at most one per frame interval. */
	#repeatIfQuiet(now: number): void {
		const picture = this.#picture;
		if (!picture || !this.#frameComplete || !this.#lastFrameRepeatable || now - this.#lastMediaAt < this.#holdMs) return;
		// A late timer's tick comes soon after the previous one: the repeats keep to the frame rate.
		if (this.#lastSentAt !== undefined && now - this.#lastSentAt < this.#frameIntervalMs * 0.75) return;
		const seq = (this.#seq + 1) & 0xffff;
		const ts = (this.#ts + this.#tsStep(now)) >>> 0;
		let descriptor: Buffer;
		if (this.#pictureIdWidth !== undefined && this.#pictureIdOffset !== undefined) {
			// The source numbers its pictures: the repeat takes the next number, and the source's numbers move up one.
			const pictureId = (this.#pictureId + 1) & 0x7fff;
			descriptor = this.#pictureIdWidth === 15 ? Buffer.from([0x90, 0x80, 0x80 | (pictureId >> 8), pictureId & 0xff]) : Buffer.from([0x90, 0x80, pictureId & 0x7f]);
			this.#pictureId = pictureId;
			this.#pictureIdOffset = (this.#pictureIdOffset + 1) & 0x7fff;
		} else {
			descriptor = Buffer.from([0x10]);
		}
		// The source's sequence numbers move up one too, so a packet it really lost still leaves a gap.
		this.#seqOffset = (this.#seqOffset + 1) & 0xffff;
		this.#seq = seq;
		this.#ts = ts;
		this.#lastSentAt = now;
		this.#holding = true;
		this.#repeated++;
		this.#send(Buffer.concat([rtpHeader(true, this.#payloadType, seq, ts, this.#ssrc), descriptor, vp8RepeatFrame(picture)]));
	}

	/** Wall time since the last packet sent, in RTP ticks, at least 1 (a new frame needs a new timestamp). */
	#tsStep(now: number): number {
		if (this.#lastSentAt === undefined) return 1;
		return Math.max(1, Math.round((now - this.#lastSentAt) * ticksPerMs));
	}

	#requestKeyframeIfWaiting(now: number): void {
		if (this.#followed === undefined || this.#current === this.#followed) return;
		if (now - this.#lastKeyframeRequestAt < keyframeRequestIntervalMs) return;
		this.#lastKeyframeRequestAt = now;
		callSafely(this.#onNeedKeyframe);
	}

	#updateLive(): void {
		const live = this.#current !== undefined && this.#current === this.#followed;
		if (live === this.#live) return;
		this.#live = live;
		callSafely(() => this.#onLiveChange?.(live));
	}

	#send(packet: Buffer): void {
		this.#rtp.send(packet, this.#target.rtpPort, this.#target.host, () => {});
	}
}

/** Reads an RTP packet's header fields; undefined if malformed (too short, not version 2, bad extension or padding). */
export function readRtpPacket(packet: Buffer): RtpPacket | undefined {
	const payload = rtpPayload(packet);
	if (!payload) return undefined;
	return {
		marker: (packet[1]! & 0x80) !== 0,
		payloadType: packet[1]! & 0x7f,
		seq: packet.readUInt16BE(2),
		ts: packet.readUInt32BE(4),
		ssrc: packet.readUInt32BE(8),
		payload,
	};
}

/** Parses the VP8 payload descriptor (RFC 7741 §4.2); undefined if it is truncated or no VP8 data follows it. */
export function parseVp8Descriptor(payload: Buffer): Vp8Descriptor | undefined {
	if (payload.length < 1) return undefined;
	const first = payload[0]!;
	let length = 1;
	let pictureId: Vp8Descriptor['pictureId'];
	let temporalLayer: number | undefined;
	if (first & 0x80) {
		// X: an extension byte |I|L|T|K|RSV| follows.
		if (payload.length < 2) return undefined;
		const extension = payload[1]!;
		length = 2;
		if (extension & 0x80) {
			// I: a picture ID, 15 bits when its first bit (M) is set.
			if (payload.length < length + 1) return undefined;
			if (payload[length]! & 0x80) {
				if (payload.length < length + 2) return undefined;
				pictureId = { offset: length, width: 15, value: payload.readUInt16BE(length) & 0x7fff };
				length += 2;
			} else {
				pictureId = { offset: length, width: 7, value: payload[length]! & 0x7f };
				length += 1;
			}
		}
		if (extension & 0x40) length += 1; // L: TL0PICIDX
		if (extension & 0x30) {
			// T or K: one byte TID|Y|KEYIDX; TID means something only with T.
			if (extension & 0x20 && payload.length > length) temporalLayer = payload[length]! >> 6;
			length += 1;
		}
	}
	if (payload.length <= length) return undefined;
	const start = (first & 0x10) !== 0;
	const partitionIndex = first & 0x07;
	// RFC 6386 §9.1: the frame tag's first bit P is 0 for a keyframe, whose start code 9d 01 2a follows the 3-byte tag.
	const keyframe =
		start &&
		partitionIndex === 0 &&
		(payload[length]! & 0x01) === 0 &&
		payload.length >= length + 6 &&
		payload[length + 3] === 0x9d &&
		payload[length + 4] === 0x01 &&
		payload[length + 5] === 0x2a;
	let picture: Vp8Descriptor['picture'];
	if (keyframe && payload.length >= length + 10) {
		const width = payload.readUInt16LE(length + 6) & 0x3fff;
		const height = payload.readUInt16LE(length + 8) & 0x3fff;
		const version = (payload[length]! >> 1) & 0x07;
		// Versions 4–7 are not defined (RFC 6386 §9.1): such a stream is never repeated.
		if (width > 0 && height > 0 && version <= 3) picture = { width, height, version };
	}
	return {
		length,
		start,
		partitionIndex,
		...(pictureId && { pictureId }),
		keyframe,
		...(picture && { picture }),
		...((first & 0x20) !== 0 && { nonReference: true as const }),
		...(temporalLayer !== undefined && { temporalLayer }),
	};
}

/** Writes a picture ID into a payload in place, keeping the descriptor's width (a 7-bit one keeps the low bits). */
export function rewritePictureId(payload: Buffer, descriptor: Vp8Descriptor, pictureId: number): void {
	const at = descriptor.pictureId;
	if (!at) return;
	if (at.width === 15) payload.writeUInt16BE(0x8000 | (pictureId & 0x7fff), at.offset);
	else payload[at.offset] = pictureId & 0x7f;
}

function rtpHeader(marker: boolean, payloadType: number, seq: number, ts: number, ssrc: number): Buffer {
	const header = Buffer.alloc(12);
	header[0] = 0x80; // version 2, no padding, no extension, no CSRC
	header[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
	header.writeUInt16BE(seq, 2);
	header.writeUInt32BE(ts, 4);
	header.writeUInt32BE(ssrc, 8);
	return header;
}

/** `a` comes after `b` in a wrapping counter of `modulus` values. */
function isNewer(a: number, b: number, modulus: number): boolean {
	const diff = (a - b + modulus) % modulus;
	return diff !== 0 && diff < modulus / 2;
}

/** A throwing callback must not unwind the relay's packet handling. */
function callSafely(callback: (() => void) | undefined): void {
	try {
		callback?.();
	} catch {
		// The runner's problem; the slot's video keeps flowing.
	}
}

function validateOptions(options: Vp8SlotRelayOptions): void {
	const { payloadType, fps = 25, freezeMs = 500, holdMs = 120, target } = options;
	if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) {
		throw new RangeError(`Vp8SlotRelay: payloadType ${payloadType} must be an integer 0–127`);
	}
	if (!(Number.isFinite(fps) && fps > 0 && fps <= 120)) throw new RangeError(`Vp8SlotRelay: fps ${fps} must be in (0, 120]`);
	if (!(Number.isFinite(freezeMs) && freezeMs > 0)) throw new RangeError(`Vp8SlotRelay: freezeMs ${freezeMs} must be > 0`);
	if (!(Number.isFinite(holdMs) && holdMs > 0)) throw new RangeError(`Vp8SlotRelay: holdMs ${holdMs} must be > 0`);
	if (!Number.isInteger(target.rtpPort) || target.rtpPort < 1 || target.rtpPort > 65535) {
		throw new RangeError(`Vp8SlotRelay: target.rtpPort ${target.rtpPort} is not a port`);
	}
}
