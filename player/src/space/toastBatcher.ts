/**
 * Collects join/leave notices and says them as one toast per batch: "Ada joined", "Ada and Bo joined",
 * "12 people joined". Role changes are announced one by one; they are rare and matter.
 */
export interface Toast {
	id: number;
	text: string;
}

/** Words for a batch of names that joined or left. */
export function describePresence(names: readonly string[], verb: 'joined' | 'left'): string | undefined {
	if (names.length === 0) return undefined;
	if (names.length === 1) return `${names[0]} ${verb}`;
	if (names.length === 2) return `${names[0]} and ${names[1]} ${verb}`;
	return `${names.length} people ${verb}`;
}

export interface ToastBatcherOptions {
	/** Notices within this window become one toast, ms. Default 1500. */
	windowMs: number;
	/** How long a toast stays, ms. Default 4000. */
	showMs: number;
	/** Most toasts on screen; older ones go first. Default 3. */
	maxVisible: number;
}

export const defaultToastBatcherOptions: Readonly<ToastBatcherOptions> = Object.freeze({ windowMs: 1500, showMs: 4000, maxVisible: 3 });

/** Timer functions, injectable for tests. */
export interface Clock {
	setTimeout(fn: () => void, ms: number): unknown;
	clearTimeout(handle: unknown): void;
}

export class ToastBatcher {
	readonly #options: ToastBatcherOptions;
	readonly #clock: Clock;
	readonly #onChange: (toasts: Toast[]) => void;
	#joined: string[] = [];
	#left: string[] = [];
	#flushTimer: unknown;
	#toasts: Toast[] = [];
	#nextId = 1;

	constructor(onChange: (toasts: Toast[]) => void, options: Partial<ToastBatcherOptions> = {}, clock: Clock = globalThis as unknown as Clock) {
		this.#onChange = onChange;
		this.#options = { ...defaultToastBatcherOptions, ...options };
		this.#clock = clock;
	}

	joined(names: readonly string[]): void {
		this.#joined.push(...names);
		this.#schedule();
	}

	left(names: readonly string[]): void {
		this.#left.push(...names);
		this.#schedule();
	}

	/** Shown at once, not batched. */
	announce(text: string): void {
		this.#show(text);
	}

	dismiss(id: number): void {
		this.#toasts = this.#toasts.filter((t) => t.id !== id);
		this.#onChange(this.#toasts);
	}

	close(): void {
		if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
		this.#flushTimer = undefined;
	}

	#schedule(): void {
		this.#flushTimer ??= this.#clock.setTimeout(() => this.#flush(), this.#options.windowMs);
	}

	#flush(): void {
		this.#flushTimer = undefined;
		const joined = describePresence(this.#joined, 'joined');
		const left = describePresence(this.#left, 'left');
		this.#joined = [];
		this.#left = [];
		const text = [joined, left].filter(Boolean).join(' · ');
		if (text) this.#show(text);
	}

	#show(text: string): void {
		const toast = { id: this.#nextId++, text };
		this.#toasts = [...this.#toasts, toast].slice(-this.#options.maxVisible);
		this.#onChange(this.#toasts);
		this.#clock.setTimeout(() => this.dismiss(toast.id), this.#options.showMs);
	}
}
