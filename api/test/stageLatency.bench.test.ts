import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchSpeakerBrowser, openSpeakerPage, pageRequest, type Tribune } from './support/speakerBrowser.js';
import { silenceWav } from './support/speechWav.js';
import { serveStagePage } from './support/stagePageBundle.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

/**
 * `npm run bench:stage`: stage mouth-to-ear latency on loopback. A Chromium speaker publishes a beep a second
 * from its audio graph; another Chromium speaker on the same stage detects each beep's onset in the audio it
 * receives (after the SFU, its jitter buffer and decoder). Same browser, same clock. Writes
 * { p50_ms, p95_ms, … } to TRIBUNE_BENCH_OUT. Skipped unless TRIBUNE_BENCH=1; timing goals live here, not in tests.
 */
const durationS = Number(process.env.TRIBUNE_BENCH_DURATION_S ?? 32);
const periodS = 1;

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('stage latency bench', () => {
	let node: TestNode;
	let stagePage: Awaited<ReturnType<typeof serveStagePage>>;
	let browser: Browser;
	let dir: string;
	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-bench-'));
		[node, stagePage, browser] = await Promise.all([startTestNode(inject('redisUrl')), serveStagePage(), launchSpeakerBrowser(silenceWav(dir, 'silence', 2))]);
	});
	afterAll(async () => {
		await browser?.close();
		await stagePage?.close();
		await node?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it(`measures beep onset latency speaker → SFU → speaker over ${durationS} s`, { timeout: (durationS + 60) * 1000 }, async () => {
		const out = process.env.TRIBUNE_BENCH_OUT;
		// A failed run must not leave an earlier run's figures to be printed.
		if (out) fs.rmSync(out, { force: true });
		const { spaceId, hostToken } = await createLiveSpace(node);
		const ear = await openSpeakerPage(browser, stagePage.url, node.wsUrl, hostToken);
		const lee = await joinSpace(node, spaceId, 'Mouth');
		const mouth = await openSpeakerPage(browser, stagePage.url, node.wsUrl, lee.token);
		await pageRequest(mouth, 'raiseHand');
		await pageRequest(ear, 'approveHand', { participantId: lee.participantId });
		await ear.evaluate(() => (globalThis as unknown as Tribune).tribune.joinStage(false));
		await mouth.evaluate((p) => (globalThis as unknown as Tribune).tribune.joinStageWithBeeps(p), periodS);
		await new Promise((r) => setTimeout(r, durationS * 1000));
		const beeps = await mouth.evaluate(() => (globalThis as unknown as Tribune).tribune.beepTimes);
		const onsets = (await ear.evaluate(() => (globalThis as unknown as Tribune).tribune.onsetTimes))[lee.participantId] ?? [];
		// Each onset belongs to the last beep before it; one beep a second keeps the pairing unambiguous.
		const latencies: number[] = [];
		for (const onset of onsets) {
			const beep = beeps.filter((b) => b <= onset).at(-1);
			if (beep !== undefined && onset - beep < periodS * 1000) latencies.push(onset - beep);
		}
		latencies.sort((a, b) => a - b);
		expect(latencies.length).toBeGreaterThanOrEqual(Math.floor(durationS / periodS) - 5);
		const result = {
			p50_ms: Math.round(percentile(latencies, 50)),
			p95_ms: Math.round(percentile(latencies, 95)),
			min_ms: Math.round(latencies[0]!),
			max_ms: Math.round(latencies.at(-1)!),
			samples: latencies.length,
			beeps: beeps.length,
			duration_s: durationS,
		};
		if (out) fs.writeFileSync(out, `${JSON.stringify(result)}\n`);
	});
});
