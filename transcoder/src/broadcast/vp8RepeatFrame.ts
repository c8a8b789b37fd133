/**
 * A VP8 frame that repeats the picture before it: an interframe whose every macroblock predicts from the last
 * reference frame with a zero motion vector and no residual, built with the boolean entropy encoder of RFC 6386 §7.3.
 * It changes no decoder state the sender's next frame relies on: no reference buffer is refreshed, the entropy
 * probabilities are put back after it (`refresh_entropy_probs` = 0), and segmentation stays on without an update, so
 * ffmpeg carries the segment map through it. Its loop filter level is 0, so the copy is exact.
 *
 * The broadcast's composite needs every camera and share input to keep sending pictures (ffmpeg's overlay waits for
 * the next one); a sender that goes quiet — a still screen sends about one picture a second — is held on its last
 * picture with these frames.
 */

/** RFC 6386 §7.3: the boolean entropy encoder, writing one partition. */
export class BoolEncoder {
	#bytes: number[] = [];
	#range = 255;
	#bottom = 0;
	#bitCount = 24;

	/** Writes `value` (a bit) with `probability`/256 the chance of a 0. */
	writeBool(probability: number, value: boolean): void {
		const split = 1 + (((this.#range - 1) * probability) >> 8);
		if (value) {
			this.#bottom += split;
			this.#range -= split;
		} else {
			this.#range = split;
		}
		while (this.#range < 128) {
			this.#range <<= 1;
			if (this.#bottom >= 0x8000_0000) this.#carry();
			this.#bottom = (this.#bottom * 2) % 0x1_0000_0000;
			if (--this.#bitCount === 0) {
				this.#bytes.push(Math.floor(this.#bottom / 0x100_0000));
				this.#bottom %= 0x100_0000;
				this.#bitCount = 8;
			}
		}
	}

	/** An unsigned literal of `bits` bits, most significant first, each at even odds (the spec's L(n)). */
	writeLiteral(value: number, bits: number): void {
		for (let bit = bits - 1; bit >= 0; bit--) this.writeBool(128, ((value >> bit) & 1) === 1);
	}

	/** Ends the partition (once, after its last bool) and returns its bytes. */
	finish(): Buffer {
		let count = this.#bitCount;
		let value = this.#bottom;
		if (value >= 2 ** (32 - count) && (Math.floor(value / 2 ** (32 - count)) & 1) === 1) this.#carry();
		value = (value * 2 ** (count & 7)) % 0x1_0000_0000;
		for (count >>= 3; count > 0; count--) value = (value * 256) % 0x1_0000_0000;
		for (let i = 0; i < 4; i++) {
			this.#bytes.push(Math.floor(value / 0x100_0000));
			value = (value * 256) % 0x1_0000_0000;
		}
		return Buffer.from(this.#bytes);
	}

	/** Propagates a carry into the bytes already written. */
	#carry(): void {
		let at = this.#bytes.length - 1;
		while (at >= 0 && this.#bytes[at] === 255) this.#bytes[at--] = 0;
		if (at >= 0) this.#bytes[at]!++;
	}
}

export interface Vp8RepeatFrameOptions {
	/** The stream's picture size, px (from its last keyframe): the frame has one macroblock per 16×16 of it. */
	width: number;
	height: number;
	/** The stream's version (profile), 0–3, from its frame tag. Default 0. */
	version?: number;
}

const cache = new Map<string, Buffer>();

/** The repeat frame for a stream of this size and version (built once per size, then shared). */
export function vp8RepeatFrame(options: Vp8RepeatFrameOptions): Buffer {
	const { width, height, version = 0 } = options;
	if (!(Number.isInteger(width) && width >= 1 && width <= 16383 && Number.isInteger(height) && height >= 1 && height <= 16383)) {
		throw new RangeError(`vp8RepeatFrame: ${width}×${height} is not a VP8 picture size`);
	}
	if (!(Number.isInteger(version) && version >= 0 && version <= 3)) throw new RangeError(`vp8RepeatFrame: version ${version} must be 0–3`);
	const key = `${width}x${height}v${version}`;
	let frame = cache.get(key);
	if (!frame) {
		frame = buildRepeatFrame(Math.ceil(width / 16), Math.ceil(height / 16), version);
		if (cache.size >= 64) cache.delete(cache.keys().next().value!);
		cache.set(key, frame);
	}
	return frame;
}

function buildRepeatFrame(columns: number, rows: number, version: number): Buffer {
	const header = new BoolEncoder();
	// §9.3: segmentation on, neither map nor data updated — the map the stream set goes on through this frame.
	header.writeLiteral(1, 1);
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	// §9.6: normal filter, level 0 (no filtering: the copy stays exact), sharpness 0, no mode/ref deltas.
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 6);
	header.writeLiteral(0, 3);
	header.writeLiteral(0, 1);
	// §9.5: one token partition.
	header.writeLiteral(0, 2);
	// §9.6: base quantizer 0 and no deltas (no residual is coded, so it is never used).
	header.writeLiteral(0, 7);
	for (let i = 0; i < 5; i++) header.writeLiteral(0, 1);
	// §9.7–9.8: refresh neither golden nor altref, copy nothing into them, sign biases 0,
	// keep this frame's probabilities to itself, and do not refresh the last frame.
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 2);
	header.writeLiteral(0, 2);
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	// §13.4: no token probability updates.
	for (const band of coefficientUpdateProbabilities) for (const contexts of band) for (const nodes of contexts) for (const p of nodes) header.writeBool(p, false);
	// §9.10–9.11: macroblock skip flags on (each macroblock almost surely skipped), then inter-frame probabilities.
	header.writeLiteral(1, 1);
	header.writeLiteral(skipFalseProbability, 8);
	header.writeLiteral(intraProbability, 8);
	header.writeLiteral(lastProbability, 8);
	header.writeLiteral(128, 8);
	// §16.2: no intra mode probability updates; §17.2: no motion vector probability updates.
	header.writeLiteral(0, 1);
	header.writeLiteral(0, 1);
	for (const component of mvUpdateProbabilities) for (const p of component) header.writeBool(p, false);
	// §19.3: each macroblock skipped, inter, from the last frame, ZEROMV. The ZEROMV branch's probability depends on
	// how many neighbours (above ×2, left ×2, above-left ×1; outside the picture none) are inter with a zero vector,
	// which in this frame they all are.
	for (let row = 0; row < rows; row++) {
		for (let column = 0; column < columns; column++) {
			header.writeBool(skipFalseProbability, true);
			header.writeBool(intraProbability, true);
			header.writeBool(lastProbability, false);
			const zeroNeighbours = (row > 0 ? 2 : 0) + (column > 0 ? 2 : 0) + (row > 0 && column > 0 ? 1 : 0);
			header.writeBool(zeroMvProbability[zeroNeighbours]!, false);
		}
	}
	const first = header.finish();
	// The token partition: empty (every macroblock is skipped), but a decoder expects at least a byte.
	const tokens = new BoolEncoder().finish();
	// §9.1: the 3-byte frame tag — interframe, version, shown, first partition size.
	const tag = (first.length << 5) | (1 << 4) | (version << 1) | 1;
	return Buffer.concat([Buffer.from([tag & 0xff, (tag >> 8) & 0xff, (tag >> 16) & 0xff]), first, tokens]);
}

/**
 * The probabilities of a 0 bit the header sends for "not skipped", "intra" and "last frame": set so that what every
 * macroblock of this frame says (skipped, inter, from the last frame) costs almost nothing.
 */
const skipFalseProbability = 1;
const intraProbability = 1;
const lastProbability = 255;
/** RFC 6386 §16.3 `vp8_mode_contexts[n][0]`: the ZEROMV branch's probability with n zero-vector neighbour weights. */
const zeroMvProbability = [7, 14, 135, 60, 159, 234];

/** RFC 6386 §17.2 `vp8_mv_update_probs`: the chance each motion vector probability is not updated (row, column). */
const mvUpdateProbabilities = [
	[237, 246, 253, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 250, 250, 252, 254, 254],
	[231, 243, 245, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 251, 251, 254, 254, 254],
];

/** RFC 6386 §13.4 `coeff_update_probs[4][8][3][11]`: the chance each token probability is not updated. */
const coefficientUpdateProbabilities: readonly (readonly (readonly (readonly number[])[])[])[] = [
	[
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[176, 246, 255, 255, 255, 255, 255, 255, 255, 255, 255], [223, 241, 252, 255, 255, 255, 255, 255, 255, 255, 255], [249, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 244, 252, 255, 255, 255, 255, 255, 255, 255, 255], [234, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 246, 254, 255, 255, 255, 255, 255, 255, 255, 255], [239, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255], [251, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [251, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 253, 255, 254, 255, 255, 255, 255, 255, 255], [250, 255, 254, 255, 254, 255, 255, 255, 255, 255, 255], [254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
	],
	[
		[[217, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [225, 252, 241, 253, 255, 255, 254, 255, 255, 255, 255], [234, 250, 241, 250, 253, 255, 253, 254, 255, 255, 255]],
		[[255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255], [223, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [238, 253, 254, 254, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255], [249, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 253, 255, 255, 255, 255, 255, 255, 255, 255, 255], [247, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [252, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255], [250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
	],
	[
		[[186, 251, 250, 255, 255, 255, 255, 255, 255, 255, 255], [234, 251, 244, 254, 255, 255, 255, 255, 255, 255, 255], [251, 251, 243, 253, 254, 255, 254, 255, 255, 255, 255]],
		[[255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [236, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [251, 253, 253, 254, 254, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255], [254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
	],
	[
		[[248, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [250, 254, 252, 254, 255, 255, 255, 255, 255, 255, 255], [248, 254, 249, 253, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255], [246, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255], [252, 254, 251, 254, 254, 255, 255, 255, 255, 255, 255]],
		[[255, 254, 252, 255, 255, 255, 255, 255, 255, 255, 255], [248, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255], [253, 255, 254, 254, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255], [245, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255], [253, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 251, 253, 255, 255, 255, 255, 255, 255, 255, 255], [252, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255], [255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 252, 255, 255, 255, 255, 255, 255, 255, 255, 255], [249, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 253, 255, 255, 255, 255, 255, 255, 255, 255], [250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
		[[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]],
	],
];
