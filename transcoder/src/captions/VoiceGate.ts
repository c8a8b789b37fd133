import { captionSampleRateHz } from './CaptionEngine.js';
import { type PcmFrame } from './pcmFrames.js';

export interface VoiceGateOptions {
	/**
	 * A window at least this loud (RMS, dB relative to full scale) opens the gate. Default -50: room noise behind a
	 * browser's noise suppression sits well below, quiet speech well above. `-Infinity` keeps the gate always open.
	 */
	openAboveDbfs: number;
	/** Audio kept while closed and sent ahead of the window that opens the gate, so onsets are not clipped, ms. Default 300. */
	preRollMs: number;
	/**
	 * Quiet audio still sent after the last loud window before the gate closes, ms. Longer than the recogniser's
	 * end-of-speech silence so that it, not the gate, ends utterances. Default 800.
	 */
	hangoverMs: number;
	/** Analysis window, ms. Default 20 (one Opus frame). */
	windowMs: number;
}

export const voiceGateDefaults: Readonly<VoiceGateOptions> = Object.freeze({
	openAboveDbfs: -50,
	preRollMs: 300,
	hangoverMs: 800,
	windowMs: 20,
});

interface Window {
	streamSample: number;
	samples: Int16Array;
}

/**
 * Decides which audio reaches the recogniser, so a silent speaker costs almost nothing: while the level stays under
 * `openAboveDbfs` nothing is sent. Runs on the caller's thread and does one pass over the samples. Audio it passes
 * keeps its stream position; a `pause` frame marks where it closed.
 */
export class VoiceGate {
	readonly #options: VoiceGateOptions;
	readonly #windowSamples: number;
	readonly #threshold: number;
	#carry = new Int16Array(0);
	#streamSample = 0;
	#open = false;
	#lastLoudEnd = 0;
	#preRoll: Window[] = [];

	constructor(options: Partial<VoiceGateOptions> = {}) {
		this.#options = { ...voiceGateDefaults, ...options };
		const { windowMs, preRollMs, hangoverMs, openAboveDbfs } = this.#options;
		if (!(windowMs >= 5 && windowMs <= 100)) throw new Error(`voice gate windowMs must be 5-100, got ${windowMs}`);
		if (!(preRollMs >= 0) || !(hangoverMs >= 0)) throw new Error('voice gate preRollMs and hangoverMs must be 0 or more');
		if (Number.isNaN(openAboveDbfs) || openAboveDbfs > 0) throw new Error(`voice gate openAboveDbfs must be ≤ 0 dBFS, got ${openAboveDbfs}`);
		this.#windowSamples = Math.round((windowMs * captionSampleRateHz) / 1000);
		// Compare mean squares to avoid a sqrt and a log per window: RMS ≥ 10^(dB/20)·32768 ⇔ MS ≥ (…)².
		this.#threshold = (10 ** (openAboveDbfs / 20) * 32768) ** 2;
	}

	/** True while audio is passing. */
	get isOpen(): boolean {
		return this.#open;
	}

	/**
	 * Takes the next samples of the stream; returns what to send, merged into as few frames as possible. Samples that
	 * do not fill a window wait for the next call.
	 */
	push(samples: Int16Array): PcmFrame[] {
		const input = this.#carry.length === 0 ? samples : concat(this.#carry, samples);
		const out: PcmFrame[] = [];
		let offset = 0;
		for (; offset + this.#windowSamples <= input.length; offset += this.#windowSamples) {
			const window = { streamSample: this.#streamSample, samples: input.subarray(offset, offset + this.#windowSamples) };
			this.#streamSample += this.#windowSamples;
			this.#take(window, out);
		}
		this.#carry = input.slice(offset);
		return out;
	}

	#take(window: Window, out: PcmFrame[]): void {
		const loud = meanSquare(window.samples) >= this.#threshold;
		const end = window.streamSample + window.samples.length;
		if (!this.#open) {
			if (!loud) {
				this.#preRoll.push({ streamSample: window.streamSample, samples: window.samples.slice() });
				const keep = Math.ceil(this.#options.preRollMs / this.#options.windowMs);
				if (this.#preRoll.length > keep) this.#preRoll.splice(0, this.#preRoll.length - keep);
				return;
			}
			this.#open = true;
			for (const w of this.#preRoll) append(out, w);
			this.#preRoll = [];
		}
		append(out, window);
		if (loud) {
			this.#lastLoudEnd = end;
		} else if (end - this.#lastLoudEnd >= (this.#options.hangoverMs * captionSampleRateHz) / 1000) {
			this.#open = false;
			out.push({ kind: 'pause', streamSample: end });
		}
	}
}

function meanSquare(samples: Int16Array): number {
	let sum = 0;
	for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
	return sum / samples.length;
}

/** Adds a window to `out`, extending the last audio frame when it continues it. */
function append(out: PcmFrame[], window: Window): void {
	const last = out.at(-1);
	if (last?.kind === 'audio' && last.streamSample + last.samples.length === window.streamSample) {
		out[out.length - 1] = { kind: 'audio', streamSample: last.streamSample, samples: concat(last.samples, window.samples) };
	} else {
		out.push({ kind: 'audio', streamSample: window.streamSample, samples: window.samples.slice() });
	}
}

function concat(a: Int16Array, b: Int16Array): Int16Array {
	const out = new Int16Array(a.length + b.length);
	out.set(a, 0);
	out.set(b, a.length);
	return out;
}
