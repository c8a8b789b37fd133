/**
 * Collects join/leave notices and says them as one toast per batch: "Ada joined", "Ada and Bo joined",
 * "12 people joined". Role changes are announced one by one; they are rare and matter.
 */
export interface Toast {
	id: number;
	text: string;
}

/** Words for a batch of names that joined or left; `count` includes people the server did not name (big crowds). */
export function describePresence(names: readonly string[], verb: 'joined' | 'left', count = names.length): string | undefined {
	const total = Math.max(count, names.length);
	if (total === 0) return undefined;
	if (total === 1 && names.length === 1) return `${names[0]} ${verb}`;
	if (total === 2 && names.length === 2) return `${names[0]} and ${names[1]} ${verb}`;
	return `${total} ${total === 1 ? 'person' : 'people'} ${verb}`;
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
	/** People beyond the names (the server names only the first few of a big crowd per tick). */
	#joinedUnnamed = 0;
	#leftUnnamed = 0;
	#flushTimer: unknown;
	#toasts: Toast[] = [];
	#nextId = 1;

	constructor(onChange: (toasts: Toast[]) => void, options: Partial<ToastBatcherOptions> = {}, clock: Clock = globalThis as unknown as Clock) {
		this.#onChange = onChange;
		this.#options = { ...defaultToastBatcherOptions, ...options };
		this.#clock = clock;
	}

	/** `count`: everyone who joined, named or not (default: the names). */
	joined(names: readonly string[], count = names.length): void {
		this.#joined.push(...names);
		this.#joinedUnnamed += Math.max(0, count - names.length);
		if (count > 0) this.#schedule();
	}

	left(names: readonly string[], count = names.length): void {
		this.#left.push(...names);
		this.#leftUnnamed += Math.max(0, count - names.length);
		if (count > 0) this.#schedule();
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
		const joined = describePresence(this.#joined, 'joined', this.#joined.length + this.#joinedUnnamed);
		const left = describePresence(this.#left, 'left', this.#left.length + this.#leftUnnamed);
		this.#joined = [];
		this.#left = [];
		this.#joinedUnnamed = 0;
		this.#leftUnnamed = 0;
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
