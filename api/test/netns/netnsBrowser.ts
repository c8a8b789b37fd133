import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Headless Chromium inside a network namespace: Playwright starts a wrapper that enters the namespace and runs
 * Chromium there (the DevTools pipe is inherited, so the test drives it from the root namespace). `secureOrigins`:
 * plain-http origins Chromium treats as secure (the stage page's AudioWorklet needs a secure context). `extraArgs`: more
 * switches (a test CA's key to trust: `--ignore-certificate-errors-spki-list=`).
 */
export function launchInNamespace(ns: string, dir: string, secureOrigins: string[], extraArgs: string[] = []): Promise<Browser> {
	if (!/^trib-[a-z0-9-]{1,40}$/.test(ns)) throw new Error(`namespace ${ns}: expected trib-…`);
	const wrapper = path.join(dir, `chromium-${ns}.sh`);
	const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
	fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${chromiumPath} "$@"\n`, { mode: 0o700 });
	return chromium.launch({
		executablePath: wrapper,
		args: [
			'--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
			`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`,
			// Host candidates with their real addresses (not mDNS names): the namespaces have no mDNS responder.
			'--disable-features=WebRtcHideLocalIpsWithMdns',
			...extraArgs,
		],
	});
}

// The page's types, as far as these helpers use them (the API's tests are compiled without the DOM library).
interface PagePeerConnection {
	connectionState: string;
	getStats(): Promise<{ forEach(visit: (stat: Record<string, unknown> & { type: string; id: string }) => void): void }>;
}
type PeerConnectionClass = new (config?: { iceServers?: { username?: string }[] }) => PagePeerConnection;
interface WatchedPage {
	RTCPeerConnection: PeerConnectionClass;
	tribunePeerConnections: { pc: PagePeerConnection; config: { iceServers?: { username?: string }[] } | undefined }[];
}

/** Before any page script: keep every RTCPeerConnection the page makes, and the configuration it was made with. */
export async function watchPeerConnections(page: Page): Promise<void> {
	await page.addInitScript(() => {
		const page = globalThis as unknown as WatchedPage;
		const Native = page.RTCPeerConnection;
		page.tribunePeerConnections = [];
		page.RTCPeerConnection = class extends Native {
			constructor(config?: { iceServers?: { username?: string }[] }) {
				super(config);
				page.tribunePeerConnections.push({ pc: this, config });
			}
		};
	});
}

/** How one peer connection's media flows: its selected candidate pair, as Chromium's getStats reports it. */
export interface IcePath {
	/** host, srflx, prflx or relay. */
	localType: string;
	/** udp or tcp: between the browser and the first hop (the media server, or the TURN server when relayed). */
	localProtocol: string;
	/** For a relay candidate: how the browser reaches the TURN server (udp, tcp or tls). */
	relayProtocol: string | undefined;
	remoteAddress: string;
	remotePort: number;
	remoteProtocol: string;
	/** The TURN usernames the page's connections were configured with. */
	turnUsernames: string[];
}

/** The selected path of every connected peer connection of the page. */
export function icePaths(page: Page): Promise<IcePath[]> {
	return page.evaluate(async () => {
		type Stat = Record<string, unknown> & { type: string; id: string };
		const made = (globalThis as unknown as WatchedPage).tribunePeerConnections;
		const out: IcePath[] = [];
		for (const { pc, config } of made) {
			if (pc.connectionState !== 'connected') continue;
			const stats = new Map<string, Stat>();
			(await pc.getStats()).forEach((s) => stats.set(s.id, s));
			const transport = [...stats.values()].find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string');
			const pair = transport && stats.get(transport.selectedCandidatePairId as string);
			const local = pair && stats.get(pair.localCandidateId as string);
			const remote = pair && stats.get(pair.remoteCandidateId as string);
			if (!local || !remote) continue;
			out.push({
				localType: String(local.candidateType),
				localProtocol: String(local.protocol),
				relayProtocol: local.relayProtocol === undefined ? undefined : String(local.relayProtocol),
				remoteAddress: String(remote.address),
				remotePort: Number(remote.port),
				remoteProtocol: String(remote.protocol),
				turnUsernames: (config?.iceServers ?? []).map((server) => String(server.username ?? '')),
			});
		}
		return out;
	});
}
