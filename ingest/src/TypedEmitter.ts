import { EventEmitter } from 'node:events';

/** Maps each event name to its listener's argument tuple. */
export type EventMap = Record<string, unknown[]>;

/**
 * A typed EventEmitter. `safeEmit` calls listeners in a try/catch, as mediasoup does, so a throwing listener cannot
 * unwind media or process-supervision code: the error is reported on the `listenererror` hook instead.
 */
export class TypedEmitter<E extends EventMap> {
	readonly #emitter = new EventEmitter();
	#onListenerError: (event: string, error: unknown) => void = () => {};

	on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.on(event, listener as (...args: unknown[]) => void);
		return this;
	}

	once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.once(event, listener as (...args: unknown[]) => void);
		return this;
	}

	off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.off(event, listener as (...args: unknown[]) => void);
		return this;
	}

	/** Where errors thrown by listeners go (default: dropped). Set by the owner, usually to its logger. */
	onListenerError(handler: (event: string, error: unknown) => void): void {
		this.#onListenerError = handler;
	}

	protected safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): void {
		for (const listener of this.#emitter.listeners(event)) {
			try {
				(listener as (...a: E[K]) => void)(...args);
			} catch (error) {
				this.#onListenerError(event, error);
			}
		}
		// once() wrappers remove themselves when called; listeners() returned them, so they already ran.
	}
}
