import fs from 'node:fs/promises';

/** The frames of an IVF file (a 32-byte header, then each frame after a 12-byte size-and-timestamp header). */
export function readIvfFrames(file: Buffer): Buffer[] {
	const frames: Buffer[] = [];
	for (let at = file.readUInt16LE(6); at + 12 <= file.length; ) {
		const size = file.readUInt32LE(at);
		frames.push(file.subarray(at + 12, at + 12 + size));
		at += 12 + size;
	}
	return frames;
}

/** Writes VP8 frames as an IVF file of this picture size (frame n stamped n), for ffmpeg to decode. */
export async function writeIvf(file: string, frames: readonly Buffer[], size: { width: number; height: number }): Promise<string> {
	const header = Buffer.alloc(32);
	header.write('DKIF', 0);
	header.writeUInt16LE(32, 6);
	header.write('VP80', 8);
	header.writeUInt16LE(size.width, 12);
	header.writeUInt16LE(size.height, 14);
	header.writeUInt32LE(25, 16);
	header.writeUInt32LE(1, 20);
	header.writeUInt32LE(frames.length, 24);
	const parts: Buffer[] = [header];
	frames.forEach((frame, index) => {
		const frameHeader = Buffer.alloc(12);
		frameHeader.writeUInt32LE(frame.length, 0);
		frameHeader.writeBigUInt64LE(BigInt(index), 4);
		parts.push(frameHeader, frame);
	});
	await fs.writeFile(file, Buffer.concat(parts));
	return file;
}
