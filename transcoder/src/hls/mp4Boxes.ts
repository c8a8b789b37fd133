/** A box found inside another: its type and the byte range of its payload (after the header). */
export interface ChildBox {
	type: string;
	/** The whole box, header included. */
	box: Buffer;
	/** The payload, after the 8- or 16-byte header. */
	payload: Buffer;
}

/** The boxes directly inside `payload`. Truncated or malformed children end the list instead of throwing. */
export function childBoxes(payload: Buffer): ChildBox[] {
	const children: ChildBox[] = [];
	let offset = 0;
	while (offset + 8 <= payload.length) {
		let size = payload.readUInt32BE(offset);
		let header = 8;
		if (size === 1) {
			if (offset + 16 > payload.length) break;
			size = Number(payload.readBigUInt64BE(offset + 8));
			header = 16;
		} else if (size === 0) {
			size = payload.length - offset;
		}
		if (size < header || offset + size > payload.length) break;
		const box = payload.subarray(offset, offset + size);
		children.push({ type: box.toString('latin1', 4, 8), box, payload: box.subarray(header) });
		offset += size;
	}
	return children;
}

/** The payload of the first box at `path` (e.g. `['trak', 'mdia', 'mdhd']`) below `payload`, if any. */
export function findBox(payload: Buffer, path: readonly string[]): Buffer | undefined {
	let current: Buffer | undefined = payload;
	for (const type of path) {
		if (!current) return undefined;
		current = childBoxes(current).find((child) => child.type === type)?.payload;
	}
	return current;
}

/** Every box of `type` directly inside `payload`. */
export function findBoxes(payload: Buffer, type: string): Buffer[] {
	return childBoxes(payload)
		.filter((child) => child.type === type)
		.map((child) => child.payload);
}

/** The payload of a whole top-level box (header skipped). */
export function boxPayload(box: Buffer): Buffer {
	return box.readUInt32BE(0) === 1 ? box.subarray(16) : box.subarray(8);
}
