import fs from 'node:fs';
import { lastPosition, parseMediaPlaylist } from '../origin/support/parsePlaylist.js';
import { commandOf, descendants } from './processes.js';

/**
 * What bench:pressure needs to tell a listener's stall apart: did the origin stop releasing parts, or was the
 * listener's own page (on the same busy machine) waiting for the CPU? Two watches run beside the listener:
 * - {@link watchOriginParts}: a client of the origin's blocking playlist reloads, as hls.js is, on one media
 *   playlist: when each new part was released to it;
 * - {@link watchRendererWaits}: the main threads of headless Chromium's renderer processes (children of this
 *   process), from the kernel's scheduler statistics (`/proc/<pid>/task/<pid>/schedstat`: time run and time
 *   waiting on a run queue): how long the page that plays was ready to run and waited for a core.
 */
export interface OriginPartWatch {
	/** Longest time between two parts released, ms, over the releases in [fromMs, toMs] and the one before. */
	longestGapMs(fromMs: number, toMs: number): number;
	/** Stops the watch (its outstanding request is left to the origin's own timeout) and waits for its loop. */
	stop(): Promise<void>;
}

/** Watches `playlistUrl` with blocking reloads for the next part, for at most `maxS` seconds and 10,000 requests. */
export function watchOriginParts(playlistUrl: string, maxS: number): OriginPartWatch {
	const releasedAtMs: number[] = [];
	const abort = new AbortController();
	const endAt = Date.now() + maxS * 1000;
	const loop = (async () => {
		/** The newest part seen, as a blocking request for the one after names it. */
		let seen: { msn: number; part: number } | undefined;
		for (let i = 0; i < 10_000 && Date.now() < endAt && !abort.signal.aborted; i++) {
			const query = seen ? `?_HLS_msn=${seen.msn}&_HLS_part=${seen.part + 1}` : '';
			const res = await fetch(`${playlistUrl}${query}`, { signal: AbortSignal.any([abort.signal, AbortSignal.timeout(10_000)]) }).catch(() => undefined);
			const text = res?.status === 200 ? await res.text().catch(() => undefined) : undefined;
			const playlist = text === undefined ? undefined : parseMediaPlaylist(text);
			if (!playlist?.segments.length) {
				await new Promise((resolve) => setTimeout(resolve, 100));
				continue;
			}
			const at = lastPosition(playlist);
			// One release per answer that moved on (the first answer only sets the position).
			if (seen && (at.msn > seen.msn || (at.msn === seen.msn && at.part > seen.part))) releasedAtMs.push(Date.now());
			seen = at;
		}
	})();
	return {
		longestGapMs(fromMs, toMs) {
			const before = releasedAtMs.filter((t) => t < fromMs).at(-1);
			const times = [...(before === undefined ? [] : [before]), ...releasedAtMs.filter((t) => t >= fromMs && t <= toMs)];
			let longest = 0;
			for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
			// Nothing released since the last one before `toMs`: that wait counts too.
			const lastMs = times.at(-1);
			return Math.max(longest, lastMs === undefined ? toMs - fromMs : toMs - lastMs);
		},
		async stop() {
			abort.abort();
			await loop;
		},
	};
}

export interface RendererWaitWatch {
	/** Time Chromium's renderer main threads waited for a core in [fromMs, toMs], ms (samples every 200 ms). */
	waitMs(fromMs: number, toMs: number): number;
	stop(): void;
}

/** Samples the waits of Chromium renderers started by this process, every 200 ms, for at most `maxS` seconds. */
export function watchRendererWaits(maxS: number): RendererWaitWatch {
	/** [sampled at, summed wait of every renderer main thread, ns]. */
	const samples: [number, number][] = [];
	const waitsNs = new Map<number, number>();
	const renderers = () => descendants(process.pid).filter((pid) => /chromium.*--type=renderer/.test(commandOf(pid)));
	let known = renderers();
	let sampled = 0;
	const sample = () => {
		if (sampled++ % 10 === 0) known = renderers();
		for (const pid of known) {
			try {
				waitsNs.set(pid, Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]));
			} catch {
				// gone: its last figure stays in the sum
			}
		}
		samples.push([Date.now(), [...waitsNs.values()].reduce((sum, ns) => sum + ns, 0)]);
	};
	sample();
	const timer = setInterval(sample, 200);
	const stopAt = setTimeout(() => clearInterval(timer), maxS * 1000);
	const at = (ms: number) => (samples.filter(([t]) => t <= ms).at(-1) ?? samples[0]!)[1];
	return {
		waitMs: (fromMs, toMs) => Math.round((at(toMs) - at(fromMs)) / 1e6),
		stop() {
			clearInterval(timer);
			clearTimeout(stopAt);
		},
	};
}
