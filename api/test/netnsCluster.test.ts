import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlayer, playerRoutes, sample, type PlayerSample } from './origin/support/hlsPage.js';
import { decodeWithFfmpeg } from './support/decodeWithFfmpeg.js';
import { NetnsLab } from './support/netns.js';
import { launchChromiumOn, MachineApi, stallMs, startMachineEdge, startMachineRedis, startMachineTranscoder, within, type ClusterShared, type MachineProcess } from './support/netnsCluster.js';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { commandOf } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { serveStagePage } from './support/stagePageBundle.js';
import { postJson } from './support/startTestNode.js';

/**
 * Tribune across machines, each machine a network namespace on one bridge (compiled: build first): Redis on one,
 * API nodes A and B, two transcoders, the shipped nginx edge in front of B, and the clients (headless Chromium) on
 * their own. A host speaks from Chromium on node A's stage (WebRTC to A's address); listeners play the broadcast
 * with hls.js through the edge and hold a signaling connection through it. Then node A's machine loses its
 * processes (SIGKILL to everything in it): the speaker's connection closes, the client reconnects to B and rebuilds
 * its media there, and the listeners play on without a reload; then the transcoder machine running the broadcast
 * loses its processes: BullMQ hands the broadcast to the other, and the listeners play on. Heard: the speaker's
 * audio is in the parts listeners get, after each fault. Join times and the stall per fault are printed as JSON.
 */
const machines = ['redis', 'a', 'b', 'tx1', 'tx2', 'edge', 'clients'] as const;
const available = NetnsLab.available() && fs.existsSync('/usr/sbin/nginx') && fs.existsSync('/usr/bin/chromium');

let lab: NetnsLab | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-nc-'));
const processes: MachineProcess[] = [];
let a: MachineApi;
let b: MachineApi;
let edgeBase = '';
let pageServer: http.Server | undefined;
let pageBase = '';
let browser: Browser | undefined;
const signaling: SignalingClient[] = [];
const figures: Record<string, unknown> = {};

const context = () => processes.map((p) => p.output()).join('\n');
const healthz = async (base: string) => (await (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })).json()) as { ok: boolean; transcoders: number };

