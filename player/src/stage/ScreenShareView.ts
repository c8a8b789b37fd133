import { shallowRef } from 'vue';

/** A screen share on stage as this speaker sees it: someone else's (consumed) or their own (a local preview). */
export interface ScreenView {
	participantId: string;
	stream: MediaStream;
	mine: boolean;
	/** Called by what shows it, once its first picture is on screen: a picture it replaced may go then. */
	shown: () => void;
}

/** A received screen: its consumer and producer (the share it is, as `screenShare` events name it). */
export interface ReceivedScreen {
	consumerId: string;
	producerId: string;
	participantId: string;
	stream: MediaStream;
}

interface Received {
	consumerId: string;
	producerId: string;
	serial: number;
	/** Its consumer is gone at the server: kept only for its last picture, until its successor's shows. */
	ended: boolean;
}

/**
 * How long a replaced share's last picture may wait for its successor's first, ms: past it (the successor never came
 * to this page, or never showed a picture) the page shows what it has.
 */
export const replacedShareHoldMs = 10_000;

/**
 * The share this page receives, and the hand-over from one share to the next. A replacement reaches the page as the
 * new share (`screenShare`), its consumer, then the old consumer's end, which may come while mediasoup-client still
 * sets the new consumer up (a renegotiation in its queue); and a consumer closed here stops its track, which blacks
 * out its picture. So a share's end, while the space already has another share, keeps its view and its consumer
 * open (the last picture stays, frozen) until a later view is shown (the new share's first picture, or our own
 * preview when the successor is ours: `ScreenShareFigure` says when), the space has no share, or
 * `replacedShareHoldMs` passes; the same for a share the same speaker makes anew, and for our own preview when our
 * share is replaced (`replaced`). Views are numbered as made: "later" is by that number.
 */
export class ScreenShareView {
	/** Someone else's share, as shown (a replaced one until its successor's picture is on screen). */
	readonly remote = shallowRef<ScreenView | undefined>();
	readonly #holdMs: number;
	#serial = 0;
	#shownSerial = 0;
	#current: Received | undefined;
	/** The space's share as last announced (undefined: nothing heard yet). */
	#announced: { producerId: string } | null | undefined;
	/** Screen consumers made here and not yet ended: their view's number. */
	readonly #serials = new Map<string, number>();
	readonly #viewSerials = new WeakMap<ScreenView, number>();
	/** Ended consumers (and replaced previews of ours) whose pictures may still be on screen: released when a later view shows. */
	readonly #held = new Map<string | ScreenView, { serial: number; release: () => void }>();
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(options: { holdMs?: number } = {}) {
		this.#holdMs = options.holdMs ?? replacedShareHoldMs;
	}

	/** A view of a stream (our own preview too), numbered after every view made before it. */
	view(participantId: string, stream: MediaStream, mine: boolean): ScreenView {
		const serial = ++this.#serial;
		const view = { participantId, stream, mine, shown: () => this.#shown(serial) };
		this.#viewSerials.set(view, serial);
		return view;
	}

	/**
	 * Our own share was replaced: settles once a later picture shows (the successor's), the space has no share, the
	 * hold passes or we leave, when its capture may stop (which blacks out its preview).
	 */
	replaced(view: ScreenView): Promise<void> {
		const serial = this.#viewSerials.get(view) ?? 0;
		return this.#shownSerial > serial ? Promise.resolve() : this.#hold(view, serial);
	}

	/** A screen consumer arrived: it is the share to show (what shows it keeps the previous picture until its first). */
	received({ consumerId, producerId, participantId, stream }: ReceivedScreen): void {
		const view = this.view(participantId, stream, false);
		const serial = this.#serial;
		this.#serials.set(consumerId, serial);
		this.#current = { consumerId, producerId, serial, ended: false };
		this.remote.value = view;
	}

	/**
	 * A screen consumer ended at the server. Answers when it may be closed: undefined for now, or a promise that
	 * settles once its picture has been replaced on screen (or may go for another reason). Not a screen: undefined.
	 */
	ended(consumerId: string): Promise<void> | undefined {
		const serial = this.#serials.get(consumerId);
		if (serial === undefined) return undefined;
		this.#serials.delete(consumerId);
		const current = this.#current;
		if (current?.consumerId === consumerId) {
			const next = this.#announced;
			// Not replaced (the space has no share, or has not told of another yet): the share goes now.
			if (!next || next.producerId === current.producerId || this.#shownSerial > serial) {
				this.#dropCurrent();
				return undefined;
			}
			current.ended = true;
		} else if (this.#shownSerial > serial) return undefined;
		return this.#hold(consumerId, serial);
	}

	/** The space's share changed (a `screenShare` event): with none, nothing waits for a successor. */
	announced(share: { producerId: string } | null): void {
		this.#announced = share && { producerId: share.producerId };
		if (!share) this.#releaseAll();
	}

	/** Leaving the stage: nothing is shown nor held (closing the transport closes the consumers). */
	clear(): void {
		this.#releaseAll();
		this.#serials.clear();
		this.#dropCurrent();
		this.#announced = undefined;
	}

	#hold(key: string | ScreenView, serial: number): Promise<void> {
		return new Promise<void>((release) => {
			this.#held.set(key, { serial, release });
			this.#timer ??= setTimeout(() => this.#releaseAll(), this.#holdMs);
		});
	}

	#shown(serial: number): void {
		if (serial <= this.#shownSerial) return;
		this.#shownSerial = serial;
		for (const [key, held] of this.#held) {
			if (held.serial >= serial) continue;
			this.#held.delete(key);
			held.release();
		}
		if (this.#current?.ended && this.#current.serial < serial) this.#dropCurrent();
		if (this.#held.size === 0) this.#stopTimer();
	}

	#releaseAll(): void {
		this.#stopTimer();
		const held = [...this.#held.values()];
		this.#held.clear();
		for (const h of held) h.release();
		if (this.#current?.ended) this.#dropCurrent();
	}

	#dropCurrent(): void {
		this.#current = undefined;
		this.remote.value = undefined;
	}

	#stopTimer(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
	}
}
