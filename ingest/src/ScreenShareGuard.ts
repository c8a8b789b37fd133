import type { types } from 'mediasoup';
import { readVp8Packet, type Vp8PacketInfo } from './vp8Frames.js';

/** What a screen share may send. The player encodes well inside them; ingest ends a share that goes past them. */
export interface ScreenShareLimits {
	/** Widest and tallest picture, in pixels (a portrait screen may be 1080 × 1920). */
	maxWidth: number;
	maxHeight: number;
	/** Largest picture area, in pixels. */
	maxPixels: number;
	/** Frames per second, averaged over `windowMs`. */
	maxFrameRate: number;
	/** Bits per second of RTP payload, averaged over `windowMs`. */
	maxBitrate: number;
	/** The window rates are averaged over, in ms (a keyframe burst or a scroll may go over for a moment). */
	windowMs: number;
}

/** 1080p at up to 20 fps (the player sends 15) and 4 Mb/s (the player sends at most 2.5). */
export const defaultScreenShareLimits: Readonly<ScreenShareLimits> = Object.freeze({
	maxWidth: 1920,
	maxHeight: 1920,
	maxPixels: 1920 * 1080,
	maxFrameRate: 20,
	maxBitrate: 4_000_000,
	windowMs: 5000,
});

export type ScreenShareViolation = { reason: 'too_large'; width: number; height: number } | { reason: 'too_fast'; frameRate: number; bitrate: number };

/**
 * Counts a screen share's frames and bytes in consecutive windows and reads each keyframe's size: pure, fed one
 * packet at a time with the time it arrived. Says what went past the limits, first time it does.
 */
export class ScreenShareMeter {
	readonly #limits: ScreenShareLimits;
	#windowStartMs: number | undefined;
	#frames = 0;
	#bytes = 0;
	/** The last keyframe's size, for logs and tests. */
	lastKeyframe: { width: number; height: number } | undefined;

	constructor(limits: ScreenShareLimits) {
		this.#limits = limits;
	}

	add(info: Vp8PacketInfo, nowMs: number): ScreenShareViolation | undefined {
		const { maxWidth, maxHeight, maxPixels, maxFrameRate, maxBitrate, windowMs } = this.#limits;
		if (info.keyframe) {
			const { width, height } = info.keyframe;
			this.lastKeyframe = info.keyframe;
			if (width > maxWidth || height > maxHeight || width * height > maxPixels) return { reason: 'too_large', width, height };
		}
		this.#windowStartMs ??= nowMs;
		const elapsedMs = nowMs - this.#windowStartMs;
		if (elapsedMs >= windowMs) {
			const frameRate = (this.#frames * 1000) / elapsedMs;
			const bitrate = (this.#bytes * 8 * 1000) / elapsedMs;
			this.#windowStartMs = nowMs;
			this.#frames = 0;
			this.#bytes = 0;
			if (frameRate > maxFrameRate || bitrate > maxBitrate) return { reason: 'too_fast', frameRate: Math.round(frameRate * 10) / 10, bitrate: Math.round(bitrate) };
		}
		this.#bytes += info.payloadBytes;
		if (info.endOfFrame) this.#frames++;
		return undefined;
	}
}

/**
 * Watches a screen producer through a consumer on a DirectTransport of its router (the RTP reaches this process,
 * nothing leaves it) and calls `onViolation` once if the share goes past its limits. Owns the transport; close()
 * is idempotent, and the producer closing closes it too.
 */
export class ScreenShareGuard {
	readonly #transport: types.DirectTransport;
	#closed = false;
	readonly meter: ScreenShareMeter;

	private constructor(transport: types.DirectTransport, limits: ScreenShareLimits) {
		this.#transport = transport;
		this.meter = new ScreenShareMeter(limits);
	}

	static async watch(router: types.Router, producer: types.Producer, limits: ScreenShareLimits, onViolation: (v: ScreenShareViolation) => void): Promise<ScreenShareGuard> {
		const transport = await router.createDirectTransport();
		const guard = new ScreenShareGuard(transport, limits);
		try {
			const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
			consumer.observer.once('close', () => guard.close());
			consumer.on('rtp', (packet: Buffer) => {
				if (guard.#closed) return;
				const info = readVp8Packet(packet);
				if (!info) return;
				const violation = guard.meter.add(info, performance.now());
				if (!violation) return;
				guard.close();
				onViolation(violation);
			});
			// Its size is in the keyframe: ask for one now rather than wait for the next.
			await consumer.requestKeyFrame();
		} catch (error) {
			guard.close();
			throw error;
		}
		return guard;
	}

	get closed(): boolean {
		return this.#closed;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#transport.close();
	}
}
