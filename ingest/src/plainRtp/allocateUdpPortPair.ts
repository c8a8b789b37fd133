import dgram from 'node:dgram';

/** An RTP port and its RTCP port (always rtpPort + 1, as ffmpeg's RTP demuxer binds P and P+1). */
export interface UdpPortPair {
	rtpPort: number;
	rtcpPort: number;
}

export interface AllocateUdpPortPairOptions {
	/** Address the pair must be free on. Default 127.0.0.1. */
	host?: string;
	/** Lowest even port to hand out. Default 20000 (below mediasoup's default 40000-49999 range). */
	minPort?: number;
	/** Highest port to hand out. Default 29999. */
	maxPort?: number;
	/** Pairs to probe before giving up. Default 200. */
	maxAttempts?: number;
}

/** Pairs handed out by this process and not yet released: two ffmpeg processes started together must not collide. */
const reserved = new Set<number>();

/**
 * Finds an even port P such that UDP P and P+1 are both free on `host`, and reserves it in this process until
 * `release()`. ffmpeg receiving RTP binds P for RTP and P+1 for RTCP; mediasoup sends RTCP to `rtcpPort`.
 */
export async function allocateUdpPortPair(options: AllocateUdpPortPairOptions = {}): Promise<UdpPortPair & { release(): void }> {
	const host = options.host ?? '127.0.0.1';
	const minPort = options.minPort ?? 20000;
	const maxPort = options.maxPort ?? 29999;
	const maxAttempts = options.maxAttempts ?? 200;
	const pairs = Math.floor((maxPort - minPort) / 2);
	if (pairs < 1) throw new RangeError(`allocateUdpPortPair: no even port pair fits in ${minPort}-${maxPort}`);
	const first = Math.floor(Math.random() * pairs);
	for (let attempt = 0; attempt < Math.min(maxAttempts, pairs); attempt++) {
		const rtpPort = minPort + (minPort % 2) + 2 * ((first + attempt) % pairs);
		if (reserved.has(rtpPort)) continue;
		if ((await isUdpPortFree(host, rtpPort)) && (await isUdpPortFree(host, rtpPort + 1))) {
			reserved.add(rtpPort);
			let released = false;
			return {
				rtpPort,
				rtcpPort: rtpPort + 1,
				release() {
					if (released) return;
					released = true;
					reserved.delete(rtpPort);
				},
			};
		}
	}
	throw new Error(`allocateUdpPortPair: no free UDP port pair on ${host} in ${minPort}-${maxPort} after ${maxAttempts} tries`);
}

function isUdpPortFree(host: string, port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
		socket.once('error', () => {
			socket.close();
			resolve(false);
		});
		socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)));
	});
}
