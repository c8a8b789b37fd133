/** One caption, in the media timeline of the stream (the fMP4 `tfdt` clock), seconds. */
export interface Cue {
	startS: number;
	endS: number;
	text: string;
}

/** The 90 kHz clock of X-TIMESTAMP-MAP (RFC 8216bis §3.1.4). */
const mpegTsHz = 90_000;

/**
 * Cuts cues into WebVTT segments aligned with the media segments. Each segment file maps its first instant to the
 * media timeline with X-TIMESTAMP-MAP (MPEGTS in 90 kHz units of the fMP4 timeline, LOCAL at the same instant), so
 * a player places cues by the same clock as the audio and video.
 */
export class WebVttSegmenter {
	#cues: Cue[] = [];

	/** Queues a cue; it appears in every segment it overlaps. Cues must arrive before their segment closes. */
	add(cue: Cue): void {
		if (!(cue.endS > cue.startS)) throw new Error('cue must end after it starts');
		this.#cues.push(cue);
	}

	/**
	 * The WebVTT file for the segment covering media time [startS, startS + durationS). Cues that end before the
	 * segment are forgotten: segments close in order.
	 */
	segment(startS: number, durationS: number): string {
		const endS = startS + durationS;
		this.#cues = this.#cues.filter((cue) => cue.endS > startS);
		const cues = this.#cues.filter((cue) => cue.startS < endS);
		return renderWebVtt(startS, cues);
	}
}

/** A WebVTT file whose LOCAL zero instant is `anchorS` on the media timeline. */
export function renderWebVtt(anchorS: number, cues: readonly Cue[]): string {
	const mpegTs = Math.round(anchorS * mpegTsHz);
	const lines = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${mpegTs},LOCAL:${vttTime(anchorS)}`, ''];
	for (const cue of cues) {
		lines.push(`${vttTime(cue.startS)} --> ${vttTime(cue.endS)}`, ...escapeCueText(cue.text).split('\n'), '');
	}
	return `${lines.join('\n')}\n`;
}

/** hh:mm:ss.ttt, as WebVTT requires hours once past an hour and always accepts them. */
function vttTime(seconds: number): string {
	const totalMs = Math.max(0, Math.round(seconds * 1000));
	const ms = totalMs % 1000;
	const s = Math.floor(totalMs / 1000) % 60;
	const m = Math.floor(totalMs / 60_000) % 60;
	const h = Math.floor(totalMs / 3_600_000);
	const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
	return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms, 3)}`;
}

/** Caption text is user speech: escape WebVTT markup and drop blank lines, which would end the cue. */
function escapeCueText(text: string): string {
	return text
		.replace(/&/g, '&amp;')
		.replace(/</g, '&lt;')
		.replace(/>/g, '&gt;')
		.replace(/-->/g, '--&gt;')
		.split(/\r?\n/)
		.filter((line) => line.trim() !== '')
		.join('\n');
}
