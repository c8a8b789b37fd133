/** One rendition of a stream, as the multivariant playlist describes it. */
export interface RenditionInfo {
	/** Directory name (`v720`, `v360`, `audio`); see hlsNames. */
	name: string;
	kind: 'video' | 'audio';
	/** RFC 6381 codecs of the rendition's tracks, read from its init section. */
	codecs: string[];
	/**
	 * Peak segment bit rate, bits per second, container overhead included (BANDWIDTH): expected for a live stream,
	 * raised when a segment run measures more; measured for a replay.
	 */
	bandwidth: number;
	/** Average segment bit rate, bits per second (AVERAGE-BANDWIDTH): measured, replays only. */
	averageBandwidth?: number;
	width?: number;
	height?: number;
	frameRate?: number;
}

/** A stream as the origin needs to know it before any part arrives. */
export interface StreamDescriptor {
	streamId: string;
	partTargetMs: number;
	segmentTargetMs: number;
	/** EXT-X-TARGETDURATION, whole seconds. */
	targetDurationS: number;
	renditions: RenditionInfo[];
	/** The stream has a WebVTT subtitles rendition. */
	subtitles: boolean;
	/**
	 * Players should show the subtitles unless their user chose otherwise (DEFAULT=YES): the caption mode shows
	 * sidecar captions (live), or the subtitles carry cues (replay). Absent in descriptors of older packagers: no.
	 */
	subtitlesDefault?: boolean;
}

/**
 * What the packager tells origins, in order, per stream. Events that carry media (`init`, `part`, `vtt`) travel
 * with their bytes. Each event has a stream-wide `seq` so an origin that joins late can merge history and live
 * messages without duplicates.
 */
export type HlsEvent =
	| { type: 'stream'; seq: number; descriptor: StreamDescriptor }
	| { type: 'init'; seq: number; rendition: string; index: number }
	| {
			type: 'part';
			seq: number;
			rendition: string;
			/** Part number within the rendition (`part-<partSeq>.m4s`). */
			partSeq: number;
			msn: number;
			durationS: number;
			independent: boolean;
			/** Set on the first part of a segment. */
			segment?: { pdtMs: number; discontinuity: boolean; initIndex: number };
	  }
	| { type: 'vtt'; seq: number; msn: number; durationS: number; pdtMs: number; discontinuity: boolean }
	/**
	 * A placeholder (EXT-X-GAP) for a number a rendition skipped: after a crash or takeover a rendition that was a
	 * segment behind the others restarts with them, at one number, and each number it never reached gets a gap
	 * segment so its playlist numbering stays contiguous.
	 */
	| { type: 'gap'; seq: number; rendition: string; msn: number; durationS: number; pdtMs: number }
	| { type: 'end'; seq: number };

/** An event before the packager numbers it (distributive, so each member keeps its own fields). */
export type UnnumberedHlsEvent = HlsEvent extends infer E ? (E extends unknown ? Omit<E, 'seq'> : never) : never;

/** An event with the bytes it carries (empty for events without media). */
export interface HlsMessage {
	event: HlsEvent;
	bytes: Buffer;
}

/** Frames a message for Redis: 4-byte JSON length, the JSON, then the media bytes. */
export function encodeHlsMessage(message: HlsMessage): Buffer {
	const json = Buffer.from(JSON.stringify(message.event));
	const head = Buffer.alloc(4);
	head.writeUInt32BE(json.length, 0);
	return Buffer.concat([head, json, message.bytes]);
}

/** Reverses {@link encodeHlsMessage}. Throws on a frame that is too short to be one. */
export function decodeHlsMessage(frame: Buffer): HlsMessage {
	if (frame.length < 4) throw new Error('HLS message frame too short');
	const length = frame.readUInt32BE(0);
	if (frame.length < 4 + length) throw new Error('HLS message frame truncated');
	const event = JSON.parse(frame.toString('utf8', 4, 4 + length)) as HlsEvent;
	return { event, bytes: frame.subarray(4 + length) };
}
