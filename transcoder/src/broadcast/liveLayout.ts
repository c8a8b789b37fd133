import type { Layout, Rect, Tile } from './computeLayout.js';
import { displayName } from './displayName.js';
import { quoteFfmpegToken } from './ffmpegToken.js';
import { fillerPictureSize } from './Vp8SlotRelay.js';

/**
 * The encode's live-controllable filters. A running encode follows the stage through ffmpeg's `zmq`/`azmq` filters
 * instead of a restart: it is planned with a fixed number of *slots*, each with its own inputs (a voice, and in video
 * spaces a camera) and named filters whose geometry, text and stereo position are set by commands. A speaker keeps
 * their slot while on stage; a join takes a free slot, a leave hides one, a pin, a mute or the active speaker only move
 * and relabel what is there. Only a stage larger than the slots (or moving to another node) needs a new encode.
 * `buildFfmpegPlan` draws the first layout with exactly the values `layoutCommands` would send, so the two never
 * disagree.
 */

/**
 * One command for ffmpeg's zmq filter: `<target> <command> <arg>`. `arg` is what the target filter receives; the zmq
 * filter's own tokenizer is quoted for on the wire (`zmqCommandText`).
 */
export interface LiveCommand {
	target: string;
	command: string;
	arg: string;
}

/** Which streams each speaker has in the encode (PlanIo.streams): SDP stream indices by speaker id. */
export type SlotStreams = ReadonlyMap<string, { audio?: number; video?: number }>;

/**
 * Who is in which slot of an encode and what flows there. A slot's streams (its SDP stream indices) are fixed for the
 * encode's life; the speakers in the slots and whose camera shows can change while it runs. A slot with no speaker
 * is hidden (its box, camera, initials and label are parked off the canvas) and its audio is silence.
 */
export interface SlotAssignment {
	/** Each slot's SDP stream indices; a slot without `video` has no camera chain, one without `audio` no voice. */
	streams: readonly { audio?: number; video?: number }[];
	/** Speaker id → slot, for the speakers on stage now. */
	slotOf: ReadonlyMap<string, number>;
	/** Speakers whose camera flows into their slot now. */
	cameras: ReadonlySet<string>;
	/**
	 * The encode's screen-share input (video spaces; fixed for the encode's life like the slots'): the share's picture
	 * and the shared tab's audio, SDP stream indices. Absent: the encode cannot show a share.
	 */
	screen?: { video?: number; audio?: number };
	/** Whether the share's pictures flow into the encode now (its relay forwards them). */
	screenLive?: boolean;
}

/**
 * The assignment of an encode planned for one stage and nothing else (tests, benches, replay tooling): one slot per
 * tile, numbered by speaker id, with the streams each speaker has.
 */
export function assignBySpeakerId(layout: Layout, streams: SlotStreams): SlotAssignment {
	const slotOf = slotsOf(layout);
	const bySlot = [...slotOf.entries()].sort((a, b) => a[1] - b[1]);
	return {
		streams: bySlot.map(([id]) => streams.get(id) ?? {}),
		slotOf,
		cameras: new Set(layout.tiles.filter((t) => t.video && streams.get(t.speakerId)?.video !== undefined).map((t) => t.speakerId)),
	};
}

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

/** Filter instance names of the screen share: its box, its picture's scale and its place. */
export const screenFilters = { box: 'drawbox@screen', scale: 'scale@screen', place: 'overlay@screen' } as const;

/**
 * Where the share's box and picture go: the layout's share box and the picture fitted and centred in it (as a camera
 * in its tile), or parked off the canvas (nobody shares; or the picture, not flowing yet, leaves the box black).
 */
export function screenGeometry(layout: Layout, slots: SlotAssignment): {
	box: { x: number; y: number; w: number; h: number };
	size: { w: string; h: string };
	place: { x: string; y: string };
} {
	const area = layout.screen;
	const shown = area !== undefined && slots.screenLive === true && slots.screen?.video !== undefined;
	return {
		box: area ? { x: area.x, y: area.y, w: area.width, h: area.height } : hiddenRect,
		size: cameraSize(shown ? area : undefined),
		place: shown ? cameraPlacement(area) : { x: String(hiddenRect.x), y: String(hiddenRect.y) },
	};
}

