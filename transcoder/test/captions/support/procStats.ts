import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clockTicks: number | undefined;

/** CPU time a process has used so far (user + system), seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
	clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const utime = Number(fields[11]);
	const stime = Number(fields[12]);
	return (utime + stime) / clockTicks;
}

/** Resident memory now and at its peak, MB, from /proc/<pid>/status. */
export function memoryMb(pid: number): { rssMb: number; peakRssMb: number } {
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
	return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
