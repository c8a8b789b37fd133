import fs from 'node:fs/promises';
import os from 'node:os';

/**
 * Linux's clock tick (`getconf CLK_TCK`), the unit of the CPU times in `/proc`. 100 on every architecture Node
 * supports on Linux (the kernel's USER_HZ, fixed for the user ABI).
 */
const msPerTick = 10;

/**
 * CPU time a process has used so far (all its threads, user and system), ms, from `/proc/<pid>/stat`; undefined when
 * it cannot be read (the process has gone, or not Linux).
 */
export async function readProcessCpuMs(pid: number): Promise<number | undefined> {
	const text = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
	return text === undefined ? undefined : parseProcessCpuMs(text);
}

/**
 * utime + stime of a `/proc/<pid>/stat` line, ms. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the last `)`: utime and stime are fields 14 and 15.
 */
export function parseProcessCpuMs(stat: string): number | undefined {
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	// After the name: field 3 (state) is index 0, so field n is index n - 3.
	const utime = Number(fields[11]);
	const stime = Number(fields[12]);
	return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * msPerTick : undefined;
}

/**
 * A process's main thread's scheduler counters from `/proc/<pid>/schedstat`, ms: time on a CPU, and time runnable but
 * waiting for one (`run_delay`). ffmpeg reads, decodes and filters every input on its main thread, so the two tell an
 * encoder starved of CPU by a busy machine (long waits) from one waiting on its inputs (neither). Undefined when they
 * cannot be read (the process has gone, not Linux, or a kernel without schedstats).
 */
export function readMainThreadSchedMs(pid: number): Promise<{ runMs: number; waitMs: number } | undefined> {
	return readSchedstat(`/proc/${pid}/schedstat`);
}

async function readSchedstat(file: string): Promise<{ runMs: number; waitMs: number } | undefined> {
	const text = await fs.readFile(file, 'utf8').catch(() => undefined);
	return text === undefined ? undefined : parseSchedstat(text);
}

/**
 * Time all of a process's threads have spent runnable but waiting for a CPU, ms (the sum of each thread's
 * `run_delay`): an encoder's own worker threads (x264's) starved by the machine leave its main thread asleep waiting
 * for them, which the main thread's counters alone would take for waiting on I/O. Undefined when it cannot be read.
 */
export async function readProcessWaitMs(pid: number): Promise<number | undefined> {
	const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => undefined);
	if (!tasks) return undefined;
	const waits = await Promise.all(tasks.map((task) => readSchedstat(`/proc/${pid}/task/${task}/schedstat`)));
	return waits.reduce<number>((sum, sched) => sum + (sched?.waitMs ?? 0), 0);
}

/** `cpu_time_ns run_delay_ns timeslices`, as ms. */
export function parseSchedstat(text: string): { runMs: number; waitMs: number } | undefined {
	const [run, wait] = text.trim().split(/\s+/).map(Number);
	return Number.isFinite(run) && Number.isFinite(wait) ? { runMs: run! / 1e6, waitMs: wait! / 1e6 } : undefined;
}

/** The machine's CPU counters from `/proc/stat`, ms summed over all cores. */
export interface MachineCpu {
	/** Idle and waiting for I/O. */
	idleMs: number;
	/**
	 * Spent by processes at a lower priority (positive `nice`), such as Tribune's caption recognisers: time an
	 * encoder at normal priority takes from them when it needs it.
	 */
	niceMs: number;
	totalMs: number;
}

/** The first line of `/proc/stat` (all cores); undefined when it cannot be read. */
export async function readMachineCpu(): Promise<MachineCpu | undefined> {
	const text = await fs.readFile('/proc/stat', 'utf8').catch(() => undefined);
	return text === undefined ? undefined : parseMachineCpu(text);
}

/** `cpu  user nice system idle iowait irq softirq steal …` (guest time is already counted in user). */
export function parseMachineCpu(stat: string): MachineCpu | undefined {
	const line = stat.split('\n').find((l) => l.startsWith('cpu '));
	if (!line) return undefined;
	const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
	if (ticks.length < 5 || ticks.some((t) => !Number.isFinite(t))) return undefined;
	const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
	return { idleMs: (idle + iowait) * msPerTick, niceMs: nice * msPerTick, totalMs: (user + nice + system + idle + iowait + irq + softirq + steal) * msPerTick };
}

/**
 * Cores free for a process at normal priority between two readings of the machine's counters (0 … number of
 * cores): idle, and spent by lower-priority processes, which yield to it.
 */
export function idleCoresBetween(before: MachineCpu, after: MachineCpu, cores = os.availableParallelism()): number {
	const total = after.totalMs - before.totalMs;
	if (total <= 0) return 0;
	const free = Math.max(0, after.idleMs - before.idleMs) + Math.max(0, after.niceMs - before.niceMs);
	return (Math.min(free, total) / total) * cores;
}