/** Whether a tile shows a camera in this encode (rather than initials). */
export function showsCamera(tile: Tile, slots: SlotAssignment): boolean {
	const slot = slots.slotOf.get(tile.speakerId);
	return tile.video && slots.cameras.has(tile.speakerId) && slot !== undefined && slots.streams[slot]?.video !== undefined;
}

/** Where a hidden slot's box, camera and text are parked: off the canvas, 2×2 (drawbox reads 0 as "whole frame"). */
export const hiddenRect = { x: -100, y: -100, w: 2, h: 2 } as const;

/** Whether the picture of `w`×`h` (expression variables) is a slot relay's filler, not a camera. */
const isFiller = (w: string, h: string): string => `lte(${w},${fillerPictureSize})*lte(${h},${fillerPictureSize})`;

/**
 * The camera's size in a box of `width`×`height`, as `scale` expressions of each picture's own size (`iw`, `ih`):
 * the largest even size of the camera's aspect ratio that fits, never less than 2×2 (`force_original_aspect_ratio`
 * rounds a wide camera in a small box down to the zero height that ends ffmpeg). The relay's filler picture keeps
 * its size, so `cameraPlacement` can tell it apart. The plan's scale evaluates them on every picture of a new size
 * (`eval=frame`): with ffmpeg's default (`eval=init`) a scale keeps the size it computed last when its input changes
 * size, so a camera took the size computed for the filler that was passing when the command came (a square, or the
 * parked 16×16 — drawn as a dot in its tile), and kept it.
 */
export function cameraSize(box: { width: number; height: number } | undefined): { w: string; h: string } {
	const { width, height } = box ?? hiddenCamera;
	const filler = isFiller('iw', 'ih');
	return {
		w: `if(${filler},iw,max(2,trunc(min(${width},${height}*iw/ih)/2)*2))`,
		h: `if(${filler},ih,max(2,trunc(min(${height},${width}*ih/iw)/2)*2))`,
	};
}

/** A parked camera's box: 16×16, wholly inside the parked area off the canvas. */
const hiddenCamera = { width: 16, height: 16 };

/**
 * The camera's place in its tile: centred, letterboxed on the tile colour drawn under it; the relay's filler is put
 * off the canvas. The overlay evaluates them for every picture, so a slot shown as soon as its relay forwards the
 * camera never draws the filler pictures still on their way through a busy encode (its input lags by up to seconds):
 * the tile stays empty until the camera's own pictures arrive.
 */
export function cameraPlacement(tile: Rect): { x: string; y: string } {
	const filler = isFiller('overlay_w', 'overlay_h');
	return { x: `if(${filler},${hiddenRect.x},${tile.x}+(${tile.width}-overlay_w)/2)`, y: `if(${filler},${hiddenRect.y},${tile.y}+(${tile.height}-overlay_h)/2)` };
}

/**
 * drawtext options of a slot's initials: a third of the tile high, centred, for a tile without a camera; parked off
 * the canvas and transparent otherwise (a camera or nobody in the slot).
 */
export function initialsOptions(tile: Tile | undefined): string {
	if (!tile) return `fontsize=8:x=${hiddenRect.x}:y=${hiddenRect.y}:fontcolor=${compositeColours.text}@0:text=-`;
	return `fontsize=${Math.round(tile.height / 3)}:x=${tile.x}+(${tile.width}-tw)/2:y=${tile.y}+(${tile.height}-th)/2:fontcolor=${compositeColours.text}:text=${safeInitials(tile.initials)}`;
}

