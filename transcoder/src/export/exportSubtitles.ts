/**
 * The WebVTT the MP4 export muxes as its `mov_text` subtitle track, made from the replay's `transcript.vtt`.
 *
 * ffmpeg's WebVTT decoder drops voice spans (`<v Ann>`) with every other tag it does not render, so the speaker's
 * name would vanish from the MP4's captions; each cue's voice span becomes a plain `Ann: ` prefix instead. Cue
 * timings and everything else pass through as they are.
 */
export function subtitlesForExport(transcriptVtt: string): string {
	return transcriptVtt
		.replace(/^\uFEFF/, '')
		.split(/\r?\n/)
		.map((line) => line.replace(/<v(?:\.[^\s>]*)?\s+([^>]*)>/g, (_span, name: string) => `${name.trim()}: `).replace(/<\/v>/g, ''))
		.join('\n');
}
