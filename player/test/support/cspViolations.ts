/// <reference types="node" />
import type { BrowserContext } from 'playwright-core';

/** One Content-Security-Policy violation Chromium reported, from a page's event or its console. */
export interface CspViolation {
	/** The page (or frame) it happened in. */
	url: string;
	/** `securitypolicyviolation` event or a console message ("Refused to …"). */
	source: 'event' | 'console';
	/** The directive that refused (effectiveDirective), or the console text. */
	what: string;
	blockedUri?: string;
	sourceFile?: string;
	line?: number;
}

/**
 * Collects every CSP violation in a browser context: a `securitypolicyviolation` listener in every page and frame
 * before its own scripts run (reported through a binding, so nothing is lost when a page navigates or closes), and
 * the console's "Refused to …" errors (a refused frame-ancestors is reported only there, in the framing page).
 * Start it before the context opens a page; every journey ends with `expect(violations.list()).toEqual([])`.
 */
export class CspViolations {
	readonly #seen: CspViolation[] = [];

	private constructor() {}

	static async watch(context: BrowserContext): Promise<CspViolations> {
		const watcher = new CspViolations();
		await context.exposeBinding('__tribuneCspViolation', ({ frame }, violation: Omit<CspViolation, 'url' | 'source'>) => {
			watcher.#seen.push({ url: frame.url(), source: 'event', ...violation });
		});
		// Captured on window: a violation is dispatched at the element's document (or the window) and reaches it.
		// As source text: this file is also compiled for the API's tests, without the DOM's types.
		await context.addInitScript({
			content: `window.addEventListener('securitypolicyviolation', (e) => {
				window.__tribuneCspViolation?.({ what: e.effectiveDirective, blockedUri: e.blockedURI, sourceFile: e.sourceFile, line: e.lineNumber });
			}, true);`,
		});
		context.on('console', (message) => {
			const text = message.text();
			if (message.type() === 'error' && /Content Security Policy|Refused to (load|execute|apply|connect|frame|evaluate|create)/.test(text)) {
				watcher.#seen.push({ url: message.page()?.url() ?? '', source: 'console', what: text });
			}
		});
		return watcher;
	}

	/** Every violation so far. */
	list(): CspViolation[] {
		return [...this.#seen];
	}

	/** Those seen since `mark` (a previous `list().length`). */
	since(mark: number): CspViolation[] {
		return this.#seen.slice(mark);
	}
}
