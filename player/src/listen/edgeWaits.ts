/**
 * How long the player waited for new media, per kind of playlist (the video rendition's and the audio rendition's,
 * loaded apart): the time between two loads of the same rendition's playlist whose live edge moved. With blocking
 * playlist reloads a playlist comes back as soon as the origin has a new part, every part duration (0.2 s) when the
 * encoder keeps up; a longer wait is an encoder or an origin late, a slow network, or the page itself unable to run.
 * Another rendition, a new load or a page out of sight starts over (its first load measures nothing).
 */
export class EdgeWaits {
	readonly #last = new Map<string, { rendition: number; atMs: number; edge: number }>();

	/**
	 * A playlist of `kind` (rendition `rendition`) was loaded at `atMs` with its live edge at `edge` (its last part's
	 * place in the stream, growing as parts come: see `edgeOf`): how long since its edge last moved, s, when it moved
	 * now; else 0.
	 */
	loaded(kind: string, rendition: number, atMs: number, edge: number): number {
		const last = this.#last.get(kind);
		if (last?.rendition === rendition && edge <= last.edge) return 0;
		this.#last.set(kind, { rendition, atMs, edge });
		return last?.rendition === rendition ? (atMs - last.atMs) / 1000 : 0;
	}

	reset(): void {
		this.#last.clear();
	}
}

/**
 * A playlist's live edge as a number that grows with each part: its last part's media sequence number and index
 * (a delta playlist's media times are not yet placed when it is loaded; its numbers are).
 */
export function edgeOf(details: { lastPartSn: number; lastPartIndex: number }): number {
	return details.lastPartSn * 1000 + Math.max(0, details.lastPartIndex);
}