/** The layout's tiles by the slot their speaker is in (speakers without a slot are not drawn). */
export function tilesBySlot(layout: Layout, slots: SlotAssignment): Map<number, Tile> {
	return new Map(
		layout.tiles.flatMap((tile) => {
			const slot = slots.slotOf.get(tile.speakerId);
			return slot === undefined ? [] : [[slot, tile] as const];
		}),
	);
}

/**
 * Where a slot's box and camera go: the tile's box and the camera fitted and centred in it, or parked off the canvas
 * (nobody in the slot, or no camera flowing). The plan draws these and `layoutCommands` sends them.
 */
export function slotGeometry(tile: Tile | undefined, camera: boolean): {
	box: { x: number; y: number; w: number; h: number };
	size: { w: string; h: string };
	place: { x: string; y: string };
} {
	const shown = camera && tile !== undefined;
	return {
		box: tile ? { x: tile.x, y: tile.y, w: tile.width, h: tile.height } : hiddenRect,
		size: cameraSize(shown ? tile : undefined),
		place: shown ? cameraPlacement(tile) : { x: String(hiddenRect.x), y: String(hiddenRect.y) },
	};
}

/** drawtext options of a hidden slot's label: parked off the canvas, transparent. */
export const hiddenLabelOptions = `fontsize=12:boxborderw=4:x=${hiddenRect.x}:y=${hiddenRect.y}:fontcolor=${compositeColours.text}@0:boxcolor=black@0:text=-`;

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
 * Every command that puts `layout` on a running encode: the screen share's box, size and place (parked when nobody
 * shares), then per slot, the tile's box, the camera's size and place, the
 * initials, the label and the voice's stereo position — or, for a slot nobody is in, all of it parked off the canvas —
 * and the active-speaker frame. `composite` false (an audio-only encode): the stereo positions only. Pure; the runner
 * sends only the ones whose value changed since the last layout it sent.
 */
export function layoutCommands(layout: Layout, slots: SlotAssignment, composite = true): LiveCommand[] {
	const commands: LiveCommand[] = [];
	const push = (target: string, command: string, arg: string | number): void => void commands.push({ target, command, arg: String(arg) });
	const tiles = tilesBySlot(layout, slots);
	if (composite && slots.screen?.video !== undefined) {
		const { box, size, place } = screenGeometry(layout, slots);
		for (const [key, value] of Object.entries(box)) push(screenFilters.box, key, value);
		push(screenFilters.scale, 'w', size.w);
		push(screenFilters.scale, 'h', size.h);
		push(screenFilters.place, 'x', place.x);
		push(screenFilters.place, 'y', place.y);
	}
	for (const [slot, streams] of slots.streams.entries()) {
		const f = slotFilters(slot);
		const tile = tiles.get(slot);
		if (composite) {
			const camera = tile !== undefined && showsCamera(tile, slots);
			const { box, size, place } = slotGeometry(tile, camera);
			for (const [key, value] of Object.entries(box)) push(f.tile, key, value);
			if (streams.video !== undefined) {
				push(f.camera, 'w', size.w);
				push(f.camera, 'h', size.h);
				push(f.place, 'x', place.x);
				push(f.place, 'y', place.y);
			}
			push(f.initials, 'reinit', initialsOptions(tile && !camera ? tile : undefined));
			// The name is quoted for reinit's option parser; the whole argument is quoted again for the zmq filter's
			// tokenizer when it is sent. Once for each parser, any text comes out as typed (see quoteFfmpegToken).
			push(
				f.name,
				'reinit',
				tile ? `${labelOptions(tile)}:fontcolor=${compositeColours.text}:boxcolor=${compositeColours.label}:text=${quoteFfmpegToken(labelText(tile))}` : hiddenLabelOptions,
			);
		}
		if (streams.audio !== undefined) {
			const [left, right] = panGains(tile?.pan ?? 0);
			push(f.panLeft, 'volume', left);
			push(f.panRight, 'volume', right);
		}
	}
	if (composite) {
		const rect = highlightRect(layout);
		for (const [key, value] of Object.entries(rect)) push('drawbox@active', key, value);
	}
	return commands;
}
