/** One top-level ISO-BMFF box: its four-character type and its bytes, header included. */
export interface Mp4Box {
	type: string;
	bytes: Buffer;
}

/** Options of {@link BoxParser}. */
export interface BoxParserOptions {
	/**
	 * Largest box accepted, in bytes (default 32 MiB). A larger size field means a corrupt or hostile stream; the
	 * parser throws instead of buffering it. This bounds memory: at most one box is ever held.
	 */
	maxBoxBytes?: number;
}

const defaultMaxBoxBytes = 32 * 1024 * 1024;

/**
 * Splits a byte stream into top-level MP4 boxes as the bytes arrive. Only the box in progress is buffered, so a
 * `moof`+`mdat` pair leaves as soon as its last byte is read: a part is never delayed until a segment completes.
 */
export class BoxParser {
	readonly #maxBoxBytes: number;
	#chunks: Buffer[] = [];
	#buffered = 0;

	constructor(options: BoxParserOptions = {}) {
		this.#maxBoxBytes = options.maxBoxBytes ?? defaultMaxBoxBytes;
	}

	/** Bytes held waiting for the rest of a box. */
	get bufferedBytes(): number {
		return this.#buffered;
	}

	/** Adds bytes and returns every box they complete, in order. */
	push(chunk: Buffer): Mp4Box[] {
		if (chunk.length > 0) {
			this.#chunks.push(chunk);
			this.#buffered += chunk.length;
		}
		const boxes: Mp4Box[] = [];
		for (;;) {
			if (this.#buffered < 8) break;
			const head = this.#peek(16);
			const size = boxSize(head, this.#buffered);
			if (size === undefined) break;
			if (size > this.#maxBoxBytes) throw new Error(`MP4 box of ${size} bytes exceeds the ${this.#maxBoxBytes}-byte limit`);
			if (this.#buffered < size) break;
			const bytes = this.#take(size);
			boxes.push({ type: bytes.toString('latin1', 4, 8), bytes });
		}
		return boxes;
	}

	#peek(n: number): Buffer {
		const first = this.#chunks[0];
		if (first && first.length >= n) return first;
		const joined = Buffer.concat(this.#chunks);
		this.#chunks = [joined];
		return joined;
	}

	#take(n: number): Buffer {
		const joined = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
		// Copy out so the box does not pin the (possibly much larger) read buffer it came from.
		const box = Buffer.from(joined.subarray(0, n));
		const rest = joined.subarray(n);
		this.#chunks = rest.length > 0 ? [rest] : [];
		this.#buffered -= n;
		return box;
	}
}

/** The box size from its header, or undefined when the 64-bit size field has not arrived yet. */
function boxSize(head: Buffer, available: number): number | undefined {
	const size32 = head.readUInt32BE(0);
	if (size32 === 1) {
		if (available < 16 || head.length < 16) return undefined;
		const size64 = head.readBigUInt64BE(8);
		if (size64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('MP4 box size out of range');
		return Number(size64);
	}
	// Size 0 ("to end of file") cannot be framed on a live pipe; ffmpeg only writes it for a trailing mdat.
	if (size32 < 8) throw new Error(`invalid MP4 box size ${size32}`);
	return size32;
}
