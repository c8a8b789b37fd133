import { describe, expect, it } from 'vitest';
import { captionBandPx, computeLayout, initialsOf, type Rect, type StageSpeaker } from './computeLayout.js';

const speaker = (id: string, name = id, video = true): StageSpeaker => ({ id, name, video, muted: false });
const canvas = { width: 1280, height: 720 };

describe('computeLayout()', () => {
	it('gives a lone speaker the whole canvas at 16:9, centred, panned to the middle', () => {
		const { tiles } = computeLayout({ speakers: [speaker('a', 'Ada Lovelace')], pinned: [] }, canvas);
		// 1248×688 inside the margins: the full height, 16:9 wide (1223.1 px, rounded down to even).
		expect(tiles).toEqual([
			{ x: 28, y: 16, width: 1222, height: 688, speakerId: 'a', name: 'Ada Lovelace', initials: 'AL', pinned: false, video: true, muted: false, active: false, pan: 0 },
		]);
	});

	it('puts pinned speakers in one row on top, in the order the host set, above the others', () => {
		const stage = { speakers: ['a', 'b', 'c', 'd', 'e'].map((id) => speaker(id)), pinned: ['d', 'b'] };
		const { tiles } = computeLayout(stage, canvas);
		expect(tiles.map((t) => t.speakerId)).toEqual(['d', 'b', 'a', 'c', 'e']);
		const [d, b, ...rest] = tiles;
		expect(d!.pinned && b!.pinned).toBe(true);
		expect(d!.y).toBe(b!.y);
		expect(d!.x).toBeLessThan(b!.x);
		for (const tile of rest) {
			expect(tile.pinned).toBe(false);
			expect(tile.y).toBeGreaterThanOrEqual(d!.y + d!.height);
		}
		// Pinned tiles are larger than the grid's.
		expect(d!.width).toBeGreaterThan(rest[0]!.width);
	});

	it('keeps every tile inside the canvas, apart from the others, with even sizes, for 1 to 13 speakers', () => {
		for (let n = 1; n <= 13; n++) {
			for (const pinnedCount of [0, 1, 3]) {
				const speakers = Array.from({ length: n }, (_, i) => speaker(`s${i}`));
				const { tiles } = computeLayout({ speakers, pinned: speakers.slice(0, pinnedCount).map((s) => s.id) }, canvas);
				expect(tiles).toHaveLength(n);
				for (const t of tiles) {
					expect([t.x, t.y, t.width, t.height].every((v) => v % 2 === 0)).toBe(true);
					expect(t.x).toBeGreaterThanOrEqual(0);
					expect(t.y).toBeGreaterThanOrEqual(0);
					expect(t.x + t.width).toBeLessThanOrEqual(canvas.width);
					expect(t.y + t.height).toBeLessThanOrEqual(canvas.height);
				}
				for (const [i, a] of tiles.entries()) {
					for (const b of tiles.slice(i + 1)) {
						const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
						expect(apart, `n=${n} pinned=${pinnedCount}: ${a.speakerId} overlaps ${b.speakerId}`).toBe(true);
					}
				}
			}
		}
	});

	it('pans each speaker to where their tile is, so the mix sounds like it looks', () => {
		// Three speakers on 16:9: two on top, one centred below.
		const { tiles } = computeLayout({ speakers: [speaker('left'), speaker('right'), speaker('below')], pinned: [] }, canvas);
		const [left, right, below] = tiles;
		expect(left!.y).toBe(right!.y);
		expect(below!.y).toBeGreaterThan(left!.y);
		expect(left!.pan).toBeLessThan(-0.3);
		expect(right!.pan).toBe(-left!.pan);
		expect(below!.pan).toBe(0);
		expect(Math.abs(right!.pan)).toBeLessThanOrEqual(0.8);
		// With no spread, everyone is in the centre.
		expect(computeLayout({ speakers: [speaker('a'), speaker('b')], pinned: [] }, { ...canvas, panSpread: 0 }).tiles.map((t) => t.pan)).toEqual([0, 0]);
	});

	it('marks the active speaker and ignores pinned ids that are not on stage', () => {
		const { tiles } = computeLayout({ speakers: [speaker('a'), speaker('b')], pinned: ['gone', 'b', 'b'], activeSpeakerId: 'a' }, canvas);
		expect(tiles.map((t) => [t.speakerId, t.pinned, t.active])).toEqual([
			['b', true, false],
			['a', false, true],
		]);
	});

	describe('presentation layout (someone shares their screen)', () => {
		const speakers = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => speaker(id));
		const apart = (a: Rect, b: Rect) => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;

		it('gives the share the largest 16:9 box beside a strip of pinned, active and sharing speakers (golden)', () => {
			const layout = computeLayout({ speakers, pinned: ['d'], activeSpeakerId: 'b', screen: { speakerId: 'e' } }, canvas);
			// 1280 less a 192 px strip and three 8 px gaps: 1064 wide, 598 high, centred in the height.
			expect(layout.screen).toEqual({ x: 8, y: 60, width: 1064, height: 598, speakerId: 'e' });
			expect(layout.tiles.map((t) => [t.speakerId, t.x, t.y, t.width, t.height, t.pinned, t.active, t.pan])).toEqual([
				['d', 1080, 60, 192, 108, true, false, 0],
				['b', 1080, 176, 192, 108, false, true, 0],
				['e', 1080, 292, 192, 108, false, false, 0],
			]);
		});

		it('keeps names and burned-in captions off the share, and every tile inside the canvas', () => {
			for (const canvasSize of [canvas, { width: 640, height: 360 }]) {
				for (const burnedInCaptions of [false, true]) {
					const layout = computeLayout({ speakers, pinned: ['a', 'b', 'c', 'f'], activeSpeakerId: 'd', screen: { speakerId: 'e' }, burnedInCaptions }, canvasSize);
					const screen = layout.screen!;
					const bottom = canvasSize.height - (burnedInCaptions ? captionBandPx(canvasSize) : 0);
					expect(screen.y + screen.height, `${canvasSize.width}: the share ends above the captions' band`).toBeLessThanOrEqual(bottom);
					expect([screen.x, screen.y, screen.width, screen.height].every((v) => v % 2 === 0)).toBe(true);
					expect(Math.abs(screen.width / screen.height - 16 / 9)).toBeLessThan(0.02);
					// At most four in the strip (pinned first), each apart from the share (its label is drawn inside it).
					expect(layout.tiles.map((t) => t.speakerId)).toEqual(['a', 'b', 'c', 'f']);
					for (const tile of layout.tiles) {
						expect(apart(tile, screen), `${tile.speakerId} overlaps the share`).toBe(true);
						expect(tile.x + tile.width).toBeLessThanOrEqual(canvasSize.width);
						expect(tile.y + tile.height).toBeLessThanOrEqual(bottom);
					}
				}
			}
			// The share takes most of the canvas: over 60 % of a 1280×720 frame without captions.
			const { screen } = computeLayout({ speakers, pinned: [], screen: { speakerId: 'a' } }, canvas);
			expect((screen!.width * screen!.height) / (1280 * 720)).toBeGreaterThan(0.6);
		});

		it('leaves speakers who are not pinned, active or sharing out of the strip, and a sharer off stage out of it too', () => {
			const layout = computeLayout({ speakers, pinned: [], screen: { speakerId: 'gone' } }, canvas);
			expect(layout.screen?.speakerId).toBe('gone');
			expect(layout.tiles).toEqual([]);
			// No strip: the share takes the whole height (16:9 in 1264×704 inside the gaps).
			expect(layout.screen).toMatchObject({ width: 1250, height: 702 });
			// Without a share, the usual grid.
			expect(computeLayout({ speakers, pinned: [] }, canvas).screen).toBeUndefined();
		});
	});

	it('rejects an odd or empty canvas', () => {
		expect(() => computeLayout({ speakers: [], pinned: [] }, { width: 1279, height: 720 })).toThrow(RangeError);
		expect(() => computeLayout({ speakers: [], pinned: [] }, { width: 0, height: 720 })).toThrow(RangeError);
	});
});

describe('initialsOf()', () => {
	it.each([
		['Ada Lovelace', 'AL'],
		['grace', 'G'],
		['  Jean-Luc   Picard ', 'JP'],
		['Ωmega Ölund', 'ΩÖ'],
		["'; drop table --", 'DT'],
		['🎤🎤', '?'],
		['', '?'],
	])('%j → %j', (name, expected) => {
		expect(initialsOf(name)).toBe(expected);
	});
});
