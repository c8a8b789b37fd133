import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Machines for a test, as Linux network namespaces on one host (root only): each namespace has its own loopback and
 * one interface (`eth0`, a veth) plugged into a bridge in the root namespace, all on one /24 (`10.231.<n>.0/24`);
 * the root namespace has `.1` on the bridge (`hostIp`), so the test process itself can reach every machine. Names
 * start with the lab's prefix, which must start with `trib-` (`trib-x-redis`, bridge `trib-x-br`, veths
 * `trib-x-v<i>`). `destroy()` kills every process in the lab's namespaces and removes all it made; `sweep(prefix)`
 * clears what a crashed run left.
 */
export class NetnsLab {
	readonly prefix: string;
	/** The root namespace's address on the lab's bridge. */
	readonly hostIp: string;
	readonly #subnet: string;
	readonly #machines: readonly string[];
	readonly #children = new Set<ChildProcess>();
	#destroyed = false;

	private constructor(prefix: string, subnet: string, machines: readonly string[]) {
		this.prefix = prefix;
		this.#subnet = subnet;
		this.#machines = machines;
		this.hostIp = `${subnet}.1`;
	}

	/** True when namespaces can be made here (root, `ip` present). */
	static available(): boolean {
		if (process.getuid?.() !== 0) return false;
		try {
			execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
			return true;
		} catch {
			return false;
		}
	}

