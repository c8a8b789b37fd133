import { decodeHlsMessage, hlsRedisKeys } from '@tribune/transcoder';
import type { Redis } from 'ioredis';

/** One part of a rendition as the packager published it. */
export interface PublishedPart {
	partSeq: number;
	/** Wall clock (ms since the epoch) at which the part's event came off Redis pub/sub in the test. */
	emittedAtMs: number;
	durationS: number;
	/** Size of each sample (AAC frame, video frame) of the part, from its `trun`. */
	sampleBytes: number[];
}

/** The sample sizes in a fragment's `moof/traf/trun` boxes (ISO/IEC 14496-12 §8.8.8), in order. */
export function trunSampleSizes(fragment: Buffer): number[] {
	const sizes: number[] = [];
	const walk = (from: number, to: number): void => {
		for (let at = from; at + 8 <= to;) {
			const size = fragment.readUInt32BE(at);
			const type = fragment.toString('latin1', at + 4, at + 8);
			if (size < 8 || at + size > to) return;
			if (type === 'moof' || type === 'traf') walk(at + 8, at + size);
			if (type === 'trun') {
				const flags = fragment.readUInt32BE(at + 8) & 0xffffff;
				const count = fragment.readUInt32BE(at + 12);
				let p = at + 16 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
				for (let i = 0; i < count; i++) {
					if (flags & 0x100) p += 4;
					if (flags & 0x200) sizes.push(fragment.readUInt32BE(p));
					p += (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
				}
			}
			at += size;
		}
	};
	walk(0, fragment.length);
	return sizes;
}

/**
 * The packager's parts of one rendition as they leave it: a subscriber to the stream's Redis feed, as an origin
 * subscribes (the origin's own copy arrives at the same moment).
 */
export class HlsFeedTap {
	readonly parts: PublishedPart[] = [];
	readonly #subscriber: Redis;

	private constructor(subscriber: Redis) {
		this.#subscriber = subscriber;
	}

	static async open(redis: Redis, prefix: string, streamId: string, rendition: string): Promise<HlsFeedTap> {
		const subscriber = redis.duplicate();
		const tap = new HlsFeedTap(subscriber);
		const { channel } = hlsRedisKeys(prefix, streamId);
		subscriber.on('messageBuffer', (_channel: Buffer, frame: Buffer) => {
			const emittedAtMs = Date.now();
			const { event, bytes } = decodeHlsMessage(frame);
			if (event.type === 'part' && event.rendition === rendition) {
				tap.parts.push({ partSeq: event.partSeq, emittedAtMs, durationS: event.durationS, sampleBytes: trunSampleSizes(bytes) });
			}
		});
		await subscriber.subscribe(channel);
		return tap;
	}

	close(): void {
		this.#subscriber.disconnect();
	}
}

/**
 * When each part of a rendition can be had from the origin: the test holds the preload-hinted part (a blocking
 * request the origin answers as the part arrives, RFC 8216bis §6.2.5.2), then the next, as an eager LL-HLS client
 * would. Bounded by `durationMs`; a part it missed (a failed request) is picked up again from the playlist.
 */
export class OriginPartTap {
	/** partSeq → wall clock (ms since the epoch) at which the origin answered with the part. */
	readonly availableAtMs = new Map<number, number>();
	#stopped = false;
	readonly #done: Promise<void>;

	constructor(renditionUrl: string, durationMs: number) {
		this.#done = this.#follow(renditionUrl, Date.now() + durationMs);
	}

	async #follow(renditionUrl: string, deadline: number): Promise<void> {
		const base = renditionUrl.replace(/[^/]*$/, '');
		let next: number | undefined;
		while (!this.#stopped && Date.now() < deadline) {
			if (next === undefined) {
				// A failed reload is tried again below, like a missing hint.
				const playlist = await fetch(renditionUrl).then((r) => r.text(), () => '');
				const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.m4s"/.exec(playlist)?.[1];
				if (hint === undefined) {
					await new Promise((resolve) => setTimeout(resolve, 50));
					continue;
				}
				next = Number(hint);
			}
			// A failed request leaves `res` undefined: the playlist is read again for the next hint.
			const res = await fetch(`${base}part-${next}.m4s`).catch(() => undefined);
			if (res?.status === 200) {
				await res.arrayBuffer();
				this.availableAtMs.set(next, Date.now());
				next++;
			} else {
				// The body of a refusal (400: not hinted yet) says nothing the status did not.
				await res?.arrayBuffer().catch(() => undefined);
				next = undefined;
			}
		}
	}

	async stop(): Promise<void> {
		this.#stopped = true;
		// The request being held ends with its part, within a part target.
		await this.#done;
	}
}
