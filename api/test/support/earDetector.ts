import type { Page } from 'playwright-core';

/**
 * A listener's ear, for pages that play a live stream on a <video>: an init script (`context.addInitScript`) that
 * hears every media element routed through Web Audio. A page that makes its own `createMediaElementSource` (Tribune's
 * player does, for its level meter) gets a detector beside its analyser; `window.tribuneEar.attach(video)` routes
 * an element of a page that does not (unmuting it: a muted element gives Web Audio silence). Each onset — a sample
 * past 0.1 after at least 200 ms below — is stamped with when it reaches the output (`getOutputTimestamp`), as ms
 * since the epoch, in `window.tribuneEar.onsets` (and when the page's main thread learnt of it in `seen`); stalls of
 * a media element that had played are counted in `stalls` and `stalledMs`. The detector's blob module needs a context with `bypassCSP`.
 */
export const earInitScript = `(() => {
	const detector = \`
class TribuneEar extends AudioWorkletProcessor {
	constructor() { super(); this.quiet = 1e9; }
	process(inputs) {
		const ch = inputs[0] && inputs[0][0];
		if (!ch) return true;
		for (let i = 0; i < ch.length; i++) {
			if (Math.abs(ch[i]) > 0.1) {
				if (this.quiet > sampleRate * 0.2) this.port.postMessage(currentTime + i / sampleRate);
				this.quiet = 0;
			} else this.quiet++;
		}
		return true;
	}
}
registerProcessor('tribune-ear', TribuneEar);\`;
	const moduleUrl = URL.createObjectURL(new Blob([detector], { type: 'application/javascript' }));
	const ear = { onsets: [], seen: [], detectors: 0, stalls: 0, stalledMs: 0, attach: undefined };
	window.tribuneEar = ear;
	// Stalls: a media element that had played waits for data (not the 'waiting' of a seek). Media events do not
	// bubble, but a capturing listener on the document sees them.
	let played = false;
	let stalledAt;
	document.addEventListener('playing', () => {
		played = true;
		if (stalledAt !== undefined) ear.stalledMs += Date.now() - stalledAt;
		stalledAt = undefined;
	}, true);
	document.addEventListener('waiting', (event) => {
		if (!played || event.target.seeking || stalledAt !== undefined) return;
		ear.stalls++;
		stalledAt = Date.now();
	}, true);
	const routed = new WeakSet();
	async function listen(context, source) {
		await context.audioWorklet.addModule(moduleUrl);
		const node = new AudioWorkletNode(context, 'tribune-ear');
		node.port.onmessage = (event) => {
			const out = context.getOutputTimestamp();
			// Context time of the onset → when that sample is output, on the page's clock; without an output clock yet, now.
			const heard = out.contextTime > 0 && out.performanceTime > 0 ? performance.timeOrigin + out.performanceTime + (event.data - out.contextTime) * 1000 : Date.now();
			ear.onsets.push(heard);
			ear.seen.push(Date.now());
		};
		// The detector outputs silence; connected to the destination so the graph keeps pulling it.
		source.connect(node).connect(context.destination);
		ear.detectors++;
	}
	const create = AudioContext.prototype.createMediaElementSource;
	AudioContext.prototype.createMediaElementSource = function (element) {
		const source = create.call(this, element);
		routed.add(element);
		listen(this, source).catch((error) => console.error('tribuneEar:', error));
		return source;
	};
	ear.attach = async (element) => {
		if (routed.has(element)) return;
		element.muted = false;
		const context = new AudioContext();
		await context.resume();
		context.createMediaElementSource(element).connect(context.destination);
	};
})();`;

/** Onsets heard so far on `page`, ms since the epoch. */
export const earOnsets = (page: Page): Promise<number[]> => page.evaluate('window.tribuneEar.onsets.slice()') as Promise<number[]>;

/** Stalls since the page opened: how many, and their time so far (ms; one still open is not counted yet). */
export const earStalls = (page: Page): Promise<{ stalls: number; stalledMs: number }> =>
	page.evaluate('({ stalls: window.tribuneEar.stalls, stalledMs: window.tribuneEar.stalledMs })') as Promise<{ stalls: number; stalledMs: number }>;

/** Routes the page's first <video> through the ear (for a page without Web Audio of its own). */
export const attachEar = (page: Page): Promise<void> => page.evaluate('window.tribuneEar.attach(document.querySelector("video"))') as Promise<void>;