describe.skipIf(!available)('Tribune across machines (network namespaces)', () => {
	beforeAll(async () => {
		lab = NetnsLab.create('trib-nc', machines);
		const redis = startMachineRedis(lab, 'redis', dir);
		processes.push(redis);
		const shared: ClusterShared = { redisUrl: `redis://${lab.ip('redis')}:6379`, tokenSecret: randomUUID() + randomUUID(), adminKey: randomUUID() + randomUUID(), dir };
		a = new MachineApi(lab, 'a', shared, lab.ip('edge'));
		b = new MachineApi(lab, 'b', shared, lab.ip('edge'));
		processes.push(a, b, startMachineTranscoder(lab, 'tx1', shared), startMachineTranscoder(lab, 'tx2', shared));
		await within('both API nodes healthy with two transcoders', 60_000, async () => {
			const [ha, hb] = await Promise.all([healthz(a.baseUrl), healthz(b.baseUrl)]);
			return ha.ok && hb.ok && ha.transcoders === 2 ? true : undefined;
		}, context);
		const edge = startMachineEdge(lab, 'edge', `${lab.ip('b')}:8080`, dir);
		processes.push(edge);
		edgeBase = edge.baseUrl;
		await within('the edge passing /healthz to B', 15_000, async () => ((await healthz(edgeBase)).ok ? true : undefined), context);

		// The clients' pages come from the test process (the root namespace, on the bridge): the stage client and the
		// hls.js player. The lab has no TLS: Chromium is told to treat this origin as secure (getUserMedia).
		const stagePage = await serveStagePage();
		const stageScript = Buffer.from(await (await fetch(`${stagePage.url}stage.js`)).arrayBuffer());
		await stagePage.close();
		const app = express();
		playerRoutes(app);
		app.get('/stage.js', (_req, res) => res.type('text/javascript').send(stageScript));
		app.get('/stage.html', (_req, res) => res.type('html').send('<!doctype html><html><body><script src="/stage.js"></script></body></html>'));
		pageServer = http.createServer(app).listen(0, lab.hostIp);
		await new Promise((resolve) => pageServer!.once('listening', resolve));
		pageBase = `http://${lab.hostIp}:${(pageServer.address() as AddressInfo).port}`;
		browser = await launchChromiumOn(lab, 'clients', dir, [pageBase]);
	}, 180_000);

	afterAll(async () => {
		for (const client of signaling) client.close();
		// Each step is bounded and best effort, so the lab is torn down whatever failed before.
		await browser?.close().catch(() => undefined);
		pageServer?.closeAllConnections();
		pageServer?.close();
		await lab?.destroy();
		fs.rmSync(dir, { recursive: true, force: true });
		if (Object.keys(figures).length > 0) console.log(JSON.stringify({ ...figures, load: os.loadavg()[0] }));
	}, 60_000);

	let spaceId = '';
	let hostToken = '';
	let speaker: Page;
	let listener: Page;
	let watcher: PlaylistWatcher;

	/** The speaker page's WebSocket closes (epoch ms), recorded by an init script before the page's code runs. */
	const closes = async (): Promise<{ at: number; code: number }[]> => (await speaker.evaluate('window.__closes')) as { at: number; code: number }[];
	const sent = async (): Promise<number> => (await speaker.evaluate('window.tribune.outboundAudioPackets()')) as number;

	/**
	 * Loudest sample (0–32767) in the newest `parts` parts the edge serves, decoded by ffmpeg; parts listed after
	 * `after` (epoch ms, as the watcher saw them) only. The fake microphone beeps: speech in the broadcast is loud.
	 */
	async function loudestAtEdge(after: number, parts = 10): Promise<number> {
		const dirUrl = `${edgeBase}/hls/${spaceId}/audio`;
		const playlist = await (await fetch(`${dirUrl}/index.m3u8`)).text();
		const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
		const uris = [...playlist.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].map((m) => m[1]!).filter((uri) => (watcher.parts.get(uri) ?? 0) > after).slice(-parts);
		if (!init || uris.length < parts) return -1;
		const bytes = await Promise.all([init, ...uris].map(async (uri) => Buffer.from(await (await fetch(`${dirUrl}/${uri}`)).arrayBuffer())));
		const pcm = await decodeWithFfmpeg(Buffer.concat(bytes), ['-ac', '1', '-f', 's16le']);
		let loudest = 0;
		for (let i = 0; i + 1 < pcm.length; i += 2) loudest = Math.max(loudest, Math.abs(pcm.readInt16LE(i)));
		return loudest;
	}
	const heardAfter = (after: number, what: string) => within(what, 45_000, async () => ((await loudestAtEdge(after)) > 3000 ? true : undefined), context);

	/**
	 * The listener plays 6 s of media past where it was at the fault (`before`, `faultAt`), without a reload and with
	 * no fatal error; its stall and the origin's longest gap between parts go to the figures as `<fault>_…`.
	 */
	async function listenerPlaysOn(fault: string, before: PlayerSample, faultAt: number): Promise<void> {
		await within(`the listener to play 6 s past the ${fault}`, 90_000, async () => ((await sample(listener)).currentTime > before.currentTime + 6 ? true : undefined), context);
		const after = await sample(listener);
		expect(after.errors.filter((e) => e.startsWith('FATAL'))).toEqual([]);
		figures[`${fault}_listener_stall_ms`] = stallMs(after, faultAt, Date.now());
		figures[`${fault}_origin_part_gap_ms`] = watcher.maxGap(faultAt - 1000, Date.now());
	}

	it('a speaker on node A is heard by listeners playing through the edge on node B', { timeout: 180_000 }, async () => {
		const created = await postJson(`${a.baseUrl}/api/spaces`, { title: 'Across machines', hostName: 'Hana Host' });
		expect(created.status).toBe(201);
		spaceId = created.body.space!.id;
		hostToken = created.body.token!;
		expect((await postJson(`${a.baseUrl}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);

		speaker = await browser!.newPage();
		await speaker.addInitScript(`
			window.__closes = [];
			const Native = window.WebSocket;
			window.WebSocket = class extends Native {
				constructor(url, protocols) {
					super(url, protocols);
					this.addEventListener('close', (e) => window.__closes.push({ at: Date.now(), code: e.code }));
				}
			};
		`);
		await speaker.goto(`${pageBase}/stage.html`);
		await speaker.waitForFunction(() => 'tribune' in globalThis, undefined, { timeout: 10_000 });
		const joinStart = Date.now();
		await speaker.evaluate(([url, token]) => (globalThis as unknown as { tribune: { connect(u: string, t: string): Promise<void> } }).tribune.connect(url, token), [a.wsUrl, hostToken] as const);
		await speaker.evaluate('window.tribune.joinStage(true)');
		await within('the speaker sending audio to node A', 20_000, async () => ((await sent()) > 50 ? true : undefined), context);
		figures.speaker_join_ms = Date.now() - joinStart;

		watcher = new PlaylistWatcher(`${edgeBase}/hls/${spaceId}/audio/index.m3u8`);
		watcher.start();
		await within('parts through the edge', 60_000, async () => (watcher.parts.size >= 10 ? true : undefined), context);

		// A listener joins through the edge (REST and signaling land on B) and plays the broadcast there.
		const listenerJoinStart = Date.now();
		const joined = await postJson(`${edgeBase}/api/spaces/${spaceId}/join`, { displayName: 'Lee Listener' });
		expect(joined.status).toBe(200);
		const socket = await SignalingClient.connect(`${edgeBase.replace(/^http/, 'ws')}/ws`, joined.body.token!);
		signaling.push(socket);
		expect((await socket.request('getState')).you.role).toBe('listener');
		figures.listener_rest_and_socket_via_edge_ms = Date.now() - listenerJoinStart;
		const loadStart = Date.now();
		listener = await openPlayer(browser!, pageBase, `${edgeBase}/hls/${spaceId}/master.m3u8`);
		await within('the listener playing', 40_000, async () => ((await sample(listener)).currentTime > 0.1 ? true : undefined), context);
		figures.listener_playing_ms = Date.now() - loadStart;
		await within('the listener 2 s in', 40_000, async () => ((await sample(listener)).currentTime > 2 ? true : undefined), context);
		await heardAfter(joinStart, 'the speaker heard at the edge');
	});

	it('node A\'s machine loses its processes: the speaker is told and rebuilds on B, the listener plays on', { timeout: 180_000 }, async () => {
		expect(spaceId).not.toBe('');
		const before = await sample(listener);
		const killedAt = Date.now();
		expect(await lab!.killAll('a')).toBeGreaterThan(0);
		// Told: the speaker's signaling connection closes (a node that is gone cannot say more).
		const closed = await within('the speaker\'s socket to close', 30_000, async () => (await closes()).at(-1), context);
		figures.speaker_told_ms = closed.at - killedAt;
		// The client reconnects as the player does (a load balancer would send it to a live node: B here) and
		// rebuilds its transports and producer there; B opens the stage and publishes it, and the transcoder follows.
		await speaker.evaluate(([url, token]) => (globalThis as unknown as { tribune: { connect(u: string, t: string): Promise<void> } }).tribune.connect(url, token), [b.wsUrl, hostToken] as const);
		await speaker.evaluate('window.tribune.joinStage(true)');
		await within('the speaker sending audio to node B', 20_000, async () => ((await sent()) > 50 ? true : undefined), context);
		figures.speaker_rebuilt_on_b_ms = Date.now() - killedAt;
		await heardAfter(Date.now(), 'the speaker heard again after moving to B');
		figures.speaker_heard_again_after_kill_ms = Date.now() - killedAt;

		await listenerPlaysOn('node_kill', before, killedAt);
		// The listener's signaling through the edge (on B) stayed up.
		expect((await signaling[0]!.request('getState')).space.state).toBe('live');
	});

	it('the transcoder machine running the broadcast loses its processes: another takes it, the listener plays on', { timeout: 180_000 }, async () => {
		expect(spaceId).not.toBe('');
		const encoding = (machine: string) => lab!.pids(machine).some((pid) => commandOf(pid).startsWith('ffmpeg'));
		const running = await within('the transcoder encoding the broadcast', 20_000, async () => ['tx1', 'tx2'].find(encoding), context);
		const other = running === 'tx1' ? 'tx2' : 'tx1';
		const before = await sample(listener);
		const killedAt = Date.now();
		await lab!.killAll(running);
		await within(`the broadcast moved to ${other}`, 60_000, async () => (encoding(other) ? true : undefined), context);
		figures.transcoder_kill_moved_ms = Date.now() - killedAt;
		await heardAfter(Date.now(), 'the speaker heard from the new transcoder');
		figures.transcoder_kill_heard_again_ms = Date.now() - killedAt;
		await listenerPlaysOn('transcoder_kill', before, killedAt);
		watcher.stop();
	});
});
