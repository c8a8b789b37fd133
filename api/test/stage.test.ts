import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { asSpaceId } from '../src/spaces/Space.js';
import { eventually, launchSpeakerBrowser, openSpeakerPage, pageEvents, pageInbound, pageRequest } from './support/speakerBrowser.js';
import { silenceWav, speechWav } from './support/speechWav.js';
import { serveStagePage } from './support/stagePageBundle.js';
import { createLiveSpace, joinSpace, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let stagePage: Awaited<ReturnType<typeof serveStagePage>>;
let dir: string;
/** Its fake microphone talks (espeak-ng speech). */
let talking: Browser;
/** Its fake microphone is silent. */
let quiet: Browser;
const pages: Page[] = [];

beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-stage-test-'));
	const speech = speechWav(dir, 'speech', 'Welcome to Tribune. This is a test of the live stage. We keep talking so that everyone can hear us clearly, without long pauses.');
	const silence = silenceWav(dir, 'silence', 5);
	[node, stagePage, talking, quiet] = await Promise.all([startTestNode(inject('redisUrl')), serveStagePage(), launchSpeakerBrowser(speech), launchSpeakerBrowser(silence)]);
});
afterEach(async () => {
	await Promise.all(pages.splice(0).map((p) => p.close()));
});
afterAll(async () => {
	await Promise.all([talking?.close(), quiet?.close(), stagePage?.close()]);
	await node?.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

async function open(browser: Browser, token: string): Promise<Page> {
	const page = await openSpeakerPage(browser, stagePage.url, node.wsUrl, token);
	pages.push(page);
	return page;
}

/** A live space with the host on `hostBrowser` and a listener, promoted to speaker, on `speakerBrowser`, both on stage. */
async function stageOfTwo(hostBrowser: Browser, speakerBrowser: Browser) {
	const { spaceId, hostId, hostToken } = await createLiveSpace(node);
	const host = await open(hostBrowser, hostToken);
	const lee = await joinSpace(node, spaceId, 'Lee');
	const speaker = await open(speakerBrowser, lee.token);
	await pageRequest(speaker, 'raiseHand');
	await pageRequest(host, 'approveHand', { participantId: lee.participantId });
	await page(host).joinStage(true);
	await page(speaker).joinStage(true);
	return { spaceId, hostId, speakerId: lee.participantId, host, speaker };
}

function page(p: Page) {
	return {
		joinStage: (publish: boolean) => p.evaluate((pub) => (globalThis as unknown as { tribune: { joinStage(p: boolean): Promise<void> } }).tribune.joinStage(pub), publish),
	};
}

/** Packets from `from` that `p` received, once they have started arriving. */
async function packetsFrom(p: Page, from: string): Promise<number> {
	return eventually(async () => {
		const n = (await pageInbound(p))[from];
		return n !== undefined && n > 0 ? n : undefined;
	}, `audio from ${from}`);
}

async function stage(spaceId: string) {
	const s = await node.spaces.stages.find(asSpaceId(spaceId));
	if (!s) throw new Error('no stage');
	return s;
}

describe('the stage, with real Chromium speakers', () => {
	it('two speakers each receive the other\'s audio, and active-speaker events name the one who talks', async () => {
		const { hostId, speakerId, host, speaker } = await stageOfTwo(talking, quiet);
		const [hostHeard, speakerHeard] = [await packetsFrom(host, speakerId), await packetsFrom(speaker, hostId)];
		await new Promise((r) => setTimeout(r, 1500));
		// The quiet speaker sends silence with Opus DTX (a few packets a second); the talker sends 50 a second.
		expect((await pageInbound(host))[speakerId]).toBeGreaterThan(hostHeard);
		expect((await pageInbound(speaker))[hostId]).toBeGreaterThan(speakerHeard + 30);
		await eventually(async () => ((await pageEvents(speaker)).some((e) => e.event === 'activeSpeaker' && (e.data as { participantId: string }).participantId === hostId) ? true : undefined), 'host named active speaker');
		const named = (await pageEvents(speaker)).filter((e) => e.event === 'activeSpeaker').map((e) => (e.data as { participantId: string }).participantId);
		expect(named).not.toContain(speakerId);
	});

	it('a listener cannot reach the stage, raises a hand, is approved, publishes and is heard', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(node);
		const host = await open(quiet, hostToken);
		await page(host).joinStage(true);
		const lee = await joinSpace(node, spaceId, 'Lee');
		const listener = await open(talking, lee.token);
		await expect(page(listener).joinStage(true)).rejects.toThrow(/not allowed|forbidden|listener/);
		await pageRequest(listener, 'raiseHand');
		await eventually(async () => ((await pageEvents(host)).some((e) => e.event === 'handQueueChanged') ? true : undefined), 'hand queue at the host');
		await pageRequest(host, 'approveHand', { participantId: lee.participantId });
		await eventually(async () => ((await pageEvents(listener)).some((e) => e.event === 'tokenRenewed') ? true : undefined), 'speaker token');
		await page(listener).joinStage(true);
		const first = await packetsFrom(host, lee.participantId);
		await new Promise((r) => setTimeout(r, 1000));
		expect((await pageInbound(host))[lee.participantId]).toBeGreaterThan(first + 20);
		expect((await stage(spaceId)).getPeer(lee.participantId)?.producers.map((p) => p.kind)).toEqual(['audio']);
		expect((await stage(spaceId)).getPeer(hostId)).toBeDefined();
	});

	it('a demoted speaker\'s producers close and the others stop receiving them', async () => {
		const { spaceId, speakerId, host } = await stageOfTwo(quiet, talking);
		await packetsFrom(host, speakerId);
		const producers = (await stage(spaceId)).getPeer(speakerId)!.producers;
		expect(producers).toHaveLength(1);
		await pageRequest(host, 'demote', { participantId: speakerId });
		expect(producers.every((p) => p.closed)).toBe(true);
		expect((await stage(spaceId)).getPeer(speakerId)).toBeUndefined();
		await eventually(async () => ((await pageEvents(host)).some((e) => e.event === 'consumerClosed') ? true : undefined), 'consumerClosed at the host');
		expect(await pageInbound(host)).toEqual({});
	});

	it('a muted speaker\'s audio stops at the server until a host unmutes them', async () => {
		const { spaceId, speakerId, host, speaker } = await stageOfTwo(quiet, talking);
		await packetsFrom(host, speakerId);
		await pageRequest(host, 'mute', { participantId: speakerId });
		const producer = (await stage(spaceId)).getPeer(speakerId)!.producers[0]!;
		expect(producer.paused).toBe(true);
		// The speaker cannot lift a host's mute.
		await expect(pageRequest(speaker, 'unmute', { participantId: speakerId })).rejects.toThrow(/host muted you/);
		await new Promise((r) => setTimeout(r, 500)); // packets already in flight
		const stopped = (await pageInbound(host))[speakerId]!;
		await new Promise((r) => setTimeout(r, 1500));
		expect((await pageInbound(host))[speakerId]).toBeLessThanOrEqual(stopped + 2);
		await pageRequest(host, 'unmute', { participantId: speakerId });
		expect(producer.paused).toBe(false);
		await eventually(async () => (((await pageInbound(host))[speakerId] ?? 0) > stopped + 20 ? true : undefined), 'audio again after unmute');
	});
});
