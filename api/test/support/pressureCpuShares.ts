import fs from 'node:fs';

/** CPU seconds and command line of every process on the machine at one moment (/proc). */
export interface CpuSnapshot {
	atMs: number;
	processes: Map<number, { cpuS: number; command: string; ppid: number }>;
}

/** CLK_TCK: 100 on every Linux this runs on. */
const ticksPerSecond = 100;

export function cpuSnapshot(): CpuSnapshot {
	const processes: CpuSnapshot['processes'] = new Map();
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			const command = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
			processes.set(Number(entry), { cpuS: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond, command, ppid: Number(fields[1]) });
		} catch {
			// exited while we looked
		}
	}
	return { atMs: Date.now(), processes };
}

/**
 * Cores each group of processes used between two snapshots (a process started in between counts from zero; one gone
 * by `to` is not counted). `group` names a process's group from its pid, command line and parent.
 */
export function cpuShares(from: CpuSnapshot, to: CpuSnapshot, group: (pid: number, command: string, ppid: number) => string): Record<string, number> {
	const wallS = (to.atMs - from.atMs) / 1000;
	const shares: Record<string, number> = {};
	for (const [pid, p] of to.processes) {
		const used = p.cpuS - (from.processes.get(pid)?.cpuS ?? 0);
		if (used <= 0) continue;
		const name = group(pid, p.command, p.ppid);
		shares[name] = (shares[name] ?? 0) + used / wallS;
	}
	return Object.fromEntries(Object.entries(shares).sort(([, a], [, b]) => b - a).map(([name, cores]) => [name, Number(cores.toFixed(3))]));
}
