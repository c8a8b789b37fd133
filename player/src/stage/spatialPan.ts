/** Widest pan, -1…1: fully hard left/right sounds unnatural on headphones. */
export const maxPan = 0.8;

/**
 * Stereo position of the tile at `index` of `count` laid left to right: spread evenly across ±maxPan, the middle
 * at the centre; a lone speaker (or an unknown one, index -1) is centred.
 */
export function panFor(index: number, count: number): number {
	if (index < 0 || count <= 1) return 0;
	return Math.round((-maxPan + (2 * maxPan * index) / (count - 1)) * 1000) / 1000;
}
