import { get } from '../origin/support/fetchText.js';
import { parseMediaPlaylist } from '../origin/support/parsePlaylist.js';

/** A cue of a WebVTT segment as a player shows it: media times, the `<v>` voice and the text, unescaped. */
export interface SubtitleCue {
	startS: number;
	endS: number;
	voice: string;
	text: string;
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const seconds = (t: string): number => t.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);

/** The voiced cues of one WebVTT segment as Tribune writes them (`<v Name>text</v>`, see WebVttSegmenter). */
export function parseVttCues(vtt: string): SubtitleCue[] {
	const cues: SubtitleCue[] = [];
	for (const block of vtt.split('\n\n')) {
		const [timing, ...body] = block.split('\n');
		const times = /^(\S+) --> (\S+)/.exec(timing ?? '');
		const voiced = /^<v ([^>]*)>(.*)<\/v>$/s.exec(body.join('\n'));
		if (times && voiced) cues.push({ startS: seconds(times[1]!), endS: seconds(times[2]!), voice: unescape(voiced[1]!), text: unescape(voiced[2]!) });
	}
	return cues;
}

/**
 * A live subtitles rendition read from the origin as a listener's player reads it: each complete segment once, in
 * order, and each cue once, with when it was first seen. A cue is repeated in every segment its time reaches, each
 * segment placing it by its own capture time, so its copies can start a few milliseconds apart: a cue with the voice
 * and text of one seen within `sameCueS` of its start is taken for that one.
 */
export class SubtitleTrack {
	readonly cues: (SubtitleCue & { seenAt: number })[] = [];
	readonly #playlistUrl: string;
	readonly #sameCueS: number;
	#lastMsn = -1;

	/** `playlistUrl`: the rendition's media playlist, e.g. `<origin>/hls/<spaceId>/subs/index.m3u8`. */
	constructor(playlistUrl: string, options: { sameCueS?: number } = {}) {
		this.#playlistUrl = playlistUrl;
		this.#sameCueS = options.sameCueS ?? 0.5;
	}

	/** Fetches the segments completed since the last call; returns every cue seen so far. */
	async read(): Promise<readonly (SubtitleCue & { seenAt: number })[]> {
		const playlist = await get(this.#playlistUrl);
		// Not there yet: the broadcast has not started packaging.
		if (playlist.status !== 200) return this.cues;
		const complete = parseMediaPlaylist(playlist.text).segments.filter((s) => s.uri !== undefined && s.msn > this.#lastMsn);
		for (const segment of complete) {
			const vtt = await get(new URL(segment.uri!, this.#playlistUrl).href);
			if (vtt.status !== 200) throw new Error(`subtitle segment ${segment.uri}: ${vtt.status}`);
			const seenAt = Date.now();
			for (const cue of parseVttCues(vtt.text)) {
				const seen = this.cues.some((c) => c.voice === cue.voice && c.text === cue.text && Math.abs(c.startS - cue.startS) < this.#sameCueS);
				if (!seen) this.cues.push({ ...cue, seenAt });
			}
			this.#lastMsn = segment.msn;
		}
		return this.cues;
	}
}
