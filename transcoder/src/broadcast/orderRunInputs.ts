/** A standing encode's inputs in ffmpeg's SDP, and the stream index each got (see {@link orderRunInputs}). */
export interface RunInputs<T> {
	/** The SDP's streams, in order. */
	streams: T[];
	/** Each slot's stream indices, as `SlotAssignment.streams`. */
	slots: { audio: number; video?: number }[];
	/** The screen share's stream indices, as `SlotAssignment.screen`. */
	screen?: { audio: number; video: number };
}

/**
 * Puts a run's inputs in the order ffmpeg's SDP lists them: every sound (each slot's voice, then the share's sound)
 * before every picture (each slot's camera, then the share's picture).
 *
 * ffmpeg's RTP input reads, each time, one packet from the first of its sockets in the SDP's order that has one
 * waiting. On a machine too busy for ffmpeg to keep up, the sockets listed first are drained first and the last ones
 * wait. The mix needs every voice and the share's sound up to an instant before it can put that instant out, and each
 * muxed rendition holds its pictures until its sound reaches them; listed slot by slot, with the share's sound last, the
 * sound held every rendition back (in `bench:pressure`, with load arriving on air, the sound fell 1.5 s behind the
 * picture before a starved shed, and the run stopped then lost that much more sound than picture). The sounds are a
 * few small packets every 20 ms: read first, they cost the pictures little.
 */
export function orderRunInputs<T>(slots: readonly { voice: T; camera?: T }[], screen?: { sound: T; picture: T }): RunInputs<T> {
	const sounds = [...slots.map((slot) => slot.voice), ...(screen ? [screen.sound] : [])];
	const pictures: T[] = [];
	const placed = slots.map((slot, index) => {
		if (slot.camera === undefined) return { audio: index };
		pictures.push(slot.camera);
		return { audio: index, video: sounds.length + pictures.length - 1 };
	});
	if (!screen) return { streams: [...sounds, ...pictures], slots: placed };
	pictures.push(screen.picture);
	return { streams: [...sounds, ...pictures], slots: placed, screen: { audio: slots.length, video: sounds.length + pictures.length - 1 } };
}
