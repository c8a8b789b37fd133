const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Watches a live media playlist like an eager player (a poll every 20 ms, bounded to 10 minutes): when each part
 * URI was first seen, and when the discontinuity count grew.
 */
export class PlaylistWatcher {
	readonly parts = new Map<string, number>();
	discontinuities = 0;
	discontinuityAt: number[] = [];
	readonly #url: string;
	#stopped = false;

	constructor(url: string) {
		this.#url = url;
	}

	start(): void {
		void (async () => {
			const deadline = Date.now() + 10 * 60_000;
			while (!this.#stopped && Date.now() < deadline) {
				try {
					const text = await (await fetch(this.#url)).text();
					const now = Date.now();
					for (const match of text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)) if (!this.parts.has(match[1]!)) this.parts.set(match[1]!, now);
					const base = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
					const total = base + (text.match(/#EXT-X-DISCONTINUITY\n/g) ?? []).length;
					if (total > this.discontinuities) {
						this.discontinuities = total;
						this.discontinuityAt.push(now);
					}
				} catch {
					// the origin may be restarting; keep polling
				}
				await sleep(20);
			}
		})();
	}

	stop(): void {
		this.#stopped = true;
	}

	/** First time a part appeared after `t`. */
	firstPartAfter(t: number): number | undefined {
		return [...this.parts.values()].filter((seen) => seen > t).sort((a, b) => a - b)[0];
	}

	/** Longest interval without a new part within [from, to]. */
	maxGap(from: number, to: number): number {
		const times = [...this.parts.values()].filter((seen) => seen >= from && seen <= to).sort((a, b) => a - b);
		let gap = 0;
		for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
		return gap;
	}
}
