import { boxPayload, childBoxes, findBox, findBoxes } from './mp4Boxes.js';

/** One track of an fMP4 init section, as the packager needs it. */
export interface TrackInfo {
	trackId: number;
	kind: 'video' | 'audio' | 'other';
	/** Ticks per second of this track's `tfdt` and sample durations. */
	timescale: number;
	/** RFC 6381 codec string for `CODECS` (`avc1.64001f`, `mp4a.40.2`), or undefined if the entry is unknown. */
	codec: string | undefined;
	width?: number;
	height?: number;
	/** `trex` defaults, used when a fragment's `tfhd` does not override them. */
	defaultSampleDuration: number;
	defaultSampleFlags: number;
}

/** What an init section (`ftyp`+`moov`) says about the stream. */
export interface InitSection {
	bytes: Buffer;
	tracks: TrackInfo[];
}

/** Reads the tracks of an init section from its `moov` box. Throws when there is no usable track. */
export function parseInitSection(ftyp: Buffer, moov: Buffer): InitSection {
	const moovPayload = boxPayload(moov);
	const trexById = new Map<number, { duration: number; flags: number }>();
	for (const trex of findBoxes(findBox(moovPayload, ['mvex']) ?? Buffer.alloc(0), 'trex')) {
		trexById.set(trex.readUInt32BE(4), { duration: trex.readUInt32BE(12), flags: trex.readUInt32BE(20) });
	}
	const tracks = findBoxes(moovPayload, 'trak').map((trak) => readTrack(trak, trexById));
	if (tracks.length === 0) throw new Error('init section has no track');
	return { bytes: Buffer.concat([ftyp, moov]), tracks };
}

function readTrack(trak: Buffer, trexById: Map<number, { duration: number; flags: number }>): TrackInfo {
	const tkhd = findBox(trak, ['tkhd']);
	const mdhd = findBox(trak, ['mdia', 'mdhd']);
	const hdlr = findBox(trak, ['mdia', 'hdlr']);
	if (!tkhd || !mdhd || !hdlr) throw new Error('trak without tkhd/mdhd/hdlr');
	const trackId = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
	const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
	const handler = hdlr.toString('latin1', 8, 12);
	const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
	const stsd = findBox(trak, ['mdia', 'minf', 'stbl', 'stsd']);
	const entry = stsd ? childBoxes(stsd.subarray(8))[0] : undefined;
	const trex = trexById.get(trackId) ?? { duration: 0, flags: 0 };
	const track: TrackInfo = { trackId, kind, timescale, codec: undefined, defaultSampleDuration: trex.duration, defaultSampleFlags: trex.flags };
	if (entry && kind === 'video') {
		track.width = entry.payload.readUInt16BE(24);
		track.height = entry.payload.readUInt16BE(26);
		track.codec = videoCodec(entry.type, entry.payload.subarray(78));
	} else if (entry && kind === 'audio') {
		track.codec = audioCodec(entry.type, entry.payload.subarray(28));
	}
	return track;
}

/** `avc1.PPCCLL` from the avcC record (RFC 6381 §3.3). */
function videoCodec(type: string, children: Buffer): string | undefined {
	if (type !== 'avc1' && type !== 'avc3') return undefined;
	const avcC = findBox(children, ['avcC']);
	if (!avcC || avcC.length < 4) return undefined;
	return `${type}.${avcC.subarray(1, 4).toString('hex')}`;
}

/** `mp4a.40.<audio object type>` from the esds DecoderConfigDescriptor (ISO 14496-1 §7.2.6). */
function audioCodec(type: string, children: Buffer): string | undefined {
	if (type !== 'mp4a') return undefined;
	const esds = findBox(children, ['esds']);
	if (!esds) return undefined;
	let offset = 4; // version + flags
	const descriptor = (): { tag: number; size: number } => {
		const tag = esds[offset++] ?? 0;
		let size = 0;
		for (let i = 0; i < 4; i++) {
			const byte = esds[offset++] ?? 0;
			size = (size << 7) | (byte & 0x7f);
			if ((byte & 0x80) === 0) break;
		}
		return { tag, size };
	};
	if (descriptor().tag !== 0x03) return undefined;
	const esFlags = esds[offset + 2] ?? 0;
	offset += 3;
	if (esFlags & 0x80) offset += 2; // dependsOn_ES_ID
	if (esFlags & 0x40) offset += 1 + (esds[offset] ?? 0); // URL
	if (esFlags & 0x20) offset += 2; // OCR_ES_Id
	if (descriptor().tag !== 0x04) return undefined;
	const objectType = esds[offset] ?? 0;
	offset += 13;
	if (objectType !== 0x40) return `mp4a.${objectType.toString(16)}`;
	if (descriptor().tag !== 0x05) return 'mp4a.40.2';
	return `mp4a.40.${(esds[offset] ?? 0x10) >> 3}`;
}
