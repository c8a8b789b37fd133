import type { Page } from 'playwright-core';

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
