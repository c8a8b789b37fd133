import { wallClockToMediaS } from '../captions/mediaTimeMapping.js';

/** One caption, in the media timeline of the stream (the fMP4 `tfdt` clock), seconds. */
export interface Cue {
	startS: number;
	endS: number;
	text: string;
	/** Who speaks: the cue is written as a WebVTT voice span, `<v Speaker Name>text</v>`. */
	voice?: string;
}

/** One caption on the wall clock (ms since the epoch), placed on each segment's media time by its program-date-time. */
export interface WallClockCue {
	startMs: number;
	endMs: number;
	text: string;
	voice?: string;
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
	#wallClockCues: WallClockCue[] = [];

	/** Queues a cue; it appears in every segment it overlaps. Cues must arrive before their segment closes. */
	add(cue: Cue): void {
		if (!(cue.endS > cue.startS)) throw new Error('cue must end after it starts');
		this.#cues.push(cue);
	}

	/**
	 * Queues a wall-clock cue; it appears in every later segment whose wall-clock span it overlaps, timed on that
	 * segment's run (see `wallClockToMediaS`), so it stays right across discontinuities. A cue that arrives after
	 * the segments where it began still lands in those it reaches.
	 */
	addWallClock(cue: WallClockCue): void {
		if (!(cue.endMs > cue.startMs)) throw new Error('cue must end after it starts');
		this.#wallClockCues.push(cue);
	}

	/**
	 * The WebVTT file for the segment covering media time [startS, startS + durationS), which began at wall-clock
	 * `pdtMs` (needed for wall-clock cues). Cues that end before the segment are forgotten: segments close in order.
	 */
	segment(startS: number, durationS: number, pdtMs?: number): string {
		const endS = startS + durationS;
		this.#cues = this.#cues.filter((cue) => cue.endS > startS);
		const cues = this.#cues.filter((cue) => cue.startS < endS);
		if (pdtMs !== undefined) {
			const endMs = pdtMs + durationS * 1000;
			this.#wallClockCues = this.#wallClockCues.filter((cue) => cue.endMs > pdtMs);
			for (const cue of this.#wallClockCues) {
				if (cue.startMs >= endMs) continue;
				const clock = { startMediaS: startS, pdtMs };
				cues.push({ startS: wallClockToMediaS(cue.startMs, clock), endS: wallClockToMediaS(cue.endMs, clock), text: cue.text, ...(cue.voice !== undefined && { voice: cue.voice }) });
			}
			cues.sort((a, b) => a.startS - b.startS);
		}
		return renderWebVtt(startS, cues);
	}
}

/** A WebVTT file whose LOCAL zero instant is `anchorS` on the media timeline. */
export function renderWebVtt(anchorS: number, cues: readonly Cue[]): string {
	const mpegTs = Math.round(anchorS * mpegTsHz);
	const lines = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${mpegTs},LOCAL:${vttTime(anchorS)}`, ''];
	for (const cue of cues) {
		const text = escapeCueText(cue.text);
		const spoken = cue.voice === undefined ? text : `<v ${escapeVoice(cue.voice)}>${text}</v>`;
		lines.push(`${vttTime(cue.startS)} --> ${vttTime(cue.endS)}`, ...spoken.split('\n'), '');
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

/**
 * A speaker's name as a voice annotation: markup escaped like cue text, on one line, and no `>` (it would end the
 * tag). An empty name still yields a valid span.
 */
function escapeVoice(name: string): string {
	// eslint-disable-next-line no-control-regex
	const oneLine = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
	return (oneLine || 'Speaker').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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
