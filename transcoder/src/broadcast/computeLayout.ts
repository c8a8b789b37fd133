import { burnedInCaptionStyle } from '../captions/formatBurnedInText.js';

/** One person on stage, as the compositor sees them. */
export interface StageSpeaker {
	id: string;
	/** Display name, untrusted user text. */
	name: string;
	/** Whether a camera stream is being received for this speaker. */
	video: boolean;
	muted: boolean;
}

/** What is on stage at one moment. */
export interface StageSnapshot {
	/** Speakers in stage order (join order); pinned ones are taken out and put on top. */
	speakers: readonly StageSpeaker[];
	/** Pinned speaker ids, in the order the host set. Ids not on stage are ignored. */
	pinned: readonly string[];
	activeSpeakerId?: string | undefined;
	/**
	 * Who shares their screen, if anyone: the stage is drawn in the presentation layout (see `computeLayout`) while the
	 * share lasts.
	 */
	screen?: { speakerId: string } | undefined;
	/**
	 * Whether burned-in captions may be drawn (the space's caption mode has them): the presentation layout then keeps
	 * their band at the bottom free, so captions never cover the share.
	 */
	burnedInCaptions?: boolean | undefined;
}

/** A rectangle in output pixels; every value is even, as 4:2:0 video needs. */
export interface Rect {
	x: number;
	y: number;
	width: number;
	height: number;
}

export interface Tile extends Rect {
	speakerId: string;
	name: string;
	/** One or two letters shown on tiles without video. */
	initials: string;
	pinned: boolean;
	video: boolean;
	muted: boolean;
	active: boolean;
	/** Stereo position from -1 (left) to 1 (right), following the tile's horizontal centre. */
	pan: number;
}

/** Where a screen share is drawn: the box its picture is fitted into (letterboxed), and who shares. */
export interface ScreenArea extends Rect {
	speakerId: string;
}

export interface Layout {
	width: number;
	height: number;
	tiles: Tile[];
	/** The share's box in the presentation layout; absent when nobody shares. */
	screen?: ScreenArea;
}

export interface LayoutOptions {
	width: number;
	height: number;
	/** Space between tiles and around the edges, in pixels. Default 16. */
	gapPx?: number;
	/** Share of the height the pinned row takes when others are on stage too. Default 0.6, so pinned tiles stay the largest. */
	pinnedShare?: number;
	/** How far the outermost speakers are panned (0 = mono, 1 = hard left/right). Default 0.8. */
	panSpread?: number;
	/** Presentation layout: share of the width the speakers' strip takes beside the share. Default 0.15. */
	stripShare?: number;
	/** Presentation layout: speakers in the strip at most (pinned first, then the active speaker, then the sharer). Default 4. */
	maxStripTiles?: number;
}

/**
 * Places the stage on a canvas: pinned speakers in one row on top in the host's order, everyone else in a grid
 * below in stage order, each tile 16:9 where it fits. Pure: the same snapshot always gives the same layout, so a
 * change on stage can be diffed against the layout on air.
 */
export function computeLayout(stage: StageSnapshot, options: LayoutOptions): Layout {
	const { width, height } = options;
	if (!isEvenPositive(width) || !isEvenPositive(height)) throw new RangeError(`computeLayout: canvas ${width}x${height} must be even and positive`);
	const gap = options.gapPx ?? 16;
	const spread = options.panSpread ?? 0.8;
	const byId = new Map(stage.speakers.map((s) => [s.id, s]));
	const pinnedIds = [...new Set(stage.pinned)].filter((id) => byId.has(id));
	if (stage.screen) return presentationLayout(stage, stage.screen.speakerId, pinnedIds, options);
	const pinned = pinnedIds.map((id) => byId.get(id)!);
	const others = stage.speakers.filter((s) => !pinnedIds.includes(s.id));

	const split = pinned.length > 0 && others.length > 0;
	const pinnedHeight = pinned.length === 0 ? 0 : split ? even(height * (options.pinnedShare ?? 0.6)) : height;
	// The pinned row and the grid share the gap between them.
	const othersTop = split ? pinnedHeight - gap : 0;
	const rects = [
		...gridRects(pinned.length, { x: 0, y: 0, width, height: pinnedHeight }, gap, 1),
		...gridRects(others.length, { x: 0, y: othersTop, width, height: height - othersTop }, gap),
	];
	const tiles = [...pinned, ...others].map((speaker, i): Tile => {
		const rect = rects[i]!;
		const centre = (rect.x + rect.width / 2) / width;
		return {
			...rect,
			speakerId: speaker.id,
			name: speaker.name,
			initials: initialsOf(speaker.name),
			pinned: i < pinned.length,
			video: speaker.video,
			muted: speaker.muted,
			active: speaker.id === stage.activeSpeakerId,
			pan: round2((centre * 2 - 1) * spread),
		};
	});
	return { width, height, tiles };
}

/**
 * The presentation layout, while someone shares their screen: the share's box as large as the canvas allows beside a
 * strip of speakers on the right (16:9 tiles stacked from the top: pinned speakers in the host's order, then the active
 * speaker, then the sharer; as many as fit, at most `maxStripTiles`). Everyone else stays in the mix without a tile.
 * Names are drawn inside the strip's tiles and, with burned-in captions, the captions' band at the bottom is kept
 * free, so neither covers the share. Voices are all in the middle of the stereo field (the strip is one column).
 */
