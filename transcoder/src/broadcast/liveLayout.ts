import type { Layout, Tile } from './computeLayout.js';
import { displayName } from './displayName.js';

/**
 * The composite's live-controllable filters. A running encode follows a new layout of the same speakers (a pin, an
 * unpin, a new order, a mute, the active speaker) through ffmpeg's `zmq` filter instead of a restart: every tile is
 * a *slot* with named filters whose geometry, text and stereo position are set by commands. Slots are numbered by
 * speaker id, so they stay put whatever the layout does; only a change of who or which streams are on stage needs a
 * new run. `buildFfmpegPlan` draws the first layout with exactly the values `layoutCommands` would send, so the two
 * never disagree.
 */

/** One command for ffmpeg's zmq filter: `<target> <command> <arg>`. */
export interface LiveCommand {
	target: string;
	command: string;
	arg: string;
}

/** Which streams each speaker has in the encode (PlanIo.streams). */
export type SlotStreams = ReadonlyMap<string, { audio?: number; video?: number }>;

export const compositeColours = { background: '0x15171c', tile: '0x262a33', text: 'white', label: 'black@0.55', active: '0x6ee7a8' };

/** Slot number of each speaker on a layout: by id, independent of pins and order. */
export function slotsOf(layout: Layout): Map<string, number> {
	return new Map([...layout.tiles.map((t) => t.speakerId)].sort().map((id, slot) => [id, slot]));
}

/** Filter instance names of a slot. */
export const slotFilters = (slot: number) => ({
	tile: `drawbox@tile${slot}`,
	camera: `scale@cam${slot}`,
	place: `overlay@cam${slot}`,
	initials: `drawtext@initials${slot}`,
	name: `drawtext@name${slot}`,
	panLeft: `volume@panl${slot}`,
	panRight: `volume@panr${slot}`,
});

/** Whether a tile shows a camera in this encode (rather than initials). */
export function showsCamera(tile: Tile, streams: SlotStreams): boolean {
	return tile.video && streams.get(tile.speakerId)?.video !== undefined;
}

/** The camera's place in its tile: centred, letterboxed on the tile colour drawn under it. */
export function cameraPlacement(tile: Tile): { x: string; y: string } {
	return { x: `${tile.x}+(${tile.width}-overlay_w)/2`, y: `${tile.y}+(${tile.height}-overlay_h)/2` };
}

/** drawtext options (without text) of a tile's initials: a third of the tile high, centred. */
export function initialsOptions(tile: Tile): string {
	return `fontsize=${Math.round(tile.height / 3)}:x=${tile.x}+(${tile.width}-tw)/2:y=${tile.y}+(${tile.height}-th)/2`;
}

/** drawtext options (without text) of a tile's name label: bottom left, on a dark box, sized to the tile. */
export function labelOptions(tile: Tile): string {
	const size = Math.max(12, Math.min(28, Math.round(tile.height / 10)));
	return `fontsize=${size}:boxborderw=${Math.round(size / 3)}:x=${tile.x + size}:y=${tile.y + tile.height - size * 2}`;
}

/** A tile's label: the speaking dot, the name (cleaned, shortened) and the muted mark. */
export function labelText(tile: Tile): string {
	return `${tile.active ? '● ' : ''}${displayName(tile.name, tile.muted)}`;
}

/** Constant-power pan law: equal loudness anywhere in the stereo field. Gains of the left and right channel. */
export function panGains(pan: number): [string, string] {
	const angle = ((pan + 1) * Math.PI) / 4;
	return [Math.cos(angle).toFixed(4), Math.sin(angle).toFixed(4)];
}

/** The active-speaker frame: the active tile, or parked off the canvas when nobody on it talks. */
export function highlightRect(layout: Layout): { x: number; y: number; w: number; h: number } {
	const active = layout.tiles.find((t) => t.active);
	return active ? { x: active.x, y: active.y, w: active.width, h: active.height } : { x: -100, y: -100, w: 2, h: 2 };
}

/**
 * Initials as drawn inline in the filter graph: letters and digits only (what `initialsOf` makes), so they never
 * need escaping; anything else becomes `?`.
 */
export function safeInitials(initials: string): string {
	return /^[\p{L}\p{N}]{1,4}$/u.test(initials) ? initials : '?';
}

/**
 * A drawtext option value quoted for `reinit` (av_set_options_string): inside single quotes every character is
 * literal, and a quote is closed, escaped and reopened. With `expansion=none`, no `%{…}` is ever expanded.
 */
export function quoteOptionValue(value: string): string {
	return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * Every command that puts `layout` on a running composite planned for the same speakers and streams: tile boxes,
 * camera sizes and places, initials, labels, the active-speaker frame and each voice's stereo position. Pure; the
 * runner sends only the ones whose value changed since the last layout it sent.
 */
export function layoutCommands(layout: Layout, streams: SlotStreams): LiveCommand[] {
	const slots = slotsOf(layout);
	const commands: LiveCommand[] = [];
	const push = (target: string, command: string, arg: string | number): void => void commands.push({ target, command, arg: String(arg) });
	for (const tile of layout.tiles) {
		const f = slotFilters(slots.get(tile.speakerId)!);
		push(f.tile, 'x', tile.x);
		push(f.tile, 'y', tile.y);
		push(f.tile, 'w', tile.width);
		push(f.tile, 'h', tile.height);
		if (showsCamera(tile, streams)) {
			const place = cameraPlacement(tile);
			push(f.camera, 'w', tile.width);
			push(f.camera, 'h', tile.height);
			push(f.place, 'x', place.x);
			push(f.place, 'y', place.y);
		} else {
			push(f.initials, 'reinit', initialsOptions(tile));
		}
		push(f.name, 'reinit', `${labelOptions(tile)}:fontcolor=${compositeColours.text}:boxcolor=${compositeColours.label}:text=${quoteOptionValue(labelText(tile))}`);
		if (streams.get(tile.speakerId)?.audio !== undefined) {
			const [left, right] = panGains(tile.pan);
			push(f.panLeft, 'volume', left);
			push(f.panRight, 'volume', right);
		}
	}
	const rect = highlightRect(layout);
	for (const [key, value] of Object.entries(rect)) push('drawbox@active', key, value);
	return commands;
}
