/**
 * The byte stream from an engine to its recogniser process (the child's stdin). Every frame has a 16-byte header:
 * kind (u8), 3 bytes of padding, sample count (u32 LE), stream position of its first sample (f64 LE), then the
 * samples (s16 LE). Binary, because 50 chunks a second per speaker through JSON would cost more than recognising
 * silence.
 */
export type PcmFrame =
	| { kind: 'audio'; streamSample: number; samples: Int16Array }
	/** The voice gate closed at `streamSample`: nothing follows until the next audio frame. */
	| { kind: 'pause'; streamSample: number };

const headerBytes = 16;
const kindAudio = 1;
const kindPause = 2;
/** A frame claiming more than a minute of audio is corruption, not a chunk. */
const maxSamplesPerFrame = 60 * 16_000;

export function encodePcmFrame(frame: PcmFrame): Buffer {
	const samples = frame.kind === 'audio' ? frame.samples : new Int16Array(0);
	const out = Buffer.allocUnsafe(headerBytes + samples.length * 2);
	out.writeUInt8(frame.kind === 'audio' ? kindAudio : kindPause, 0);
	out.fill(0, 1, 4);
	out.writeUInt32LE(samples.length, 4);
	out.writeDoubleLE(frame.streamSample, 8);
	for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, headerBytes + i * 2);
	return out;
}

/** Reassembles frames from a byte stream cut anywhere (pipe reads). */
export class PcmFrameReader {
	#pending: Buffer = Buffer.alloc(0);

	/** Adds bytes; returns the frames they complete, in order. Throws on a malformed header. */
	push(bytes: Buffer): PcmFrame[] {
		this.#pending = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
		const frames: PcmFrame[] = [];
		let offset = 0;
		while (this.#pending.length - offset >= headerBytes) {
			const kind = this.#pending.readUInt8(offset);
			const count = this.#pending.readUInt32LE(offset + 4);
			const streamSample = this.#pending.readDoubleLE(offset + 8);
			if ((kind !== kindAudio && kind !== kindPause) || count > maxSamplesPerFrame || !Number.isSafeInteger(streamSample) || streamSample < 0) {
				throw new Error(`malformed PCM frame header at byte ${offset} (kind ${kind}, ${count} samples, position ${streamSample})`);
			}
			const size = headerBytes + count * 2;
			if (this.#pending.length - offset < size) break;
			if (kind === kindPause) {
				frames.push({ kind: 'pause', streamSample });
			} else {
				// Copy into an aligned array of its own: the buffer's offset may be odd and its memory is reused.
				const samples = new Int16Array(count);
				for (let i = 0; i < count; i++) samples[i] = this.#pending.readInt16LE(offset + headerBytes + i * 2);
				frames.push({ kind: 'audio', streamSample, samples });
			}
			offset += size;
		}
		this.#pending = this.#pending.subarray(offset);
		return frames;
	}

	/** Bytes of an incomplete frame still waiting for the rest. */
	get pendingBytes(): number {
		return this.#pending.length;
	}
}
