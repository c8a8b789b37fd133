import fs from 'node:fs';

/** CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		// Fields after the parenthesised command name; utime and stime are fields 14 and 15 (index 11 and 12 here).
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return (Number(fields[11]) + Number(fields[12])) / clockTicksPerS;
	} catch {
		return undefined;
	}
}

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const clockTicksPerS = 100;

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMb(pid: number): number | undefined {
	try {
		const kb = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
		return kb === undefined ? undefined : Number(kb) / 1024;
	} catch {
		return undefined;
	}
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number | undefined {
	try {
		return fs.readdirSync(`/proc/${pid}/fd`).length;
	} catch {
		return undefined;
	}
}

export function loadAverage(): number[] {
	return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/** Cores a process used between two readings: CPU seconds per wall second. */
export class CpuMeter {
	readonly #pid: number;
	#cpu: number;
	#atMs: number;

	constructor(pid: number) {
		this.#pid = pid;
		this.#cpu = cpuSeconds(pid) ?? 0;
		this.#atMs = Date.now();
	}

	/** Cores since construction or the last call. */
	read(): number {
		const cpu = cpuSeconds(this.#pid) ?? this.#cpu;
		const atMs = Date.now();
		const cores = (cpu - this.#cpu) / Math.max(0.001, (atMs - this.#atMs) / 1000);
		this.#cpu = cpu;
		this.#atMs = atMs;
		return cores;
	}
}

/** The p-th percentile of a histogram given as sorted [value, count] pairs. */
export function histogramPercentile(buckets: readonly [number, number][], p: number): number | undefined {
	const total = buckets.reduce((sum, [, count]) => sum + count, 0);
	if (total === 0) return undefined;
	const rank = Math.max(1, Math.ceil((p / 100) * total));
	let seen = 0;
	for (const [value, count] of buckets) {
		seen += count;
		if (seen >= rank) return value;
	}
	return buckets.at(-1)?.[0];
}

/** Merges sparse histograms ([value, count] pairs) into one, sorted by value. */
export function mergeHistograms(histograms: readonly (readonly [number, number][])[]): [number, number][] {
	const merged = new Map<number, number>();
	for (const histogram of histograms) for (const [value, count] of histogram) merged.set(value, (merged.get(value) ?? 0) + count);
	return [...merged.entries()].sort((a, b) => a[0] - b[0]);
}
