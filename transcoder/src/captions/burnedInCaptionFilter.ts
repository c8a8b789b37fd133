import { burnedInCaptionStyle } from './formatBurnedInText.js';

/**
 * The drawtext filter that burns captions into the composite: the text of `captionsFile` (see `BurnedInCaptions`),
 * reloaded on every frame (`reload=1`; the file is replaced atomically, so a frame never reads half of it), centred
 * near the bottom in white on a dark translucent box, at the size `burnedInCaptionStyle` wraps for. The captions
 * never enter the graph: they reach ffmpeg only as file content, read with `expansion=none`. An empty file draws
 * nothing (no box either), so the filter can stay in the graph whatever the caption mode.
 */
export function burnedInCaptionFilter(fontFile: string, captionsFile: string, canvas: { width: number; height: number }): string {
	for (const [what, value] of [['fontFile', fontFile], ['captionsFile', captionsFile]] as const) {
		// Tribune makes these paths itself; anything else would need filter escaping, so refuse it.
		if (!/^[A-Za-z0-9_./-]+$/.test(value) || value.includes('..')) throw new Error(`burnedInCaptionFilter: ${what} ${JSON.stringify(value)} has characters ffmpeg filters would need escaped`);
	}
	const { fontSize, marginPx } = burnedInCaptionStyle(canvas);
	return (
		`drawtext@captions=fontfile=${fontFile}:textfile=${captionsFile}:reload=1:expansion=none:fontsize=${fontSize}:fontcolor=white:` +
		`line_spacing=${Math.round(fontSize / 4)}:box=1:boxcolor=black@0.75:boxborderw=${Math.round(fontSize / 3)}:` +
		`x=(w-text_w)/2:y=h-text_h-${marginPx}`
	);
}
