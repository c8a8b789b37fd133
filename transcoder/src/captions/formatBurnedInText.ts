/** Who said what, as burned-in captions show it: the latest utterance of the latest speaker. */
export interface BurnedInLine {
	speakerName: string;
	text: string;
}

export interface BurnedInLayout {
	/** Characters that fit on one line at the caption font size. */
	maxLineChars: number;
	/** Lines on screen at most. Default 2. */
	maxLines?: number;
}

/**
 * The text drawn onto the picture: `Name: words…` wrapped at word boundaries into lines of at most `maxLineChars`,
 * keeping only the last `maxLines` lines (the newest words: a long utterance scrolls up). Control characters and
 * line breaks in names and text are removed, so the file drawtext reads holds exactly the lines made here; drawtext
 * reads it with `expansion=none`, so no other character is special. Overlong words are cut.
 */
export function formatBurnedInText(line: BurnedInLine | undefined, layout: BurnedInLayout): string {
	if (!line) return '';
	const maxLines = layout.maxLines ?? 2;
	const width = Math.max(8, Math.floor(layout.maxLineChars));
	const name = clean(line.speakerName) || 'Speaker';
	const words = [`${[...name].slice(0, 24).join('')}:`, ...clean(line.text).split(' ').filter((w) => w !== '')];
	const lines: string[] = [];
	let current = '';
	for (const raw of words) {
		const word = [...raw].length > width ? `${[...raw].slice(0, width - 1).join('')}…` : raw;
		const candidate = current === '' ? word : `${current} ${word}`;
		if ([...candidate].length <= width) {
			current = candidate;
		} else {
			lines.push(current);
			current = word;
		}
	}
	if (current !== '') lines.push(current);
	return lines.slice(-maxLines).join('\n');
}

function clean(text: string): string {
	// eslint-disable-next-line no-control-regex
	return text.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Caption size on a canvas: readable from a phone (1/24 of the height), lines filling 90 % of the width at most. */
export function burnedInCaptionStyle(canvas: { width: number; height: number }): { fontSize: number; maxLineChars: number; marginPx: number } {
	const fontSize = Math.max(14, Math.round(canvas.height / 24));
	// DejaVu Sans averages about 0.55 em per character in running text; 0.6 leaves room for wide letters.
	const maxLineChars = Math.max(8, Math.floor((canvas.width * 0.9) / (fontSize * 0.6)));
	return { fontSize, maxLineChars, marginPx: Math.round(fontSize * 1.5) };
}
