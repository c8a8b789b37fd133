import { fork, type ChildProcess } from 'node:child_process';

/**
 * A forked load process (a load worker, the abuse crowd) and its IPC messages: each `{ type, … }` it sends waits in a
 * queue until `next(type)` takes it, so a reply that comes before it is asked for is not lost.
 */
export class ForkedWorker {
	readonly child: ChildProcess;
	readonly #name: string;
	readonly #messages: { type: string; [key: string]: unknown }[] = [];
	readonly #waiters = new Set<() => void>();

	/** `name` says which process it is in errors; `execArgv` tunes its V8 (load workers allocate many short-lived buffers). */
	constructor(script: string, name: string, execArgv: string[] = []) {
		this.#name = name;
		this.child = fork(script, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		this.child.on('message', (message: { type: string }) => {
			this.#messages.push(message);
			for (const waiter of this.#waiters) waiter();
		});
		this.child.on('exit', () => {
			for (const waiter of this.#waiters) waiter();
		});
	}

	send(message: unknown): void {
		this.child.send(message as never);
	}

	/** The next message of `type` (taken off the queue), within `timeoutMs`. */
	next<T>(type: string, timeoutMs: number): Promise<T> {
		return new Promise((resolve, reject) => {
			const check = (): boolean => {
				const index = this.#messages.findIndex((m) => m.type === type);
				if (index >= 0) {
					const [message] = this.#messages.splice(index, 1);
					done();
					resolve(message as T);
					return true;
				}
				if (this.child.exitCode !== null || this.child.signalCode !== null) {
					done();
					reject(new Error(`${this.#name} exited (${this.child.exitCode ?? this.child.signalCode}) before '${type}'`));
					return true;
				}
				return false;
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`${this.#name} sent no '${type}' in ${timeoutMs} ms`));
			}, timeoutMs);
			const waiter = (): void => void check();
			const done = (): void => {
				clearTimeout(timer);
				this.#waiters.delete(waiter);
			};
			if (!check()) this.#waiters.add(waiter);
		});
	}

	kill(): void {
		if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
	}
}