function presentationLayout(stage: StageSnapshot, sharerId: string, pinnedIds: readonly string[], options: LayoutOptions): Layout {
	const { width, height } = options;
	// The share gets the room: half the grid's gaps.
	const gap = Math.max(2, even((options.gapPx ?? 16) / 2));
	const onStage = new Set(stage.speakers.map((s) => s.id));
	const stripIds = [...new Set([...pinnedIds, stage.activeSpeakerId, sharerId])].filter((id): id is string => id !== undefined && onStage.has(id));
	const stripWidth = stripIds.length > 0 ? even(width * (options.stripShare ?? 0.15)) : 0;
	const bottom = height - gap - (stage.burnedInCaptions ? captionBandPx({ width, height }) : 0);
	// The largest 16:9 box left of the strip and above the captions' band.
	const roomW = width - 2 * gap - (stripWidth > 0 ? stripWidth + gap : 0);
	const roomH = bottom - gap;
	const shareW = even(Math.min(roomW, (roomH * 16) / 9));
	const shareH = even(Math.min(roomH, (shareW * 9) / 16));
	const screen: ScreenArea = { x: gap + evenDown((roomW - shareW) / 2), y: gap + evenDown((roomH - shareH) / 2), width: shareW, height: shareH, speakerId: sharerId };
	const tileH = even((stripWidth * 9) / 16);
	const fit = tileH > 0 ? Math.floor((roomH + gap) / (tileH + gap)) : 0;
	const shown = stripIds.slice(0, Math.max(0, Math.min(fit, options.maxStripTiles ?? 4)));
	// The strip starts level with the share's top, unless it would then run into the captions' band.
	const stackH = shown.length * (tileH + gap) - gap;
	const top = screen.y + stackH <= bottom ? screen.y : gap;
	const byId = new Map(stage.speakers.map((s) => [s.id, s]));
	const tiles = shown.map((id, i): Tile => {
		const speaker = byId.get(id)!;
		return {
			x: width - gap - stripWidth,
			y: top + i * (tileH + gap),
			width: stripWidth,
			height: tileH,
			speakerId: id,
			name: speaker.name,
			initials: initialsOf(speaker.name),
			pinned: pinnedIds.includes(id),
			video: speaker.video,
			muted: speaker.muted,
			active: id === stage.activeSpeakerId,
			pan: 0,
		};
	});
	return { width, height, tiles, screen };
}

/**
 * Height the burned-in captions can take at the bottom of a canvas: two lines at their font size, their box and their
 * margin (see `burnedInCaptionStyle`), rounded up to even.
 */
export function captionBandPx(canvas: { width: number; height: number }): number {
	const { fontSize, marginPx } = burnedInCaptionStyle(canvas);
	// drawtext's text_h spans the font's ascent to descent: about 1.2 em a line, a quarter em between lines; the box
	// border is a third of an em (see burnedInCaptionFilter).
	return Math.ceil((marginPx + 2 * 1.2 * fontSize + fontSize / 4 + fontSize / 3) / 2) * 2;
}

/** Lays `count` tiles in `area` (inside a `gap` margin) on the grid that makes them largest; `maxRows` caps rows. */
function gridRects(count: number, area: Rect, gap: number, maxRows = Infinity): Rect[] {
	if (count === 0) return [];
	let best = { cols: count, rows: 1, tileW: 0, tileH: 0 };
	for (let rows = 1; rows <= Math.min(count, maxRows); rows++) {
		const cols = Math.ceil(count / rows);
		const cellW = (area.width - gap * (cols + 1)) / cols;
		const cellH = (area.height - gap * (rows + 1)) / rows;
		// Largest 16:9 tile inside the cell.
		const tileW = Math.min(cellW, (cellH * 16) / 9);
		if (tileW > best.tileW) best = { cols, rows, tileW, tileH: (tileW * 9) / 16 };
	}
	const tileW = even(best.tileW);
	const tileH = even(best.tileH);
	const rects: Rect[] = [];
	for (let row = 0; row < best.rows; row++) {
		const inRow = Math.min(best.cols, count - row * best.cols);
		// Centre each row, and the block of rows, in the area.
		const rowWidth = inRow * tileW + (inRow - 1) * gap;
		const blockHeight = best.rows * tileH + (best.rows - 1) * gap;
		const x0 = area.x + (area.width - rowWidth) / 2;
		const y = area.y + (area.height - blockHeight) / 2 + row * (tileH + gap);
		for (let col = 0; col < inRow; col++) rects.push({ x: even(x0 + col * (tileW + gap)), y: even(y), width: tileW, height: tileH });
	}
	return rects;
}

/** First letters of the first and last words, upper-cased; `?` for a name without letters or digits. */
export function initialsOf(name: string): string {
	const words = name.normalize('NFC').match(/[\p{L}\p{N}][\p{L}\p{N}\p{M}'’-]*/gu) ?? [];
	if (words.length === 0) return '?';
	const first = [...words[0]!][0]!;
	const last = words.length > 1 ? [...words.at(-1)!][0]! : '';
	return (first + last).toLocaleUpperCase();
}

function even(value: number): number {
	return Math.max(2, Math.floor(value / 2) * 2);
}

/** Rounded down to even, 0 allowed (offsets, where `even`'s floor of 2 would shift a box). */
function evenDown(value: number): number {
	return Math.max(0, Math.floor(value / 2) * 2);
}

function isEvenPositive(value: number): boolean {
	return Number.isInteger(value) && value > 0 && value % 2 === 0;
}

/** Two decimals: finer than anyone hears, and free of the pixel rounding that would put a centred tile at -0.001. */
function round2(value: number): number {
	return Math.round(value * 100) / 100 + 0; // + 0 turns -0 into 0
}