	/**
	 * Makes one namespace per name in `machines` (at most 250; names of [a-z0-9]), in a /24 of 10.231.0.0/16 no
	 * interface on this host uses yet. Leftovers of an earlier run with the same prefix are swept first.
	 */
	static create(prefix: string, machines: readonly string[]): NetnsLab {
		if (!/^trib-[a-z0-9]{1,6}$/.test(prefix)) throw new Error(`netns prefix ${prefix}: expected trib-<1-6 of a-z0-9>`);
		if (machines.length === 0 || machines.length > 250) throw new Error('1 to 250 machines');
		for (const name of machines) if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`machine name ${name}: expected 1-12 of a-z0-9`);
		NetnsLab.sweep(prefix);
		const lab = new NetnsLab(prefix, freeSubnet(prefix), machines);
		try {
			lab.#build();
		} catch (error) {
			NetnsLab.sweep(prefix);
			throw error;
		}
		return lab;
	}

	/** Removes every namespace, veth and bridge named with `prefix` (killing the namespaces' processes first). */
	static sweep(prefix: string): void {
		if (!/^trib-[a-z0-9]{1,6}$/.test(prefix)) throw new Error(`netns prefix ${prefix}: expected trib-<1-6 of a-z0-9>`);
		const namespaces = run('ip', ['netns', 'list']).split('\n').map((line) => line.split(' ')[0] ?? '').filter((ns) => ns.startsWith(`${prefix}-`));
		for (const ns of namespaces) {
			killNamespace(ns);
			tryRun('ip', ['netns', 'delete', ns]);
		}
		const links = run('ip', ['-o', 'link', 'show']).split('\n').map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '').filter((name) => name.startsWith(`${prefix}-`));
		for (const link of links) tryRun('ip', ['link', 'delete', link]);
	}

	/** The namespace's full name (for `ip netns exec` or nft). */
	ns(machine: string): string {
		this.#check(machine);
		return `${this.prefix}-${machine}`;
	}

	/** The machine's address on the lab's network. */
	ip(machine: string): string {
		this.#check(machine);
		return `${this.#subnet}.${this.#machines.indexOf(machine) + 2}`;
	}

	/** Starts `command` inside the machine's namespace; the lab kills it in `destroy()` if it is still running. */
	spawn(machine: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
		const child = spawn('ip', ['netns', 'exec', this.ns(machine), command, ...args], options);
		this.#children.add(child);
		child.once('exit', () => this.#children.delete(child));
		return child;
	}

	/** Runs `command` to its end inside the machine's namespace (at most `timeoutMs`); its stdout. */
	exec(machine: string, command: string, args: readonly string[], timeoutMs = 10_000): string {
		return execFileSync('ip', ['netns', 'exec', this.ns(machine), command, ...args], { stdio: 'pipe', timeout: timeoutMs }).toString();
	}

	/** Every process in the machine's namespace. */
	pids(machine: string): number[] {
		return namespacePids(this.ns(machine));
	}

	/**
	 * SIGKILLs every process in the machine's namespace (the machine "loses power" as far as its programs go; its
	 * network stays) and waits until none is left, at most `timeoutMs`. The number of processes killed.
	 */
	async killAll(machine: string, timeoutMs = 10_000): Promise<number> {
		const ns = this.ns(machine);
		const killed = killNamespace(ns);
		const deadline = Date.now() + timeoutMs;
		while (namespacePids(ns).length > 0) {
			if (Date.now() > deadline) throw new Error(`${ns}: processes left after SIGKILL: ${namespacePids(ns).join(' ')}`);
			killNamespace(ns);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		return killed;
	}

	/**
	 * Cuts the machine off the network (its veth's bridge end goes down): its processes live on, and packets to and
	 * from it are lost without a reset, as in a network partition. `reconnect` heals it.
	 */
	disconnect(machine: string): void {
		this.#check(machine);
		run('ip', ['link', 'set', `${this.prefix}-v${this.#machines.indexOf(machine)}`, 'down']);
	}

	reconnect(machine: string): void {
		this.#check(machine);
		run('ip', ['link', 'set', `${this.prefix}-v${this.#machines.indexOf(machine)}`, 'up']);
	}

	/** Kills every process in the lab and removes its namespaces, veths and bridge. Safe to call twice. */
	async destroy(): Promise<void> {
		if (this.#destroyed) return;
		this.#destroyed = true;
		for (const child of this.#children) child.kill('SIGKILL');
		for (const machine of this.#machines) {
			// Best effort: sweep() below kills and deletes whatever is left.
			await this.killAll(machine, 5000).catch(() => undefined);
		}
		NetnsLab.sweep(this.prefix);
	}

	#check(machine: string): void {
		if (!this.#machines.includes(machine)) throw new Error(`no machine ${machine} in ${this.prefix}`);
	}

	#build(): void {
		const bridge = `${this.prefix}-br`;
		run('ip', ['link', 'add', bridge, 'type', 'bridge']);
		run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', bridge]);
		run('ip', ['link', 'set', bridge, 'up']);
		this.#machines.forEach((machine, index) => {
			const ns = this.ns(machine);
			const veth = `${this.prefix}-v${index}`;
			run('ip', ['netns', 'add', ns]);
			run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
			run('ip', ['link', 'set', veth, 'master', bridge]);
			run('ip', ['link', 'set', veth, 'up']);
			run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
			run('ip', ['-n', ns, 'addr', 'add', `${this.ip(machine)}/24`, 'dev', 'eth0']);
			run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
		});
	}
}

function run(command: string, args: readonly string[]): string {
	return execFileSync(command, args, { stdio: 'pipe', timeout: 10_000 }).toString();
}

function tryRun(command: string, args: readonly string[]): void {
	try {
		run(command, args);
	} catch {
		// Already gone.
	}
}

function namespacePids(ns: string): number[] {
	try {
		return run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
	} catch {
		return [];
	}
}

function killNamespace(ns: string): number {
	const pids = namespacePids(ns);
	for (const pid of pids) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Exited meanwhile.
		}
	}
	return pids.length;
}

/** A 10.231.<n>.0/24 no interface here has an address in, starting from one derived from `prefix`. */
function freeSubnet(prefix: string): string {
	const used = run('ip', ['-o', '-4', 'addr', 'show']);
	let start = 0;
	for (const c of prefix) start = (start * 31 + c.charCodeAt(0)) % 250;
	for (let i = 0; i < 250; i++) {
		const candidate = `10.231.${(start + i) % 250}`;
		if (!used.includes(` ${candidate}.`)) return candidate;
	}
	throw new Error('no free /24 in 10.231.0.0/16');
}
