import { chromium, type Browser, type Page } from 'playwright-core';

/** Headless Chromium whose fake microphone plays `wavPath` in a loop. */
export function launchSpeakerBrowser(wavPath: string): Promise<Browser> {
	return chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			`--use-file-for-fake-audio-capture=${wavPath}`,
			// Let remote audio play without a user gesture.
			'--autoplay-policy=no-user-gesture-required',
		],
	});
}

/** A speaker page with `window.tribune` loaded and connected to signaling with `token`. */
export async function openSpeakerPage(browser: Browser, pageUrl: string, wsUrl: string, token: string): Promise<Page> {
	const page = await browser.newPage();
	page.on('pageerror', (error) => console.error('page error:', error));
	await page.goto(pageUrl);
	await page.waitForFunction(() => 'tribune' in globalThis, undefined, { timeout: 10_000 });
	await page.evaluate(([url, t]) => (globalThis as unknown as Tribune).tribune.connect(url, t), [wsUrl, token] as const);
	return page;
}

/** The page handle's type, as the test sees it from outside the page. */
export interface Tribune {
	tribune: {
		events: { event: string; data: unknown }[];
		connect(wsUrl: string, token: string): Promise<void>;
		request(name: string, data: unknown): Promise<unknown>;
		joinStage(publish: boolean): Promise<void>;
		joinStageWithBeeps(periodS: number): Promise<void>;
		beepTimes: number[];
		onsetTimes: Record<string, number[]>;
		leaveStage(): void;
		inboundAudioPackets(): Promise<Record<string, number>>;
		outboundAudioPackets(): Promise<number>;
	};
}

export const pageRequest = (page: Page, name: string, data: unknown = {}): Promise<unknown> =>
	page.evaluate(([n, d]) => (globalThis as unknown as Tribune).tribune.request(n, d), [name, data] as const);

export const pageInbound = (page: Page): Promise<Record<string, number>> => page.evaluate(() => (globalThis as unknown as Tribune).tribune.inboundAudioPackets());

export const pageEvents = (page: Page): Promise<{ event: string; data: unknown }[]> => page.evaluate(() => (globalThis as unknown as Tribune).tribune.events);

/** Polls `check` every 200 ms until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
		await new Promise((r) => setTimeout(r, 200));
	}
}
