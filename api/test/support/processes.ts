import fs from 'node:fs';

export { freePort } from '../../../scripts/test/fixtures.js';

/** Every process descended from `pid`, from /proc. */
export function descendants(pid: number): number[] {
	const parents = new Map<number, number>();
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			// Fields after the parenthesised command name: state, ppid, ...
			parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
		} catch {
			// exited while we looked
		}
	}
	const found: number[] = [];
	const queue = [pid];
	while (queue.length > 0) {
		const parent = queue.shift()!;
		for (const [child, ppid] of parents) {
			if (ppid !== parent) continue;
			found.push(child);
			queue.push(child);
		}
	}
	return found;
}

/** A process's command line, or '' once it is gone. */
export function commandOf(pid: number): string {
	try {
		return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
	} catch {
		return '';
	}
}
